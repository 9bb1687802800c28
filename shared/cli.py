"""Operator commands: ``python -m shared.cli seed-demo`` | ``reencrypt-tokens``."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.access import repository as access_repository
from shared.access.models import Membership
from shared.access.principal import Grant, Principal
from shared.access.roles import ROLE_SCOPE, Role, ScopeType
from shared.brands import service as brand_service
from shared.brands.models import Brand
from shared.brands.schemas import BrandCreate
from shared.config import Settings, get_settings
from shared.crypto import keyring_from_settings
from shared.db import Database
from shared.db.tenancy import set_tenant
from shared.demo import DEMO_AGENCY, DEMO_BRAND, DEMO_EMAIL, DEMO_LOCATIONS, DEMO_MEMBERS
from shared.demo_connect import DEMO_PLATFORMS, connect_demo
from shared.identity import passwords
from shared.identity import service as identity_service
from shared.identity.models import User
from shared.identity.schemas import SignUpIn
from shared.ids import new_id
from shared.locations import repository as location_repository
from shared.locations import service as location_service
from shared.locations.models import LocationGroup
from shared.locations.schemas import GroupMembersChange, LocationCreate, LocationGroupCreate
from shared.social_accounts import refresh
from shared.templates import service as template_service
from shared.templates.models import Template
from shared.templates.schemas import MediaIn, TemplateCreate


async def seed_demo(settings: Settings, password: str) -> Principal:
    """Idempotent: creates what is missing and resets the demo owner's password."""
    db = Database(settings.app_db_url, pool_size=2)
    try:
        async with db.transaction() as session:
            user = (
                await session.execute(select(User).where(User.email == DEMO_EMAIL))
            ).scalar_one_or_none()
            if user is None:
                data = SignUpIn(
                    agency_name=DEMO_AGENCY,
                    full_name="Demo Owner",
                    email=DEMO_EMAIL,
                    password=password,
                )
                agency, pair = await identity_service.sign_up(
                    session, settings, data, identity_service.ClientInfo()
                )
                agency_id, user_id = agency.id, pair.user_id
            else:
                user.password_hash = passwords.hash_password(password)
                await set_tenant(session, None, user.id)
                agency_id = (await access_repository.agencies_of_user(session, user.id))[0]
                user_id = user.id
        principal = Principal(
            agency_id=agency_id,
            user_id=user_id,
            grants=(Grant(Role.OWNER, ScopeType.AGENCY),),
        )
        async with db.transaction(agency_id, user_id) as session:
            brand_id = await _seed_brand(session, principal)
            await _seed_members(session, principal, brand_id, password)
            await _seed_template(session, principal, brand_id)
        return principal
    finally:
        await db.dispose()


DEMO_TEMPLATE = "Pizza night"


async def _seed_template(session: AsyncSession, principal: Principal, brand_id: uuid.UUID) -> None:
    """A published template the demo's brand manager can launch a campaign with at once.
    Instagram needs a photo (the sandbox checks it is an http(s) URL, never fetches it)."""
    exists = (
        await session.execute(
            select(Template.id).where(
                Template.agency_id == principal.agency_id,
                Template.brand_id == brand_id,
                Template.name == DEMO_TEMPLATE,
            )
        )
    ).scalar_one_or_none()
    if exists is not None:
        return
    template, version = await template_service.create_template(
        session,
        principal,
        TemplateCreate(
            brand_id=brand_id,
            name=DEMO_TEMPLATE,
            description="Launch it to every demo location: POST /v1/campaigns",
            bodies={
                "default": "Pizza night at {{ location.name }}, {{ location.city }}! "
                "{{ campaign.offer }} #SliceAndCo"
            },
            media={
                "instagram": [
                    MediaIn(
                        kind="image",
                        url="https://images.demo.chorus.example/pizza-night.jpg",
                        width=1080,
                        height=1080,
                    )
                ]
            },
        ),
    )
    await template_service.publish_version(session, principal, template.id, version.version)


async def _seed_members(
    session: AsyncSession, principal: Principal, brand_id: uuid.UUID, password: str
) -> None:
    """The demo brand manager and location managers, all with the demo password."""
    password_hash = passwords.hash_password(password)
    for member in DEMO_MEMBERS:
        user = (
            await session.execute(select(User).where(User.email == member.email))
        ).scalar_one_or_none()
        if user is None:
            user = User(email=member.email, full_name=member.full_name, password_hash=password_hash)
            session.add(user)
            await session.flush()
        else:
            user.password_hash = password_hash
        scope_id = brand_id
        if member.location_ref is not None:
            location_id = await location_repository.external_ref_owner(
                session, principal, brand_id, member.location_ref
            )
            assert location_id is not None
            scope_id = location_id
        role = Role(member.role)
        await session.execute(
            insert(Membership)
            .values(
                agency_id=principal.agency_id,
                id=new_id(),
                user_id=user.id,
                role=role.value,
                scope_type=ROLE_SCOPE[role].value,
                scope_id=scope_id,
            )
            .on_conflict_do_nothing()
        )


async def _seed_brand(session: AsyncSession, principal: Principal) -> uuid.UUID:
    brand = (
        await session.execute(
            select(Brand).where(Brand.agency_id == principal.agency_id, Brand.name == DEMO_BRAND)
        )
    ).scalar_one_or_none()
    if brand is None:
        brand = await brand_service.create_brand(
            session,
            principal,
            BrandCreate(name=DEMO_BRAND, description="Neighbourhood pizza, 25 demo locations."),
        )
    groups: dict[str, LocationGroup] = {}
    for name in sorted({g for loc in DEMO_LOCATIONS for g in loc.groups}):
        existing = (
            await session.execute(
                select(LocationGroup).where(
                    LocationGroup.agency_id == principal.agency_id,
                    LocationGroup.brand_id == brand.id,
                    LocationGroup.name == name,
                )
            )
        ).scalar_one_or_none()
        groups[name] = existing or await location_service.create_group(
            session, principal, LocationGroupCreate(brand_id=brand.id, name=name)
        )
    for demo in DEMO_LOCATIONS:
        location_id = await location_repository.external_ref_owner(
            session, principal, brand.id, demo.ref
        )
        if location_id is None:
            location = await location_service.create_location(
                session,
                principal,
                LocationCreate(
                    brand_id=brand.id,
                    external_ref=demo.ref,
                    name=f"Slice & Co {demo.city}",
                    city=demo.city,
                    region=demo.region,
                    country=demo.country,
                    time_zone=demo.time_zone,
                    phone=demo.phone,
                    website=f"https://slice.example/{demo.ref}",
                    custom_fields={"store_number": demo.ref.upper(), "delivery": True},
                ),
            )
            location_id = location.id
        for group_name in demo.groups:
            await location_service.change_members(
                session,
                principal,
                groups[group_name].id,
                GroupMembersChange(location_ids=[location_id]),
                add=True,
            )
    return brand.id


def _seed_demo_command(settings: Settings) -> int:
    if settings.env == "production":
        print("seed-demo refuses to run in production", file=sys.stderr)
        return 2
    password = os.environ.get("CHORUS_DEMO_PASSWORD") or secrets.token_urlsafe(12)
    principal = asyncio.run(seed_demo(settings, password))
    base = settings.public_base_url
    print(
        "\n".join(
            [
                "",
                "  Demo agency ready "
                f"({DEMO_AGENCY}: brand '{DEMO_BRAND}', {len(DEMO_LOCATIONS)} locations)",
                f"    {'owner':<16}: {DEMO_EMAIL}",
                *[
                    f"    {m.role.replace('_', ' '):<16}: {m.email}"
                    + (f" ({m.location_ref})" if m.location_ref else "")
                    for m in DEMO_MEMBERS
                ],
                f"    {'password':<16}: {password}   (the same for every demo login)",
                f"    {'agency id':<16}: {principal.agency_id}",
                f"    {'try it':<16}: curl -s -X POST {base}/v1/auth/login "
                "-H 'Content-Type: application/json' "
                f'-d \'{{"email": "{DEMO_EMAIL}", "password": "{password}"}}\'',
                "",
            ]
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("seed-demo", help="create or refresh the demo agency and print its login")
    sub.add_parser(
        "demo-connect",
        help="connect the demo locations' social accounts through the platform sandbox "
        "(make run does this once the sandbox is up)",
    )
    sub.add_parser(
        "reencrypt-tokens",
        help="re-seal every social account's tokens under the active key of CHORUS_TOKEN_KEYS "
        "(after adding a new key in front); safe while Chorus runs",
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.command == "seed-demo":
        return _seed_demo_command(settings)
    if args.command == "demo-connect":
        done = asyncio.run(connect_demo(settings))
        print(
            f"  demo: {done.accounts} social accounts connected through the sandbox for "
            f"{done.locations} locations ({', '.join(DEMO_PLATFORMS)}); the worker backfills "
            "30 days of metrics for each"
        )
        return 0
    if args.command == "reencrypt-tokens":
        return asyncio.run(_reencrypt_command(settings))
    return 2


async def _reencrypt_command(settings: Settings) -> int:
    keyring = keyring_from_settings(settings)
    db = Database(settings.app_db_url, pool_size=2)
    try:
        seen, changed = await refresh.reseal_all(db, settings)
    finally:
        await db.dispose()
    print(
        f"re-encrypted the tokens of {changed} of {seen} social accounts under key "
        f"'{keyring.active_kid}'; the others already were. Retire an old key only once no "
        "account uses it (token_key_id)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
