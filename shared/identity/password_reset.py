"""Forgot password: a mail with a one-time link that expires, then a new password.

Asking answers the same whether or not the address has an account (the route says 202
either way, and only an existing, active account with an agency gets a mail). The token is
shown once, in the mail; only its SHA-256 digest is stored. A new request supersedes the
user's earlier unused links. Using a link sets the password and ends every session of the
user: whoever had the old password is signed out everywhere."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import datetime, timedelta

import structlog
from arq.connections import ArqRedis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.access import repository as access_repository
from shared.audit import service as audit
from shared.config import Settings
from shared.db.tenancy import set_tenant
from shared.errors import BadRequest, FieldProblem, ValidationFailed
from shared.identity import passwords, sessions, tokens
from shared.identity.models import PasswordReset, User
from shared.mail import service as mail

RESET_PREFIX = "cpr_"
RESET_TTL = timedelta(minutes=30)
MAIL_KIND = "password_reset"

log = structlog.get_logger("chorus.identity")


def _new_token() -> tuple[str, bytes]:
    token = RESET_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    return token, tokens.refresh_token_digest(token)


def reset_mail_body(settings: Settings, token: str) -> str:
    minutes = int(RESET_TTL.total_seconds() // 60)
    return (
        "Someone (we hope you) asked to reset your Chorus password.\n\n"
        f"Choose a new password within {minutes} minutes; the link works once:\n"
        f"{settings.public_base_url}/reset-password?token={token}\n\n"
        f"(API: POST {settings.public_base_url}/v1/auth/password/reset with this token.)\n"
        f"Reset token: {token}\n\n"
        "If you did not ask, ignore this mail: your password stays as it is.\n"
    )


async def request_reset(
    session: AsyncSession,
    settings: Settings,
    redis: ArqRedis | None,
    email: str,
    ip: str | None,
) -> None:
    """Mails a reset link to an existing, active account; does nothing visible otherwise."""
    user = (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()
    if user is None or not user.is_active:
        return
    await set_tenant(session, None, user.id)
    agencies = await access_repository.agencies_of_user(session, user.id)
    if not agencies:
        return
    now = clock.now()
    await session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    token, digest = _new_token()
    session.add(
        PasswordReset(user_id=user.id, token_hash=digest, expires_at=now + RESET_TTL, created_ip=ip)
    )
    # The outbox is a tenant table: the mail is filed under the person's first agency.
    await set_tenant(session, agencies[0], user.id)
    mail.queue(
        session,
        redis,
        agency_id=agencies[0],
        to=user.email,
        subject="Reset your Chorus password",
        body=reset_mail_body(settings, token),
        kind=MAIL_KIND,
    )
    await session.flush()
    log.info("auth.password_reset_requested", user_id=str(user.id))


def _refuse_unusable(row: PasswordReset | None, now: datetime) -> PasswordReset:
    if row is None or row.used_at is not None:
        raise BadRequest(
            "this reset link is not valid or was already used; ask for a new one "
            "with POST /v1/auth/password/forgot",
            code="invalid_reset_token",
        )
    if row.expires_at <= now:
        raise BadRequest(
            "this reset link expired; ask for a new one with POST /v1/auth/password/forgot",
            code="reset_token_expired",
        )
    return row


async def check_link(session: AsyncSession, token: str) -> None:
    """The checks ``reset`` makes of the link, without spending it: the page a mailed link
    opens says at once that it is used or expired (mail scanners open links too)."""
    digest = tokens.refresh_token_digest(token)
    row = (
        await session.execute(select(PasswordReset).where(PasswordReset.token_hash == digest))
    ).scalar_one_or_none()
    _refuse_unusable(row, clock.now())


async def reset(session: AsyncSession, token: str, new_password: str) -> list[uuid.UUID]:
    """Spends the link, sets the password and ends every session of the user (returned)."""
    found = (
        await session.execute(
            select(PasswordReset)
            .where(PasswordReset.token_hash == tokens.refresh_token_digest(token))
            .with_for_update()
        )
    ).scalar_one_or_none()
    now = clock.now()
    row = _refuse_unusable(found, now)
    user = (
        await session.execute(select(User).where(User.id == row.user_id).with_for_update())
    ).scalar_one()
    problem = passwords.password_problem(new_password, user.email)
    if problem:
        raise ValidationFailed(problem, errors=[FieldProblem("body.new_password", problem, "weak")])
    row.used_at = now
    user.password_hash = passwords.hash_password(new_password)
    ended = await sessions.revoke_all_but(session, user.id, keep=None)
    await set_tenant(session, None, user.id)
    for agency_id in await access_repository.agencies_of_user(session, user.id):
        await set_tenant(session, agency_id, user.id)
        audit.record(
            session,
            agency_id=agency_id,
            actor=audit.Actor("user", user.id),
            action="auth.password_reset",
            object_type="user",
            object_id=user.id,
        )
        await session.flush()
    return ended
