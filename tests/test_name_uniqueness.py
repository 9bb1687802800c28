"""Brand and template names are unique case-insensitively, by one rule (``shared.brands.names``)
that the application and the database's unique index share, whatever the database's locale."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from shared.brands.models import Brand
from shared.brands.names import name_key
from tests.conftest import _admin_execute, _server_url, drop_database, migrate
from tests.factories import Tenant, create_brand, sign_up

# (the name first created, another spelling of it: the same name, a 409)
SAME = [
    ("Café Central", "CAFÉ CENTRAL"),
    ("Café Central", "cafe\u0301 central"),  # e + combining acute accent
    ("Öl & Essig", "öl & essig"),
    ("Straße 5", "STRASSE 5"),
    ("Straße 5", "strasse 5"),
    ("İstanbul Kebab", "i\u0307stanbul kebab"),  # i + combining dot above
    ("Ｃａｆé", "Café"),  # full-width letters
    ("Pizza Nord", "  pizza nord "),
]
# (a name, a name that is not the same: both 201)
DIFFERENT = [
    ("İstanbul Kebab", "istanbul kebab"),  # the Turkish capital İ keeps its dot
    ("Istanbul Kebab", "ıstanbul kebab"),  # dotless ı is its own letter
    ("Cafe Central", "Café Central"),
    ("Ol & Essig", "Öl & Essig"),
]


def test_the_rule() -> None:
    assert name_key("Straße") == name_key("STRASSE") == "strasse"
    assert name_key("İ") == "i\u0307" != name_key("I")
    assert name_key("CAFE\u0301") == name_key("café") == "caf\u00e9"


@pytest.mark.parametrize(("first", "second"), SAME)
async def test_same_brand_name_in_another_spelling_is_409(
    client: httpx.AsyncClient, first: str, second: str
) -> None:
    owner = await sign_up(client)
    other = await sign_up(client)
    await create_brand(client, owner, first)
    dup = await client.post("/v1/brands", json={"name": second}, headers=owner.headers)
    assert dup.status_code == 409, dup.text
    assert dup.headers["content-type"] == "application/problem+json"
    body = dup.json()
    assert body["code"] == "brand_name_taken"
    assert [e["field"] for e in body["errors"]] == ["body.name"]
    # another agency may have it
    await create_brand(client, other, second)
    # and renaming another brand to it is refused the same way
    spare = await create_brand(client, owner, "Spare")
    renamed = await client.patch(
        f"/v1/brands/{spare['id']}", json={"name": second}, headers=owner.headers
    )
    assert renamed.status_code == 409
    assert renamed.json()["code"] == "brand_name_taken"
    names = {
        b["name"] for b in (await client.get("/v1/brands", headers=owner.headers)).json()["items"]
    }
    assert names == {first.strip(), "Spare"}


@pytest.mark.parametrize(("first", "second"), DIFFERENT)
async def test_different_names_are_both_kept(
    client: httpx.AsyncClient, first: str, second: str
) -> None:
    owner = await sign_up(client)
    await create_brand(client, owner, first)
    await create_brand(client, owner, second)


async def test_a_brand_may_change_the_case_of_its_own_name(client: httpx.AsyncClient) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner, "strasse")
    renamed = await client.patch(
        f"/v1/brands/{brand['id']}", json={"name": "Straße"}, headers=owner.headers
    )
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Straße"


async def _template(
    client: httpx.AsyncClient, tenant: Tenant, brand_id: str, name: str
) -> httpx.Response:
    return await client.post(
        "/v1/templates",
        json={"brand_id": brand_id, "name": name, "bodies": {"default": "Hello"}},
        headers=tenant.headers,
    )


@pytest.mark.parametrize(("first", "second"), SAME)
async def test_same_template_name_in_the_brand_is_409(
    client: httpx.AsyncClient, first: str, second: str
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    other_brand = await create_brand(client, owner)
    assert (await _template(client, owner, brand["id"], first)).status_code == 201
    dup = await _template(client, owner, brand["id"], second)
    assert dup.status_code == 409, dup.text
    assert dup.json()["code"] == "template_name_taken"
    assert [e["field"] for e in dup.json()["errors"]] == ["body.name"]
    # the name is per brand
    assert (await _template(client, owner, other_brand["id"], second)).status_code == 201
    listed = await client.get(f"/v1/templates?brand_id={brand['id']}", headers=owner.headers)
    assert [t["name"] for t in listed.json()["items"]] == [first.strip()]


async def _at_once(calls: list[Any]) -> list[int]:
    return sorted(r.status_code for r in await asyncio.gather(*calls))


async def test_two_requests_creating_one_name_at_once(client: httpx.AsyncClient) -> None:
    """Neither request can see the other's uncommitted row: the unique index decides, and the
    loser is a 409 like any duplicate, not a 500."""
    owner = await sign_up(client)
    for _ in range(3):
        tag = uuid.uuid4().hex[:6]
        codes = await _at_once(
            [
                client.post("/v1/brands", json={"name": f"Straße {tag}"}, headers=owner.headers),
                client.post("/v1/brands", json={"name": f"STRASSE {tag}"}, headers=owner.headers),
            ]
        )
        assert codes == [201, 409]
    brand = await create_brand(client, owner)
    codes = await _at_once(
        [
            _template(client, owner, brand["id"], "Öffnungszeiten"),
            _template(client, owner, brand["id"], "ÖFFNUNGSZEITEN"),
        ]
    )
    assert codes == [201, 409]


async def test_migration_keys_existing_names_on_a_c_locale_database() -> None:
    """On a database whose ``lower()`` leaves É alone (LC_CTYPE C), the migration gives
    existing rows their key, renames the later of two names that now collide, and the index
    refuses another spelling afterwards."""
    server = _server_url()
    name = f"chorus_names_{uuid.uuid4().hex[:8]}"
    await _admin_execute(
        server,
        f"CREATE DATABASE \"{name}\" TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'",
    )
    url = server.set(database=name)
    engine = create_async_engine(url)
    try:
        await migrate(url, "0018")
        agency = uuid.uuid4()
        async with engine.begin() as conn:
            assert (await conn.execute(text("SELECT lower('É')"))).scalar_one() == "É"
            await conn.execute(
                text("INSERT INTO agency (id, name) VALUES (:id, 'A')"), {"id": agency}
            )
            for i, brand_name in enumerate(["Straße", "STRASSE", "Café", "CAFÉ", "Other"]):
                await conn.execute(
                    text(
                        "INSERT INTO brand (agency_id, id, name, created_at) "
                        "VALUES (:a, :id, :name, now() + make_interval(secs => :i))"
                    ),
                    {"a": agency, "id": uuid.uuid4(), "name": brand_name, "i": i},
                )
        await migrate(url)
        async with engine.begin() as conn:
            rows = (
                await conn.execute(text("SELECT name, name_key FROM brand ORDER BY created_at"))
            ).all()
            assert [tuple(r) for r in rows] == [
                ("Straße", "strasse"),
                ("STRASSE (2)", "strasse (2)"),
                ("Café", "café"),
                ("CAFÉ (2)", "café (2)"),
                ("Other", "other"),
            ]
        with pytest.raises(IntegrityError, match="uq_brand_agency_id_name_key"):
            async with engine.begin() as conn:
                await conn.execute(insert(Brand).values(agency_id=agency, name="cafe\u0301"))
    finally:
        await engine.dispose()
        await drop_database(server, name)


@pytest.mark.parametrize(
    ("path", "extra"),
    [("/v1/brands", {}), ("/v1/api-keys", {"role": "admin"})],
)
async def test_a_name_of_spaces_only_is_refused_and_spaces_around_are_dropped(
    client: httpx.AsyncClient, path: str, extra: dict[str, Any]
) -> None:
    owner = await sign_up(client)
    for blank in ("   ", "\t \u00a0"):
        refused = await client.post(path, json={"name": blank, **extra}, headers=owner.headers)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["body.name"]
    kept = await client.post(path, json={"name": "  Slice & Co  ", **extra}, headers=owner.headers)
    assert kept.status_code == 201, kept.text
    created = kept.json()
    assert created.get("name", created.get("api_key", {}).get("name")) == "Slice & Co"
