"""Odd input never gives a 500: U+0000 anywhere, integers beyond the columns, non-ASCII tokens.

The NUL sweep takes every operation from the app's OpenAPI document, so a new route or field
is covered without touching this file: each string field of each JSON body (nested objects,
list items, map keys and values), each query parameter and each path parameter gets a U+0000
in turn, and the answer must be a 422 naming that field."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.api.app import create_app
from shared.config import Settings
from tests.factories import Tenant, create_brand, create_location, sign_up

_SPEC_SETTINGS = Settings(env="test", log_level="WARNING", log_json=True)
SPEC: dict[str, Any] = create_app(_SPEC_SETTINGS).openapi()
_METHODS = ("get", "put", "post", "patch", "delete")
NUL = "\x00"
_MAX_DEPTH = 6

Path = tuple[str | int, ...]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = SPEC["components"]["schemas"][name]
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _resolve({**schema["allOf"][0], **{k: v for k, v in schema.items() if k != "allOf"}})
    return schema


def _options(schema: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _resolve(schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            found = [_resolve(s) for s in schema[key] if _resolve(s).get("type") != "null"]
            return [o for option in found for o in _options(option)]
    return [schema]


def _minimal(schema: dict[str, Any], depth: int = 0) -> Any:
    schema = _options(schema)[0]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > _MAX_DEPTH:
            return {}
        props = schema.get("properties", {})
        return {name: _minimal(props[name], depth + 1) for name in schema.get("required", [])}
    if kind == "array":
        if schema.get("minItems") and "items" in schema:
            return [_minimal(schema["items"], depth + 1)]
        return []
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return 1
    if kind == "boolean":
        return False
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    return "x"


def _with_nul(schema: dict[str, Any], path: Path, depth: int = 0) -> Iterator[tuple[Path, Any]]:
    """Every (field path, instance) with a U+0000 in one string of the instance."""
    if depth > _MAX_DEPTH:
        return
    for option in _options(schema):
        kind = option.get("type")
        if kind == "string" or (kind is None and "properties" not in option and "enum" in option):
            yield path, f"a{NUL}b"
        elif kind == "object" or "properties" in option:
            base = _minimal(option, depth)
            for name, prop in option.get("properties", {}).items():
                for sub_path, value in _with_nul(prop, (*path, name), depth + 1):
                    yield sub_path, {**base, name: value}
            extra = option.get("additionalProperties")
            if extra is True:
                extra = {"type": "string"}
            if isinstance(extra, dict):
                yield (*path, "k\\u0000"), {**base, f"k{NUL}": _minimal(extra, depth + 1)}
                for sub_path, value in _with_nul(extra, (*path, "k"), depth + 1):
                    yield sub_path, {**base, "k": value}
        elif kind == "array" and "items" in option:
            for sub_path, value in _with_nul(option["items"], (*path, 0), depth + 1):
                yield sub_path, [value]


def _cases() -> Iterator[Any]:
    for path, item in SPEC["paths"].items():
        for method in _METHODS:
            if method not in item:
                continue
            op = item[method]
            params = {p: str(uuid.uuid4()) for p in re.findall(r"{([^}]+)}", path)}
            label = f"{method.upper()} {path}"
            for name in params:
                bad = {**params, name: f"a{NUL}b"}
                case_id = f"{label} path.{name}"
                yield pytest.param(method, path, bad, {}, None, f"path.{name}", id=case_id)
            for param in op.get("parameters", []):
                if param["in"] == "query":
                    name = param["name"]
                    yield pytest.param(
                        method, path, params, {name: f"a{NUL}b"}, None, f"query.{name}",
                        id=f"{label} query.{name}",
                    )  # fmt: skip
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                schema = content["application/json"].get("schema", {})
                seen: set[Path] = set()
                for field, body in _with_nul(schema, ("body",)):
                    if field in seen:
                        continue
                    seen.add(field)
                    name = ".".join(str(p) for p in field)
                    yield pytest.param(method, path, params, {}, body, name, id=f"{label} {name}")


CASES = list(_cases())


def test_the_sweep_covers_the_api() -> None:
    ids = {case.id for case in CASES}
    assert len(CASES) > 150
    assert any(i.startswith("POST /v1/templates body.bodies.k") for i in ids)
    assert any(i.startswith("GET /v1/locations query.q") for i in ids)
    assert any(".custom_fields." in i for i in ids), "JSONB maps are swept"


@pytest.fixture
async def owner(client: httpx.AsyncClient) -> Tenant:
    return await sign_up(client)


@pytest.mark.parametrize(("method", "path", "params", "query", "body", "field"), CASES)
async def test_nul_anywhere_is_a_422_naming_the_field(
    client: httpx.AsyncClient,
    owner: Tenant,
    method: str,
    path: str,
    params: dict[str, str],
    query: dict[str, str],
    body: Any,
    field: str,
) -> None:
    url = path
    for name, value in params.items():
        url = url.replace("{" + name + "}", value.replace(NUL, "%00"))
    kwargs: dict[str, Any] = {"params": query, "headers": owner.headers}
    if body is not None:
        kwargs["json"] = body
    response = await client.request(method.upper(), url, **kwargs)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert field in [e["field"] for e in problem["errors"]], problem
    assert "U+0000" in problem["detail"]


async def test_nul_in_stored_text_and_jsonb_never_reaches_the_database(
    client: httpx.AsyncClient, owner: Tenant
) -> None:
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"])
    response = await client.patch(
        f"/v1/locations/{location['id']}",
        json={"custom_fields": {"offer": f"two{NUL}for one"}},
        headers=owner.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "body.custom_fields.offer"
    # Escaped backslashes are ordinary text, not a NUL.
    response = await client.patch(
        f"/v1/locations/{location['id']}",
        json={"custom_fields": {"offer": "C:\\u0000 is a path"}},
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["custom_fields"]["offer"] == "C:\\u0000 is a path"


async def test_a_nul_filter_on_a_streamed_export_is_refused_before_the_stream(
    client: httpx.AsyncClient, owner: Tenant
) -> None:
    brand = await create_brand(client, owner)
    await create_location(client, owner, brand["id"])
    for url in (f"/v1/brands/{brand['id']}/locations/export", "/v1/locations"):
        response = await client.get(url, params={"q": f"x{NUL}"}, headers=owner.headers)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "query.q"


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("get", "/v1/templates/{t}/versions/2147483648", None, "path.version"),
        ("post", "/v1/templates/{t}/versions/2147483648/publish", None, "path.version"),
        (
            "post",
            "/v1/campaigns",
            {"version": 2**31},
            "body.version",
        ),
        ("post", "/v1/locations/{l}/posts", {"version": 2**31}, "body.version"),
        ("post", "/v1/locations/{l}/posts", {"version": 2**70}, "body.version"),
        ("patch", "/v1/locations/{l}", {"custom_fields": {"n": 2**64}}, "body.custom_fields.n"),
    ],
)
async def test_integers_beyond_their_column_are_a_422(
    client: httpx.AsyncClient,
    owner: Tenant,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    field: str,
) -> None:
    brand = await create_brand(client, owner)
    location = await create_location(client, owner, brand["id"])
    template = await client.post(
        "/v1/templates",
        json={"brand_id": brand["id"], "name": "T", "bodies": {"default": "Hello"}},
        headers=owner.headers,
    )
    assert template.status_code == 201, template.text
    url = path.replace("{t}", template.json()["template_id"]).replace("{l}", location["id"])
    if body is not None and "version" in body:
        body = {
            "brand_id": brand["id"],
            "template_id": template.json()["template_id"],
            "name": "C",
            "audience": {"kind": "all"},
            "channels": ["x"],
            "platforms": ["x"],
            "schedule": {"kind": "absolute", "at": "2030-01-01T09:00:00Z"},
            **body,
        }
        if "posts" in url:
            body = {k: body[k] for k in ("template_id", "version", "platforms")}
        else:
            del body["platforms"]
    response = await client.request(method.upper(), url, json=body, headers=owner.headers)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]], response.text


async def test_a_nul_in_a_csv_cell_is_a_row_problem_naming_the_column(
    client: httpx.AsyncClient, owner: Tenant
) -> None:
    brand = await create_brand(client, owner)
    url = f"/v1/brands/{brand['id']}/locations/import"
    headers = {**owner.headers, "Content-Type": "text/csv"}
    body = (
        "external_ref,name,country,time_zone,custom.offer\r\n"
        "s1,One,US,UTC,fine\r\n"
        f"s2,Tw{NUL}o,US,UTC,two{NUL}for one\r\n"
    )
    response = await client.post(url, content=body.encode(), headers=headers)
    assert response.status_code == 422, response.text
    found = {(e["line"], e["field"]) for e in response.json()["errors"]}
    assert {(3, "name"), (3, "custom.offer")} <= found
    response = await client.post(
        url, params={"mode": "valid_only"}, content=body.encode(), headers=headers
    )
    assert response.status_code == 200, response.text
    assert (response.json()["created"], response.json()["invalid"]) == (1, 1)

    header = f"external_ref,name,country,time_zone,custom.o{NUL}\r\ns1,One,US,UTC,x\r\n"
    response = await client.post(url, content=header.encode(), headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "column 5"

    rows = (
        b'[{"external_ref": "j", "name": "A\\u0000", "country": "US", "time_zone": "UTC",'
        b' "custom_fields": {"k\\u0000": 1}}]'
    )
    response = await client.post(
        url, files={"file": ("rows.json", rows, "application/json")}, headers=owner.headers
    )
    assert response.status_code == 422, response.text
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"rows[0].name", "rows[0].custom_fields.k\\u0000"} <= fields
    response = await client.post(
        url, content=rows, headers={**owner.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert {"rows[0].name", "rows[0].custom_fields.k\\u0000"} <= {
        e["field"] for e in response.json()["errors"]
    }


ODD_TOKENS = ["é", "ключ.ключ", "chk_abcdefgh_é", "caf\u00e9.\u2603", "😀" * 40]


@pytest.mark.parametrize("token", ODD_TOKENS)
async def test_non_ascii_tokens_states_and_signatures_are_refused_not_crashed(
    client: httpx.AsyncClient, owner: Tenant, token: str
) -> None:
    """Every place Chorus compares a secret: a 400/401, never a 500."""
    answers: dict[str, int] = {}
    for scheme in ("Bearer", "Bearer chk_abcdefgh_"):
        raw = f"{scheme} {token}".encode()
        response = await client.get("/v1/me", headers=[(b"Authorization", raw)])
        answers[f"authorization {scheme}"] = response.status_code
    for url, body in [
        ("/v1/auth/refresh", {"refresh_token": token}),
        ("/v1/auth/logout", {"refresh_token": token}),
        ("/v1/invitations/accept", {"token": token, "password": "a long passphrase"}),
        ("/v1/invitations/accept", {"token": f"inv_{token}.{token}", "password": "x" * 12}),
        ("/v1/approval-links/use", {"token": token}),
        ("/v1/approval-links/use", {"token": f"apl_{token}.{token}"}),
    ]:
        response = await client.post(url, json=body, headers=owner.headers)
        answers[f"{url} {body}"] = response.status_code
    for state in (token, f"{token}.{token}", f"abc.{token}"):
        response = await client.get(
            "/v1/social-accounts/oauth/callback", params={"state": state, "code": token}
        )
        answers[f"oauth state {state}"] = response.status_code
    response = await client.get("/approval-link", params={"token": token})
    answers["approval page GET"] = response.status_code
    response = await client.post("/approval-link", data={"token": f"apl_{token}.{token}"})
    answers["approval page POST"] = response.status_code
    response = await client.post(
        "/v1/billing/stripe/webhook",
        content=b"{}",
        headers=[
            (b"Stripe-Signature", f"t=1,v1={token}".encode()),
            (b"Content-Type", b"application/json"),
        ],
    )
    answers["stripe webhook"] = response.status_code
    crashed = {what: status for what, status in answers.items() if status >= 500}
    assert not crashed
    logout = answers.pop(f"/v1/auth/logout {{'refresh_token': {token!r}}}")
    assert logout == 204  # logging out with an unknown token is a no-op, as for any token
    refused = {what: status for what, status in answers.items() if status not in (400, 401, 422)}
    assert not refused


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://cdn.example.com/pizza.jpg", "https"),
        ("ftp://cdn.example.com/pizza.jpg", "https"),
        ("/relative/pizza.jpg", "absolute"),
        ("https://127.0.0.1/pizza.jpg", "loopback"),
        ("https://10.0.0.8/pizza.jpg", "private"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://[::1]/pizza.jpg", "loopback"),
        ("https://[::ffff:192.168.0.1]/x.jpg", "private"),
        ("https://0x7f000001/pizza.jpg", "numeric"),
        ("https://metadata.google.internal/computeMetadata/v1/", "not a public host"),
        ("https://localhost:8443/pizza.jpg", "not a public host"),
        ("https://printer.local/pizza.jpg", "not a public host"),
    ],
)
async def test_media_urls_are_checked_when_saved(
    client: httpx.AsyncClient, owner: Tenant, url: str, reason: str
) -> None:
    brand = await create_brand(client, owner)
    body = {
        "brand_id": brand["id"],
        "name": "With a photo",
        "bodies": {"default": "Hello"},
        "media": {"default": [{"kind": "image", "url": url}]},
    }
    response = await client.post("/v1/templates", json=body, headers=owner.headers)
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "body.media.default.0.url"
    assert reason in error["message"]

    video = {"kind": "video", "url": "https://cdn.example.com/v.mp4", "cover_url": url}
    body["media"] = {"default": [{"kind": "image", "url": "https://cdn.example.com/a.jpg"}]}
    created = await client.post("/v1/templates", json=body, headers=owner.headers)
    assert created.status_code == 201, created.text
    response = await client.post(
        f"/v1/templates/{created.json()['template_id']}/versions",
        json={"content": {"bodies": {"default": "Hi"}, "media": {"x": [video]}}},
        headers=owner.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "body.content.media.x.0.cover_url"


async def test_public_https_and_the_configured_sandbox_media_are_accepted(
    client: httpx.AsyncClient, owner: Tenant, settings: Settings
) -> None:
    brand = await create_brand(client, owner)
    sandbox_media = f"{settings.platform_sandbox_url.rstrip('/')}/x/_sandbox/media/p.png"
    assert sandbox_media.startswith("http://127.0.0.1:")
    media = [
        {"kind": "image", "url": "https://cdn.example.com/pizza.jpg"},
        {"kind": "image", "url": "https://93.184.216.34/pizza.jpg"},
        {"kind": "image", "url": sandbox_media},
    ]
    response = await client.post(
        "/v1/templates",
        json={
            "brand_id": brand["id"],
            "name": "Photos",
            "bodies": {"default": "Hello"},
            "media": {"default": media},
        },
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    version = await client.get(
        f"/v1/templates/{response.json()['template_id']}/versions/1", headers=owner.headers
    )
    assert version.status_code == 200, version.text
    assert [m["url"] for m in version.json()["media"]["default"]] == [m["url"] for m in media]


async def test_a_nul_in_a_form_field_is_a_422_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/approval-link", data={"token": "apl_x.y", "comment": f"no{NUL}thanks"}
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["body.comment"]


INT4_MAX = 2**31 - 1


def _integer_cases() -> Iterator[Any]:
    for path, item in SPEC["paths"].items():
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            label = f"{method.upper()} {path}"
            for param in op.get("parameters", []):
                options = _options(param.get("schema", {}))
                types = {o.get("type") for o in options}
                if param["in"] in ("query", "path") and "integer" in types:
                    where, name = param["in"], param["name"]
                    widest = max((o.get("maximum", 0) for o in options), default=0)
                    yield pytest.param(
                        method, path, where, name, widest > INT4_MAX, id=f"{label} {where}.{name}"
                    )
            content = op.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            if schema is None:
                continue
            for prop_name, prop in _options(schema)[0].get("properties", {}).items():
                if "integer" in {o.get("type") for o in _options(prop)}:
                    case_id = f"{label} body.{prop_name}"
                    yield pytest.param(method, path, "body", prop_name, False, id=case_id)


@pytest.mark.parametrize(("method", "path", "where", "name", "bigint"), list(_integer_cases()))
@pytest.mark.parametrize("number", [2**31, 2**63, -(2**63) - 1, 10**30])
async def test_every_integer_input_out_of_range_is_a_422_never_a_500(
    client: httpx.AsyncClient,
    owner: Tenant,
    method: str,
    path: str,
    where: str,
    name: str,
    bigint: bool,
    number: int,
) -> None:
    """Beyond bigint: refused by the validation layer; beyond integer: by the field's own
    bounds (every integer input has one no wider than the column it lands in: a ``bigint``
    column's, such as a file size in bytes, declares a maximum past 2^31 and takes it)."""
    url = re.sub(r"{([^}]+)}", lambda m: str(uuid.uuid4()), path)
    kwargs: dict[str, Any] = {"headers": owner.headers}
    if where == "path":
        url = path.replace("{" + name + "}", str(number))
        url = re.sub(r"{([^}]+)}", lambda m: str(uuid.uuid4()), url)
    elif where == "query":
        kwargs["params"] = {name: str(number)}
    else:
        kwargs["json"] = {name: number}
    response = await client.request(method.upper(), url, **kwargs)
    if bigint and number == 2**31:  # in a bigint's range: taken, not refused
        assert response.status_code < 400, response.text
        return
    assert response.status_code == 422, response.text
    assert f"{where}.{name}" in [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize("raw", ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"])
async def test_numbers_json_cannot_carry_are_a_422(
    client: httpx.AsyncClient, owner: Tenant, raw: str
) -> None:
    brand = await create_brand(client, owner)
    media = (
        f'{{"kind": "video", "url": "https://cdn.example.com/v.mp4", "duration_seconds": {raw}}}'
    )
    body = (
        f'{{"brand_id": "{brand["id"]}", "name": "F", "bodies": {{"default": "Infinity pool"}},'
        f' "media": {{"default": [{media}]}}}}'
    )
    response = await client.post(
        "/v1/templates", content=body, headers={**owner.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    fields = [e["field"] for e in response.json()["errors"]]
    assert fields == ["body.media.default.0.duration_seconds"]
