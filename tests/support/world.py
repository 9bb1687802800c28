"""Agencies full of people at every scope, for authorization tests.

Rows go straight into the database through the admin engine (one precomputed argon2 hash,
no sign-up round trips); each person gets an access token minted for their agency, which
works because the API reads grants from the database on every request. The invitation and
the API key are made through the public API, as the owner would.

Every build makes a new agency with fresh ids, so a test can rebuild after a destructive
call without cleaning up.
"""

from __future__ import annotations

import base64
import functools
import io
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from shared.access.models import Membership
from shared.access.roles import ROLE_SCOPE, Role, ScopeType
from shared.agencies.models import Agency
from shared.brands.models import Brand
from shared.config import Settings
from shared.crypto import Sealed, keyring_from_settings
from shared.identity import passwords, tokens
from shared.identity.models import RefreshToken, User
from shared.ids import new_id
from shared.locations.models import Location, LocationGroup, LocationGroupMember
from shared.reviews.models import AutoReplyRule, Review, ReviewSource
from shared.social_accounts import sealing
from shared.social_accounts.models import SocialAccount

PASSWORD = "correct horse battery staple"


@functools.cache
def password_hash() -> str:
    """argon2 is deliberately slow: hash once per test session."""
    return passwords.hash_password(PASSWORD)


@dataclass(frozen=True)
class Place:
    """Where something sits: in an agency, optionally in a brand, optionally at a location."""

    agency_id: uuid.UUID
    brand_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Actor:
    """A user with exactly one membership, and a token for that membership's agency."""

    name: str
    user_id: uuid.UUID
    email: str
    membership_id: uuid.UUID
    role: Role
    place: Place
    """Where the grant is: agency-wide, a brand, or a location (with the location's brand)."""
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def scope_type(self) -> ScopeType:
        return ROLE_SCOPE[self.role]


@dataclass(frozen=True)
class AgencyA:
    """Brand X (locations L1 in group G1, and L2) and brand Y (L3), people at every scope,
    a pending invitation I (brand_viewer at X), an admin API key K, and the membership M
    of location_staff@L1."""

    agency_id: uuid.UUID
    brand_x: uuid.UUID
    brand_y: uuid.UUID
    l1: uuid.UUID
    l2: uuid.UUID
    l3: uuid.UUID
    g1: uuid.UUID
    invitation_id: uuid.UUID
    api_key_id: uuid.UUID
    template_id: uuid.UUID
    post_id: uuid.UUID
    social_account_id: uuid.UUID
    campaign_id: uuid.UUID
    review_id: uuid.UUID
    auto_reply_rule_id: uuid.UUID
    media_id: uuid.UUID
    """A photo of L1's own library (status processing: no worker runs here)."""
    upload_id: uuid.UUID
    """A resumable upload into L1's library, no byte sent yet."""
    actors: dict[str, Actor]
    secrets: frozenset[str] = field(repr=False)
    """Every id and name of the agency: none may reach someone outside it."""

    @property
    def membership_id(self) -> uuid.UUID:
        return self.actors["location_staff@L1"].membership_id


@dataclass(frozen=True)
class AgencyB:
    agency_id: uuid.UUID
    owner: Actor


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def _token(settings: Settings, user_id: uuid.UUID, agency_id: uuid.UUID) -> tuple[str, Any]:
    """An access token and the live session (a refresh-token row) it names."""
    session_id = uuid.uuid4()
    token, expires = tokens.issue_access_token(
        settings, user_id=user_id, agency_id=agency_id, session_id=session_id
    )
    _, digest = tokens.new_refresh_token()
    session = {
        "id": uuid.uuid4(),
        "user_id": user_id,
        "agency_id": agency_id,
        "family_id": session_id,
        "token_hash": digest,
        "expires_at": expires,
    }
    return token, session


async def _people(
    conn: AsyncConnection,
    settings: Settings,
    agency_id: uuid.UUID,
    tag: str,
    seats: Iterable[tuple[str, Role, Place]],
) -> dict[str, Actor]:
    actors: dict[str, Actor] = {}
    users: list[dict[str, Any]] = []
    memberships: list[dict[str, Any]] = []
    sessions: list[dict[str, Any]] = []
    for name, role, place in seats:
        user_id, membership_id = uuid.uuid4(), uuid.uuid4()
        slug = name.replace("@", "-at-").lower()
        email = f"{slug}-{tag}@bola.example"
        scope_type = ROLE_SCOPE[role]
        scope_id = {
            ScopeType.AGENCY: None,
            ScopeType.BRAND: place.brand_id,
            ScopeType.LOCATION: place.location_id,
        }[scope_type]
        users.append(
            {
                "id": user_id,
                "email": email,
                "full_name": f"{name} {tag}",
                "password_hash": password_hash(),
            }
        )
        memberships.append(
            {
                "agency_id": agency_id,
                "id": membership_id,
                "user_id": user_id,
                "role": role.value,
                "scope_type": scope_type.value,
                "scope_id": scope_id,
            }
        )
        token, session = _token(settings, user_id, agency_id)
        sessions.append(session)
        actors[name] = Actor(
            name=name,
            user_id=user_id,
            email=email,
            membership_id=membership_id,
            role=role,
            place=place,
            token=token,
        )
    await conn.execute(insert(User), users)
    await conn.execute(insert(Membership), memberships)
    await conn.execute(insert(RefreshToken), sessions)
    return actors


async def build_agency_a(
    engine: AsyncEngine, client: httpx.AsyncClient, settings: Settings
) -> AgencyA:
    tag = uuid.uuid4().hex[:8]
    agency = uuid.uuid4()
    x, y, l1, l2, l3, g1 = (uuid.uuid4() for _ in range(6))
    names = {
        "agency": f"Agency A {tag}",
        "x": f"Brand X {tag}",
        "y": f"Brand Y {tag}",
        "l1": f"Location L1 {tag}",
        "l2": f"Location L2 {tag}",
        "l3": f"Location L3 {tag}",
        "g1": f"Group G1 {tag}",
    }
    everywhere = Place(agency)
    at_x, at_y = Place(agency, x), Place(agency, y)
    at_l1 = Place(agency, x, l1)
    async with engine.begin() as conn:
        await conn.execute(insert(Agency).values(id=agency, name=names["agency"]))
        await conn.execute(
            insert(Brand),
            [
                {"agency_id": agency, "id": x, "name": names["x"]},
                {"agency_id": agency, "id": y, "name": names["y"]},
            ],
        )
        await conn.execute(
            insert(Location),
            [
                {
                    "agency_id": agency,
                    "id": location_id,
                    "brand_id": brand_id,
                    "name": names[key],
                    "city": "Springfield",
                    "country": "US",
                    "time_zone": "America/Chicago",
                    "custom_fields": {},
                }
                for key, location_id, brand_id in (("l1", l1, x), ("l2", l2, x), ("l3", l3, y))
            ],
        )
        await conn.execute(
            insert(LocationGroup).values(agency_id=agency, id=g1, brand_id=x, name=names["g1"])
        )
        await conn.execute(
            insert(LocationGroupMember).values(agency_id=agency, group_id=g1, location_id=l1)
        )
        actors = await _people(
            conn,
            settings,
            agency,
            tag,
            [
                ("owner", Role.OWNER, everywhere),
                ("admin", Role.ADMIN, everywhere),
                ("brand_manager@X", Role.BRAND_MANAGER, at_x),
                ("brand_viewer@X", Role.BRAND_VIEWER, at_x),
                ("location_manager@L1", Role.LOCATION_MANAGER, at_l1),
                ("location_staff@L1", Role.LOCATION_STAFF, at_l1),
                ("brand_manager@Y", Role.BRAND_MANAGER, at_y),
            ],
        )
    owner = actors["owner"]
    invitee = f"invitee-{tag}@bola.example"
    invitation = await client.post(
        "/v1/invitations",
        json={"email": invitee, "role": Role.BRAND_VIEWER.value, "brand_id": str(x)},
        headers=owner.headers,
    )
    assert invitation.status_code == 201, invitation.text
    key_name = f"BOLA key {tag}"
    api_key = await client.post(
        "/v1/api-keys", json={"name": key_name, "role": Role.ADMIN.value}, headers=owner.headers
    )
    assert api_key.status_code == 201, api_key.text
    key = api_key.json()
    template_name = f"BOLA template {tag}"
    template = await client.post(
        "/v1/templates",
        json={
            "brand_id": str(x),
            "name": template_name,
            "bodies": {"default": "Hello {{ location.city }}"},
        },
        headers=owner.headers,
    )
    assert template.status_code == 201, template.text
    template_id = template.json()["template_id"]
    published = await client.post(
        f"/v1/templates/{template_id}/versions/1/publish", headers=owner.headers
    )
    assert published.status_code == 200, published.text
    post = await client.post(
        f"/v1/locations/{l1}/posts",
        json={"template_id": template_id, "version": 1, "platforms": ["facebook"]},
        headers=owner.headers,
    )
    assert post.status_code == 201, post.text
    social_account_id = await _insert_social_account(engine, settings, agency, x, l1, tag)
    campaign_name = f"BOLA campaign {tag}"
    campaign = await client.post(
        "/v1/campaigns",
        json={
            "name": campaign_name,
            "brand_id": str(x),
            "template_id": template_id,
            "version": 1,
            "audience": {"kind": "all"},
            "channels": ["facebook"],
            "schedule": {"kind": "local", "date": "2030-01-07", "time": "09:00"},
        },
        headers=owner.headers,
    )
    assert campaign.status_code == 201, campaign.text
    campaign_id = campaign.json()["id"]
    review_id, rule_id, review_secrets = await _insert_reviews(
        engine, agency, x, l1, social_account_id, tag
    )
    media_name = f"BOLA photo {tag}"
    media = await client.post(
        "/v1/media",
        files={"file": ("photo.png", _png(), "image/png")},
        data={"name": media_name, "location_id": str(l1)},
        headers=owner.headers,
    )
    assert media.status_code == 202, media.text
    upload = await client.post(
        "/v1/media/uploads",
        headers={
            **owner.headers,
            "Tus-Resumable": "1.0.0",
            "Upload-Length": "100000",
            "Upload-Metadata": "name "
            + base64.b64encode(media_name.encode()).decode()
            + ",location_id "
            + base64.b64encode(str(l1).encode()).decode(),
        },
    )
    assert upload.status_code == 201, upload.text
    upload_id = uuid.UUID(upload.headers["Location"].rsplit("/", 1)[-1])
    secrets = {
        *review_secrets,
        *names.values(),
        str(social_account_id),
        f"BOLA page {tag}",
        invitee,
        key_name,
        key["prefix"],
        key["key"],
        *(str(i) for i in (agency, x, y, l1, l2, l3, g1)),
        invitation.json()["id"],
        key["id"],
        template_name,
        template_id,
        post.json()[0]["id"],
        campaign_name,
        campaign_id,
        media_name,
        media.json()["id"],
        str(upload_id),
    }
    for actor in actors.values():
        secrets |= {actor.email, f"{actor.name} {tag}", str(actor.user_id)}
        secrets.add(str(actor.membership_id))
    return AgencyA(
        agency_id=agency,
        brand_x=x,
        brand_y=y,
        l1=l1,
        l2=l2,
        l3=l3,
        g1=g1,
        invitation_id=uuid.UUID(invitation.json()["id"]),
        api_key_id=uuid.UUID(key["id"]),
        template_id=uuid.UUID(template_id),
        post_id=uuid.UUID(post.json()[0]["id"]),
        social_account_id=social_account_id,
        campaign_id=uuid.UUID(campaign_id),
        review_id=review_id,
        auto_reply_rule_id=rule_id,
        media_id=uuid.UUID(media.json()["id"]),
        upload_id=upload_id,
        actors=actors,
        secrets=frozenset(secrets),
    )


async def _insert_reviews(
    engine: AsyncEngine,
    agency: uuid.UUID,
    brand: uuid.UUID,
    location: uuid.UUID,
    account: uuid.UUID,
    tag: str,
) -> tuple[uuid.UUID, uuid.UUID, set[str]]:
    """A collected review on L1's Facebook page, L1's attached Yelp business, and an
    auto-reply rule of brand X, written directly."""
    facebook, yelp, review, rule = new_id(), new_id(), new_id(), new_id()
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            insert(ReviewSource),
            [
                {"agency_id": agency, "id": facebook, "brand_id": brand, "location_id": location,
                 "source": "facebook", "account_id": account, "external_id": f"page-{tag}"},
                {"agency_id": agency, "id": yelp, "brand_id": brand, "location_id": location,
                 "source": "yelp", "account_id": None, "external_id": f"yelp-{tag}"},
            ],
        )  # fmt: skip
        await conn.execute(
            insert(Review).values(
                agency_id=agency, id=review, brand_id=brand, location_id=location,
                source_id=facebook, account_id=account, source="facebook",
                external_id=f"review-{tag}", rating=1, text=f"BOLA review {tag}",
                author=f"BOLA reviewer {tag}", created_at=now, updated_at=now,
                sentiment_score=-0.5, sentiment_label="negative", needs_attention=True,
            )
        )  # fmt: skip
        await conn.execute(
            insert(AutoReplyRule).values(
                agency_id=agency, id=rule, brand_id=brand, name=f"BOLA rule {tag}",
                template="Thanks {{ reviewer.first_name }}",
            )
        )  # fmt: skip
    secrets = {str(review), str(rule), str(facebook), str(yelp), f"BOLA review {tag}",
               f"BOLA reviewer {tag}", f"BOLA rule {tag}", f"yelp-{tag}"}  # fmt: skip
    return review, rule, secrets


async def _insert_social_account(
    engine: AsyncEngine,
    settings: Settings,
    agency: uuid.UUID,
    brand: uuid.UUID,
    location: uuid.UUID,
    tag: str,
) -> uuid.UUID:
    """L1's Facebook page, written directly with sealed (made-up) tokens: connecting through
    the sandbox is covered by its own tests and would slow every rebuild of the world."""
    account = SocialAccount(
        id=new_id(),
        agency_id=agency,
        brand_id=brand,
        location_id=location,
        platform="facebook",
        external_id=f"page-{tag}",
        name=f"BOLA page {tag}",
        kind="page",
        status="connected",
        connected_at=datetime.now(UTC),
    )
    sealing.store_tokens(
        account,
        keyring_from_settings(settings),
        access_token=Sealed(f"EAAbola{tag}"),
        refresh_token=None,
        expires_at=None,
        refresh_expires_at=None,
    )
    account_id = account.id
    async with AsyncSession(engine) as session, session.begin():
        session.add(account)
    return account_id


async def build_agency_b(engine: AsyncEngine, settings: Settings) -> AgencyB:
    tag = uuid.uuid4().hex[:8]
    agency = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(insert(Agency).values(id=agency, name=f"Agency B {tag}"))
        actors = await _people(
            conn, settings, agency, tag, [("owner of B", Role.OWNER, Place(agency))]
        )
    return AgencyB(agency_id=agency, owner=actors["owner of B"])
