"""Tokens in and out of a social-account row: sealed with the active key, bound to the row's
agency, id and field, so an envelope copied to another row or field does not open."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from shared.crypto import Binding, KeyRing, Sealed, decrypt, encrypt, key_id, reencrypt
from shared.platforms.types import AccountAuth, TokenSet
from shared.social_accounts.models import SocialAccount

ACCESS = "social_account.access_token"
REFRESH = "social_account.refresh_token"


def _binding(account: SocialAccount, purpose: str) -> Binding:
    return Binding(purpose=purpose, agency_id=account.agency_id, owner_id=account.id)


def store_tokens(
    account: SocialAccount,
    keyring: KeyRing,
    *,
    access_token: Sealed,
    refresh_token: Sealed | None,
    expires_at: datetime | None,
    refresh_expires_at: datetime | None,
) -> None:
    """Seal and set the tokens. A missing refresh token keeps the stored one: nothing ever
    replaces a refresh token with nothing (the platform may simply not have rotated it)."""
    account.access_token = encrypt(access_token, _binding(account, ACCESS), keyring)
    if refresh_token:
        account.refresh_token = encrypt(refresh_token, _binding(account, REFRESH), keyring)
        account.refresh_expires_at = refresh_expires_at
    elif account.refresh_token is not None:
        account.refresh_token = reencrypt(
            account.refresh_token, _binding(account, REFRESH), keyring
        )
    account.token_key_id = keyring.active_kid
    account.token_expires_at = expires_at


def token_set(account: SocialAccount, keyring: KeyRing) -> TokenSet:
    if account.access_token is None:
        raise ValueError("this account holds no tokens (disconnected)")
    refresh = (
        decrypt(account.refresh_token, _binding(account, REFRESH), keyring)
        if account.refresh_token
        else None
    )
    return TokenSet(
        access_token=decrypt(account.access_token, _binding(account, ACCESS), keyring),
        refresh_token=refresh,
        expires_at=account.token_expires_at,
        refresh_expires_at=account.refresh_expires_at,
        scopes=tuple(account.scopes),
    )


def account_auth(account: SocialAccount, keyring: KeyRing) -> AccountAuth:
    """What a connector needs to act for this account."""
    if account.access_token is None:
        raise ValueError("this account holds no tokens (disconnected)")
    return auth_from(
        account.agency_id,
        account.id,
        account.access_token,
        account.external_id,
        account.extra,
        keyring,
    )


def auth_from(
    agency_id: uuid.UUID,
    account_id: uuid.UUID,
    access_envelope: str,
    external_id: str,
    extra: dict[str, Any],
    keyring: KeyRing,
) -> AccountAuth:
    """``account_auth`` from the row's columns (for set-based readers like the publisher)."""
    binding = Binding(purpose=ACCESS, agency_id=agency_id, owner_id=account_id)
    return AccountAuth(
        external_id=external_id,
        access_token=decrypt(access_envelope, binding, keyring),
        extra={str(k): str(v) for k, v in extra.items()},
    )


def reseal(account: SocialAccount, keyring: KeyRing) -> bool:
    """Re-encrypt the row's tokens under the active key; False when they already were."""
    changed = False
    for field, purpose in (("access_token", ACCESS), ("refresh_token", REFRESH)):
        envelope = getattr(account, field)
        if envelope is None or key_id(envelope) == keyring.active_kid:
            continue
        setattr(account, field, reencrypt(envelope, _binding(account, purpose), keyring))
        changed = True
    if changed:
        account.token_key_id = keyring.active_kid
    return changed


def wipe(account: SocialAccount) -> None:
    account.access_token = None
    account.refresh_token = None
    account.token_key_id = None
    account.token_expires_at = None
    account.refresh_expires_at = None
