"""BOLA matrix: every operation with an object id in its path, tried by every kind of principal.

The operations come from the app's OpenAPI document, so a new route is covered without
touching this file. What each principal should get is worked out here, independently of the
app's policy code, from the permission table (``PERMISSIONS``), the ranks (``RANK``) and
these scope rules:

- an agency grant covers everything in its agency;
- a brand grant covers the objects of its brand;
- a location grant covers its location and, of brand-level objects, only the reads in
  ``BRAND_CONTENT_READS`` of its own brand;
- API keys (and the audit log) are agency-level: only agency grants cover them;
- members and invitations give a role: acting on them also needs a rank at least theirs.

Not covered for the object's read action → 404; covered for the read but not for the
operation's ``x-permission`` (or ranked too low) → 403; otherwise allowed: a 2xx the
operation documents, with a body valid against its OpenAPI response schema (the few
operations that cannot succeed in this world are listed, with why, in ``CANNOT_SUCCEED``).
Never a 5xx. A refused request must change nothing in the database, and a
404 must not carry any of the agency's ids or names beyond the URL it echoes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jsonschema_rs
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.api.app import create_app
from shared.access.policy import BRAND_CONTENT_READS
from shared.access.roles import ALL_ACTIONS, PERMISSIONS, RANK, Role, ScopeType
from shared.config import Settings
from shared.db.base import Base
from tests.support.world import Actor, AgencyA, Place, build_agency_a, build_agency_b

# Building the document needs no database: the lifespan (pools, Redis) never runs.
_SPEC_SETTINGS = Settings(env="test", log_level="WARNING", log_json=True)
SPEC: dict[str, Any] = create_app(_SPEC_SETTINGS).openapi()
_METHODS = ("get", "put", "post", "patch", "delete")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{([^}]+)}", self.path)

    @property
    def permission(self) -> str | None:
        value = self.spec.get("x-permission")
        return str(value) if value is not None else None

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


OPERATIONS = [
    Operation(method, path, item[method])
    for path, item in SPEC["paths"].items()
    for method in _METHODS
    if method in item
]
OBJECT_OPERATIONS = [op for op in OPERATIONS if op.path_params]

NO_PERMISSION_NEEDED = {
    "POST /v1/auth/signup",
    "POST /v1/auth/login",
    "POST /v1/auth/refresh",
    "POST /v1/auth/logout",
    "GET /v1/auth/sessions",
    "POST /v1/auth/sessions/end",
    "POST /v1/auth/sessions/end-others",
    "POST /v1/auth/password",
    "POST /v1/auth/password/forgot",
    "POST /v1/auth/password/reset",
    "POST /v1/auth/login/two-factor",
    "POST /v1/auth/login/two-factor/setup",
    "POST /v1/auth/login/two-factor/confirm",
    "GET /v1/auth/two-factor",
    "POST /v1/auth/two-factor/setup",
    "POST /v1/auth/two-factor/confirm",
    "POST /v1/auth/two-factor/disable",
    "POST /v1/auth/two-factor/recovery-codes",
    "POST /v1/invitations/accept",
    "GET /v1/me",
    "GET /v1/platforms",
    "GET /v1/social-accounts/oauth/callback",
    "GET /v1/approval-links",
    "POST /v1/approval-links/use",
}
"""/v1 operations that name no permission on purpose: no login yet, or only about yourself."""


# The objects a path can name ---------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    id: uuid.UUID | int | str
    place: Place
    role: Role | None = None
    """For members and invitations: the role they give (acting on them needs that rank)."""


@dataclass(frozen=True)
class ObjectKind:
    read: str
    locate: Callable[[AgencyA], Target]


OBJECTS: dict[str, ObjectKind] = {
    "brand_id": ObjectKind(
        "brand.read", lambda a: Target(a.brand_x, Place(a.agency_id, a.brand_x))
    ),
    "location_id": ObjectKind(
        "location.read", lambda a: Target(a.l1, Place(a.agency_id, a.brand_x, a.l1))
    ),
    "group_id": ObjectKind(
        "location_group.read", lambda a: Target(a.g1, Place(a.agency_id, a.brand_x))
    ),
    "membership_id": ObjectKind(
        "member.read",
        lambda a: Target(
            a.membership_id,
            Place(a.agency_id, a.brand_x, a.l1),
            a.actors["location_staff@L1"].role,
        ),
    ),
    "invitation_id": ObjectKind(
        "member.read",
        lambda a: Target(a.invitation_id, Place(a.agency_id, a.brand_x), Role.BRAND_VIEWER),
    ),
    "api_key_id": ObjectKind("api_key.read", lambda a: Target(a.api_key_id, Place(a.agency_id))),
    "template_id": ObjectKind(
        "template.read", lambda a: Target(a.template_id, Place(a.agency_id, a.brand_x))
    ),
    "version": ObjectKind("template.read", lambda a: Target(1, Place(a.agency_id, a.brand_x))),
    "post_id": ObjectKind(
        "post.read", lambda a: Target(a.post_id, Place(a.agency_id, a.brand_x, a.l1))
    ),
    "account_id": ObjectKind(
        "social_account.read",
        lambda a: Target(a.social_account_id, Place(a.agency_id, a.brand_x, a.l1)),
    ),
    "campaign_id": ObjectKind(
        "campaign.read", lambda a: Target(a.campaign_id, Place(a.agency_id, a.brand_x))
    ),
    "review_id": ObjectKind(
        "review.read", lambda a: Target(a.review_id, Place(a.agency_id, a.brand_x, a.l1))
    ),
    "rule_id": ObjectKind(
        "brand_rules.read", lambda a: Target(a.auto_reply_rule_id, Place(a.agency_id, a.brand_x))
    ),
    "media_id": ObjectKind(
        "media.read", lambda a: Target(a.media_id, Place(a.agency_id, a.brand_x, a.l1))
    ),
    # A resumable upload: who may add media to its library may continue or end it; others
    # cannot tell it exists.
    "upload_id": ObjectKind(
        "media.create", lambda a: Target(a.upload_id, Place(a.agency_id, a.brand_x, a.l1))
    ),
    # A platform name under a location: the location's accounts on that platform.
    "platform": ObjectKind(
        "social_account.read", lambda a: Target("facebook", Place(a.agency_id, a.brand_x, a.l1))
    ),
}

PRINCIPALS = (
    "owner of B",
    "brand_manager@Y",
    "location_staff@L1",
    "location_manager@L1",
    "brand_viewer@X",
    "brand_manager@X",
    "admin",
    "owner",
)
"""Least privileged first: a destructive call succeeds only for the later ones, and the world
is rebuilt after each success so every principal meets the real object."""


# What the permission table says ------------------------------------------------------------


def covers(actor: Actor, action: str, place: Place) -> bool:
    if actor.place.agency_id != place.agency_id or action not in PERMISSIONS[actor.role]:
        return False
    if actor.scope_type is ScopeType.AGENCY:
        return True
    if place.brand_id is None:  # agency-level objects: agency grants only
        return False
    if actor.scope_type is ScopeType.BRAND:
        return place.brand_id == actor.place.brand_id
    if place.location_id is not None:
        return place.location_id == actor.place.location_id
    return action in BRAND_CONTENT_READS and place.brand_id == actor.place.brand_id


@dataclass(frozen=True)
class Expected:
    status: int | None
    """None: allowed (any status but 401/403/404, below 500)."""
    code: str | None = None

    def __str__(self) -> str:
        return "allowed" if self.status is None else f"{self.status} {self.code}"


def expect(actor: Actor, op: Operation, targets: list[tuple[str, Target]]) -> Expected:
    for param, target in targets:
        if not covers(actor, OBJECTS[param].read, target.place):
            return Expected(404, "not_found")
    _, inner = targets[-1]
    assert op.permission is not None
    if not covers(actor, op.permission, inner.place):
        return Expected(403, "permission_denied")
    if inner.role is not None and RANK[actor.role] < RANK[inner.role]:
        return Expected(403, "role_above_own")
    return Expected(None)


# What the world needs before an operation can succeed --------------------------------------

PREPARE: dict[str, list[tuple[str, str]]] = {
    # Launching is finished by the worker: the campaign is put in the state straight away.
    "POST /v1/campaigns/{campaign_id}/pause": [
        ("SQL", "UPDATE campaign SET status = 'running' WHERE id = :campaign_id"),
    ],
    "POST /v1/campaigns/{campaign_id}/resume": [
        ("SQL", "UPDATE campaign SET status = 'paused' WHERE id = :campaign_id"),
    ],
    # A reminder needs a post of the campaign still waiting for its location's decision.
    "POST /v1/campaigns/{campaign_id}/remind": [
        (
            "SQL",
            "UPDATE post SET campaign_id = :campaign_id, status = 'needs_approval', "
            "approval_kind = 'location', scheduled_at = now() + interval '1 day', due_at = NULL "
            "WHERE id = (SELECT p.id FROM post p JOIN campaign c ON c.agency_id = p.agency_id "
            "AND c.brand_id = p.brand_id WHERE c.id = :campaign_id ORDER BY p.id LIMIT 1)",
        ),
    ],
    "POST /v1/posts/{post_id}/retry": [
        ("SQL", "UPDATE post SET status = 'failed' WHERE id = :post_id"),
    ],
    "POST /v1/posts/{post_id}/approve": [
        (
            "SQL",
            "UPDATE post SET status = 'needs_approval', approval_kind = 'brand' "
            "WHERE id = :post_id",
        ),
    ],
}
PREPARE["POST /v1/posts/{post_id}/reject"] = PREPARE["POST /v1/posts/{post_id}/approve"]
# A reply the reply worker sent, and an auto-reply draft waiting for a person.
_SENT_REPLY = (
    "UPDATE review SET reply_status = 'sent', reply_text = 'Thanks', reply_origin = 'manual', "
    "replied_at = now(), reply_external_id = 'bola-reply' WHERE id = :review_id"
)
PREPARE["PUT /v1/reviews/{review_id}/reply"] = [("SQL", _SENT_REPLY)]
PREPARE["DELETE /v1/reviews/{review_id}/reply"] = [("SQL", _SENT_REPLY)]
PREPARE["POST /v1/reviews/{review_id}/reply/approve"] = [
    (
        "SQL",
        "UPDATE review SET reply_status = 'pending_approval', reply_text = 'Thanks', "
        "reply_origin = 'auto' WHERE id = :review_id",
    )
]
# The world's only version is published (its post needs one); edits need a draft.
PREPARE["PUT /v1/templates/{template_id}/versions/{version}"] = [
    (
        "SQL",
        "UPDATE template_version SET status = 'draft', published_at = NULL, published_by = NULL "
        "WHERE template_id = :template_id AND version = :version",
    )
]
"""Steps taken (as the owner, or straight in the database) before each principal's request,
so that an allowed principal meets an object the operation can act on."""

_TUS = {"Tus-Resumable": "1.0.0"}
RAW: dict[str, tuple[dict[str, str], bytes | None]] = {
    "PATCH /v1/media/uploads/{upload_id}": (
        {**_TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"},
        b"\x89PNG\r\n\x1a\n" + bytes(56),
    ),
    "DELETE /v1/media/uploads/{upload_id}": (_TUS, None),
}
"""Operations whose request is not a JSON body (the tus protocol's): the headers and bytes a
client sends."""

CANNOT_SUCCEED: dict[str, tuple[int, str, str]] = {
    "DELETE /v1/brands/{brand_id}": (
        409,
        "brand_not_empty",
        "brand X holds the locations every other object of the world hangs on",
    ),
    "POST /v1/locations/{location_id}/social-accounts/{platform}/choose": (
        422,
        "selection_not_found",
        "a selection exists only in the middle of a platform's OAuth consent flow",
    ),
}
"""Operations an allowed principal cannot complete in the matrix's world, with the refusal it
gets instead (past every access check) and why. Everything else must answer 2xx."""


async def prepare(
    op: Operation,
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    world: AgencyA,
    ids: dict[str, Any],
) -> None:
    for method, step in PREPARE.get(str(op), []):
        if method == "SQL":
            async with engine.begin() as conn:
                await conn.execute(text(step), {k: v for k, v in ids.items() if f":{k}" in step})
            continue
        done = await client.request(
            method, step.format(**ids), headers=world.actors["owner"].headers
        )
        assert done.is_success, f"preparing {op}: {method} {step} -> {done.text}"


# Request bodies from the operation's schema ------------------------------------------------

IMPORT_ROWS = [{"name": "Row", "country": "US", "time_zone": "UTC", "external_ref": "bola-1"}]
_TYPE_DEFAULTS: dict[str, Any] = {
    "string": "bola",
    "integer": 1,
    "number": 1,
    "boolean": False,
    "array": [],
    "object": {},
}


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SPEC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _value(name: str, schema: dict[str, Any], known: dict[str, Any]) -> Any:
    if name in known:
        return known[name]
    schema = _resolve(schema)
    if schema.get("examples"):
        return schema["examples"][0]
    if schema.get("enum"):
        return schema["enum"][0]
    for option in schema.get("anyOf", []):
        if _resolve(option).get("type") != "null":
            return _value(name, option, known)
    return _TYPE_DEFAULTS.get(schema.get("type", ""))


def request_body(op: Operation, known: dict[str, Any]) -> Any:
    body_spec = op.spec.get("requestBody")
    if body_spec is None:
        return None
    content = body_spec["content"]
    if "application/json" not in content:
        raise LookupError(f"{op}: no application/json body to send; teach the matrix this one")
    if len(content) > 1:  # an upload taking several formats (the import): one JSON row
        return IMPORT_ROWS
    schema = _resolve(content["application/json"]["schema"])
    if not body_spec.get("required"):  # an optional body (``X | None``): send its object form
        options = [_resolve(o) for o in schema.get("anyOf", []) if o.get("type") != "null"]
        schema = options[0] if len(options) == 1 else schema
    if schema.get("type") != "object":
        raise LookupError(f"{op}: a JSON body that is not an object; teach the matrix this one")
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    body = {name: _value(name, properties[name], known) for name in required}
    if not required and "description" in properties:  # a PATCH: change one harmless field
        body["description"] = "changed by the BOLA matrix"
    elif not required and "scheduled_at" in properties:  # a post's PATCH: move it a day on
        body["scheduled_at"] = known["later"]
    return body


def known_values(world: AgencyA, targets: list[tuple[str, Target]]) -> dict[str, Any]:
    role = next((t.role for _, t in reversed(targets) if t.role is not None), None)
    return {
        "brand_id": str(world.brand_x),
        "location_id": str(world.l1),
        "location_ids": [str(world.l1)],
        "bodies": {"default": "Fresh pizza in {{ location.city }}"},
        "template_id": str(world.template_id),
        "version": 1,
        "platforms": ["facebook"],
        "role": (role or Role.LOCATION_STAFF).value,
        "later": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
    }


# Checks ------------------------------------------------------------------------------------

_SNAPSHOT = text(
    " UNION ALL ".join(
        f"SELECT '{table.name}' AS name, "
        f"md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) AS digest "
        f'FROM "{table.name}" r'
        for table in Base.metadata.sorted_tables
    )
)


async def snapshot(engine: AsyncEngine) -> dict[str, str]:
    """A digest of every table (the admin engine sees past row-level security)."""
    async with engine.connect() as conn:
        return {row.name: row.digest for row in await conn.execute(_SNAPSHOT)}


def undeclared(op: Operation) -> list[str]:
    problems = [f"{op}: unknown path parameter {p!r}" for p in op.path_params if p not in OBJECTS]
    if op.permission is None:
        problems.append(f"{op}: no x-permission")
    elif op.permission not in ALL_ACTIONS:
        problems.append(f"{op}: x-permission {op.permission!r} is no action of PERMISSIONS")
    return problems


def _code(response: httpx.Response) -> str | None:
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return None
    code = response.json().get("code")
    return str(code) if code is not None else None


def _response_spec(op: Operation, status: int) -> dict[str, Any] | None:
    responses: dict[str, Any] = op.spec.get("responses", {})
    found = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
    return dict(found) if found is not None else None


def body_problems(op: Operation, response: httpx.Response) -> list[str]:
    """What is wrong with a success: undocumented, or a body its schema refuses."""
    documented = _response_spec(op, response.status_code)
    if documented is None:
        return [f"answered {response.status_code}, which the document does not list"]
    content: dict[str, Any] = documented.get("content", {})
    if not content:
        return [] if not response.content else ["a body where the document lists none"]
    media = response.headers.get("content-type", "").split(";")[0].strip()
    if media not in content:
        return [f"answered {media or 'no content type'}, the document lists {sorted(content)}"]
    schema = content[media].get("schema")
    if media != "application/json" or not schema:
        return []
    validator = jsonschema_rs.validator_for({**schema, "components": SPEC["components"]})
    errors = [
        f"{e.message} at /{'/'.join(map(str, e.instance_path))}"
        for e in validator.iter_errors(response.json())
    ]
    return [f"body does not match the document: {'; '.join(errors[:3])}"] if errors else []


def judge(
    op: Operation,
    actor: Actor,
    expected: Expected,
    response: httpx.Response,
    world: AgencyA,
) -> list[str]:
    where = f"{op} as {actor.name}"
    got, code = response.status_code, _code(response)
    if got >= 500:
        return [f"{where}: expected {expected}, got a server error {got}"]
    if expected.status is None and str(op) in CANNOT_SUCCEED:
        status, instead, _ = CANNOT_SUCCEED[str(op)]
        expected = Expected(status, instead)
    if expected.status is None:
        if not response.is_success:
            return [f"{where}: expected allowed (2xx), got {got} {code}: {response.text[:200]}"]
        return [f"{where}: {problem}" for problem in body_problems(op, response)]
    out: list[str] = []
    if (got, code) != (expected.status, expected.code):
        out.append(f"{where}: expected {expected}, got {got} {code}")
    if got == 403 and code == "permission_denied":
        missing = response.json().get("missing_permission")
        if missing != op.permission:
            out.append(f"{where}: 403 names missing_permission {missing!r}, not {op.permission!r}")
    if got == 404:
        echoed = response.text.replace(response.request.url.path, "")
        leaked = sorted(s for s in world.secrets if s in echoed)
        if leaked:
            out.append(f"{where}: the 404 carries {leaked}")
    return out


# Tests -------------------------------------------------------------------------------------


def test_the_matrix_has_routes_to_check() -> None:
    assert OBJECT_OPERATIONS, "no operation has a path parameter: is the spec built?"
    assert {p for op in OBJECT_OPERATIONS for p in op.path_params} == set(OBJECTS)


def test_every_v1_operation_declares_a_known_permission() -> None:
    problems = [
        problem
        for op in OPERATIONS
        if op.path.startswith("/v1/") and str(op) not in NO_PERMISSION_NEEDED
        for problem in undeclared(op)
        if "path parameter" not in problem
    ]
    declared = {str(op) for op in OPERATIONS}
    problems += [
        f"{name}: listed as needing no permission but gone"
        for name in sorted(NO_PERMISSION_NEEDED - declared)
    ]
    assert not problems, "\n".join(problems)


def test_the_world_tables_name_operations_that_exist() -> None:
    declared = {str(op) for op in OBJECT_OPERATIONS}
    assert set(PREPARE) <= declared, sorted(set(PREPARE) - declared)
    assert set(CANNOT_SUCCEED) <= declared, sorted(set(CANNOT_SUCCEED) - declared)
    assert set(RAW) <= declared, sorted(set(RAW) - declared)


async def test_the_matrix_checks_the_document_the_app_serves(client: httpx.AsyncClient) -> None:
    served = await client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == SPEC


@pytest.mark.parametrize("op", OBJECT_OPERATIONS, ids=str)
async def test_object_access_follows_the_permission_table(
    op: Operation, client: httpx.AsyncClient, admin_engine: AsyncEngine, settings: Settings
) -> None:
    problems = undeclared(op)
    assert not problems, "decide how the matrix treats this route:\n" + "\n".join(problems)
    outsider = (await build_agency_b(admin_engine, settings)).owner
    world = await build_agency_a(admin_engine, client, settings)
    mismatches: list[str] = []
    for name in PRINCIPALS:
        actor = outsider if name == outsider.name else world.actors[name]
        targets = [(param, OBJECTS[param].locate(world)) for param in op.path_params]
        ids = {param: target.id for param, target in targets}
        url = op.path.format(**ids)
        expected = expect(actor, op, targets)
        await prepare(op, client, admin_engine, world, ids)
        before = await snapshot(admin_engine)
        if str(op) in RAW:
            extra, content = RAW[str(op)]
            response = await client.request(
                op.method.upper(), url, content=content, headers={**actor.headers, **extra}
            )
        else:
            response = await client.request(
                op.method.upper(),
                url,
                json=request_body(op, known_values(world, targets)),
                headers=actor.headers,
            )
        mismatches += judge(op, actor, expected, response, world)
        after = await snapshot(admin_engine)
        changed = sorted(table for table in before if before[table] != after[table])
        if response.status_code in (401, 403, 404) and changed:
            mismatches.append(f"{op} as {name}: refused, yet changed {changed}")
        if changed or str(op) in PREPARE:  # the next principal meets the world as it was
            world = await build_agency_a(admin_engine, client, settings)
    assert not mismatches, f"{len(mismatches)} mismatch(es):\n" + "\n".join(mismatches)
