"""Template create answers the template's id (and the version made), ``POST …/versions``
copies with no body and takes create's shape with one, and the README's walkthrough of both,
run literally with bash and curl against the app under uvicorn."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.api.app import create_app
from shared.config import Settings
from tests.conftest import ROOT
from tests.factories import Tenant, create_brand, create_location, sign_up
from tests.support.outages import ApiServer

BODY = "Fresh pizza in {{ location.city }}! {{ slot.offer }}"


async def _create(client: httpx.AsyncClient, tenant: Tenant, brand_id: str) -> dict[str, Any]:
    response = await client.post(
        "/v1/templates",
        json={
            "brand_id": brand_id,
            "name": "Friday",
            "bodies": {"default": BODY},
            "slots": {"offer": {"label": "Offer", "max_length": 40}},
        },
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_create_answers_the_templates_id_and_the_version_made(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    created = await _create(client, owner, str(brand["id"]))
    assert created["id"] == created["template_id"]
    assert created["version_id"] != created["id"]
    assert (created["version"], created["status"], created["name"]) == (1, "draft", "Friday")
    assert created["bodies"] == {"default": BODY}

    template = await client.get(f"/v1/templates/{created['id']}", headers=owner.headers)
    assert template.status_code == 200
    assert template.json()["latest_version"] == 1
    version = await client.get(f"/v1/templates/{created['id']}/versions/1", headers=owner.headers)
    assert version.json()["id"] == created["version_id"]
    published = await client.post(
        f"/v1/templates/{created['id']}/versions/{created['version']}/publish",
        headers=owner.headers,
    )
    assert published.status_code == 200, published.text


@pytest.mark.parametrize(
    "send",
    [
        pytest.param({}, id="no body"),
        pytest.param({"json": {}}, id="empty object"),
        pytest.param({"content": b"", "headers": {"Content-Type": "application/json"}}, id="empty"),
    ],
)
async def test_a_new_version_without_content_copies_the_latest(
    client: httpx.AsyncClient, send: dict[str, Any]
) -> None:
    owner = await sign_up(client)
    other = await sign_up(client)
    brand = await create_brand(client, owner)
    tid = (await _create(client, owner, str(brand["id"])))["id"]
    headers = {**owner.headers, **send.pop("headers", {})}
    copy = await client.post(f"/v1/templates/{tid}/versions", headers=headers, **send)
    assert copy.status_code == 201, copy.text
    assert (copy.json()["version"], copy.json()["status"]) == (2, "draft")
    assert copy.json()["bodies"] == {"default": BODY}
    assert copy.json()["slots"]["offer"]["max_length"] == 40
    stranger = await client.post(f"/v1/templates/{tid}/versions", headers=other.headers)
    assert stranger.status_code == 404


async def test_a_new_version_takes_creates_shape_and_the_older_one(
    client: httpx.AsyncClient,
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    tid = (await _create(client, owner, str(brand["id"])))["id"]
    url = f"/v1/templates/{tid}/versions"

    flat = await client.post(
        url, json={"bodies": {"default": "Hello {{ location.city }}"}}, headers=owner.headers
    )
    assert flat.status_code == 201, flat.text
    assert (flat.json()["version"], flat.json()["bodies"]) == (
        2,
        {"default": "Hello {{ location.city }}"},
    )
    assert flat.json()["slots"] == {}  # the content given, not a merge with the latest

    wrapped = await client.post(
        url, json={"content": {"bodies": {"default": "Hi"}}}, headers=owner.headers
    )
    assert (wrapped.status_code, wrapped.json()["version"]) == (201, 3)

    both = await client.post(
        url,
        json={"bodies": {"default": "a"}, "content": {"bodies": {"default": "b"}}},
        headers=owner.headers,
    )
    assert both.status_code == 422
    assert [e["field"] for e in both.json()["errors"]] == ["body.content"]

    no_bodies = await client.post(
        url, json={"slots": {"offer": {"label": "Offer"}}}, headers=owner.headers
    )
    assert no_bodies.status_code == 422
    assert [e["field"] for e in no_bodies.json()["errors"]] == ["body.bodies"]

    bad_key = await client.post(url, json={"bodies": {"myspace": "x"}}, headers=owner.headers)
    assert bad_key.status_code == 422
    assert "myspace" in bad_key.text

    broken = await client.post(url, json={"bodies": {"default": "{{ oops"}}, headers=owner.headers)
    assert broken.status_code == 422
    latest = await client.get(f"/v1/templates/{tid}", headers=owner.headers)
    assert latest.json()["latest_version"] == 3  # nothing saved by the refused ones


# The README, run as written ------------------------------------------------------------------


def _readme_part(start: str, stop: str) -> str:
    text = (ROOT / "README.md").read_text()
    assert start in text, f"the README no longer has {start!r}"
    begin = text.index(start)
    assert stop in text[begin:], f"the README no longer has {stop!r} after {start!r}"
    return text[begin : text.index(stop, begin)]


@pytest.fixture
def api_server(settings: Settings) -> Iterator[str]:
    server = ApiServer(create_app(settings)).start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


async def _bash(script: str, **env: str) -> str:
    bash = shutil.which("bash")
    assert bash is not None
    assert shutil.which("curl") is not None
    process = await asyncio.create_subprocess_exec(
        bash,
        "-c",
        "set -euo pipefail\n" + script,
        env={"PATH": os.environ["PATH"], **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, f"{err.decode()}\n{out.decode()}"
    return out.decode()


def _values(output: str) -> dict[str, str]:
    lines = [line for line in output.splitlines() if "=" in line and line.startswith("@")]
    return dict(line[1:].split("=", 1) for line in lines)


async def test_the_readmes_login_and_token_refresh_work_as_written(api_server: str) -> None:
    part = _readme_part("# Sign up a new agency", "\n# Sessions:")
    assert "/v1/auth/refresh" in part
    output = await _bash(
        part
        + """
FIRST=$(echo "$LOGIN" | python3 -c 'import json,sys; print(json.load(sys.stdin)["refresh_token"])')
printf '\\n@first=%s\\n' "$FIRST"
printf '@me=%s\\n' "$(curl -s -o /dev/null -w '%{http_code}' $API/v1/me -H "$AUTH")"
""",
        API=api_server,
    )
    values = _values(output)
    assert values["me"] == "200"
    async with httpx.AsyncClient(base_url=api_server) as http:
        # The README's refresh spent the login's refresh token.
        spent = await http.post("/v1/auth/refresh", json={"refresh_token": values["first"]})
        assert spent.status_code == 401
        login = await http.post(
            "/v1/auth/login",
            json={"email": "ada@northwind.example", "password": "a long passphrase"},
        )
        assert login.status_code == 200, login.text


async def test_the_readmes_template_walkthrough_works_as_written(
    api_server: str, client: httpx.AsyncClient
) -> None:
    owner = await sign_up(client)
    brand = await create_brand(client, owner)
    await create_location(client, owner, brand["id"], city="Brooklyn")
    part = _readme_part("# Brand rules, a template with a slot", "\n# A location manager posts")
    output = await _bash(
        part + '\nprintf \'\\n@TEMPLATE=%s\\n@LOCATION=%s\\n\' "$TEMPLATE" "$LOCATION"\n',
        API=api_server,
        AUTH=f"Authorization: Bearer {owner.access_token}",
        BRAND=str(brand["id"]),
    )
    values = _values(output)
    assert '"status":4' not in output.replace(" ", "")  # no problem answer along the way
    template = await client.get(f"/v1/templates/{values['TEMPLATE']}", headers=owner.headers)
    assert template.status_code == 200, output
    assert (template.json()["published_version"], template.json()["latest_version"]) == (1, 2)
    draft = await client.get(
        f"/v1/templates/{values['TEMPLATE']}/versions/2", headers=owner.headers
    )
    assert draft.json()["status"] == "draft"
    assert "now until 11pm" in draft.json()["bodies"]["default"]
    assert "Fresh pizza in Brooklyn!" in output  # the preview rendered for the location
