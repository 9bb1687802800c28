"""The campaign builder's form as data (issue #16): the form's fields read and kept as typed,
turned into the API's ``CampaignCreate`` (the audience, the schedule in UTC or local time,
the approval and its deadline), and every problem, the form's own or the service's, named by
the field it belongs to. No database, no request: ``routes/brand_campaigns`` renders and
saves with these."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import ValidationError

from services.web.i18n import N_, Translator
from shared.campaigns.schemas import MAX_DEADLINE_HOURS, CampaignCreate
from shared.content.platforms import PLATFORMS
from shared.errors import AppError

POLICY_NAMES: dict[str, str] = {
    "none": N_("No approval: posts go out at their time"),
    "location_confirm": N_("Each location confirms its posts"),
    "brand_approval": N_("Head office approves what locations fill in"),
}
PROBLEMS = {
    "version_not_published": N_("This version is a draft; publish it before a campaign uses it."),
    "platform_not_allowed": N_("The brand's rules do not allow this platform."),
    "body_missing": N_("The template has no text for this platform."),
    "variable_missing": N_("The template uses this value; fill it in."),
    "slots_need_locations": N_(
        "The template has slots locations must fill: choose an approval by the locations or "
        "by head office."
    ),
    "in_past": N_("This time has passed; choose a later one."),
    "not_found": N_("Not found in this brand; choose again."),
    "deadline_without_approval": N_(
        "A deadline is for posts waiting for a decision: choose an approval, or set 0."
    ),
    "deadline_passed": N_(
        "That many hours before the posts' time has already passed; give fewer hours or a "
        "later date."
    ),
}


def split_template(value: str) -> tuple[uuid.UUID, int] | None:
    ident, _, version = value.partition(":")
    try:
        return uuid.UUID(ident), int(version)
    except ValueError:
        return None


def field_text(form: Any, name: str, limit: int = 2000) -> str:
    value = form.get(name)
    return value.replace("\x00", "").strip()[:limit] if isinstance(value, str) else ""


def field_texts(form: Any, name: str) -> list[str]:
    return [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()]


def default_form() -> dict[str, Any]:
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    return {
        "name": "",
        "template": "",
        "variables": {},
        "audience_kind": "all",
        "group_ids": [],
        "filter_country": "",
        "filter_region": "",
        "filter_city": "",
        "filter_q": "",
        "filter_group_id": "",
        "channels": [],
        "schedule_kind": "local",
        "local_date": tomorrow,
        "local_time": "09:00",
        "at_date": tomorrow,
        "at_time": "09:00",
        "approval_policy": "none",
        "approval_deadline_hours": "0",
    }


def read_form(form: Any, needed: list[str]) -> dict[str, Any]:
    return {
        "name": field_text(form, "name", 300),
        "template": field_text(form, "template", 100),
        "variables": {n: field_text(form, f"var-{n}") for n in needed},
        "audience_kind": field_text(form, "audience_kind", 20),
        "group_ids": field_texts(form, "group_ids"),
        "filter_country": field_text(form, "filter_country", 10),
        "filter_region": field_text(form, "filter_region", 200),
        "filter_city": field_text(form, "filter_city", 200),
        "filter_q": field_text(form, "filter_q", 300),
        "filter_group_id": field_text(form, "filter_group_id", 100),
        "channels": [c for c in field_texts(form, "channels") if c in PLATFORMS],
        "schedule_kind": field_text(form, "schedule_kind", 20),
        "local_date": field_text(form, "local_date", 40),
        "local_time": field_text(form, "local_time", 40),
        "at_date": field_text(form, "at_date", 40),
        "at_time": field_text(form, "at_time", 40),
        "approval_policy": field_text(form, "approval_policy", 40),
        "approval_deadline_hours": field_text(form, "approval_deadline_hours", 40),
    }


def _audience(values: dict[str, Any], problems: dict[str, str], t: Translator) -> dict[str, Any]:
    kind = values["audience_kind"]
    if kind == "groups":
        if not values["group_ids"]:
            problems["audience"] = t.gettext("Choose at least one group.")
        return {"kind": "groups", "group_ids": values["group_ids"]}
    if kind == "filter":
        f = {
            "country": values["filter_country"].upper() or None,
            "region": values["filter_region"] or None,
            "city": values["filter_city"] or None,
            "q": values["filter_q"] or None,
            "group_id": values["filter_group_id"] or None,
        }
        if not any(f.values()):
            problems["audience"] = t.gettext("Give at least one condition of the filter.")
        return {"kind": "filter", "filter": f}
    return {"kind": "all"}


def schedule_of(values: dict[str, Any], problems: dict[str, str], t: Translator) -> dict[str, Any]:
    local = values["schedule_kind"] != "absolute"
    prefix = "local" if local else "at"
    try:
        day = dt.date.fromisoformat(values[f"{prefix}_date"])
    except ValueError:
        problems[f"{prefix}_date"] = t.gettext("Give a date, such as 2030-12-24.")
        day = None
    try:
        clock = dt.time.fromisoformat(values[f"{prefix}_time"]).replace(microsecond=0)
    except ValueError:
        problems[f"{prefix}_time"] = t.gettext("Give a time, such as 09:30.")
        clock = None
    if day is None or clock is None:
        return {}
    if local:
        return {"kind": "local", "date": day.isoformat(), "time": clock.strftime("%H:%M")}
    at = dt.datetime.combine(day, clock, tzinfo=dt.UTC)
    return {"kind": "absolute", "at": at.isoformat()}


_PYDANTIC_FIELDS = {
    "name": "name",
    "template_id": "template",
    "version": "template",
    "audience": "audience",
    "channels": "channels",
    "schedule": "schedule",
    "variables": "variables",
    "approval_policy": "approval_policy",
    "approval_deadline_hours": "approval_deadline_hours",
}


def _deadline_hours(value: str) -> int | None:
    """The form's hours (empty: 0), or None when not a whole number in range."""
    text = value.strip() or "0"
    if not text.isascii() or not text.isdigit() or len(text) > 3:
        return None
    hours = int(text)
    return hours if hours <= MAX_DEADLINE_HOURS else None


def payload_of(
    values: dict[str, Any], brand_id: uuid.UUID, t: Translator
) -> tuple[CampaignCreate | None, dict[str, Any], dict[str, Any], dict[str, str]]:
    """The API's payload from the form, or the problems of each field."""
    problems: dict[str, str] = {}
    if not values["name"]:
        problems["name"] = t.gettext("Give the campaign a name.")
    split = split_template(values["template"])
    if split is None:
        problems["template"] = t.gettext("Choose a published template.")
    if not values["channels"]:
        problems["channels"] = t.gettext("Choose at least one platform.")
    if values["approval_policy"] not in POLICY_NAMES:
        problems["approval_policy"] = t.gettext("Choose how posts are approved.")
    hours = _deadline_hours(values["approval_deadline_hours"])
    if hours is None:
        problems["approval_deadline_hours"] = t.gettext(
            "Give a whole number of hours from 0 to %(most)s.", most=MAX_DEADLINE_HOURS
        )
    audience = _audience(values, problems, t)
    schedule = schedule_of(values, problems, t)
    if problems or split is None or hours is None:
        return None, audience, schedule, problems
    try:
        data = CampaignCreate.model_validate(
            {
                "name": values["name"],
                "brand_id": brand_id,
                "template_id": split[0],
                "version": split[1],
                "audience": audience,
                "channels": values["channels"],
                "schedule": schedule,
                "variables": values["variables"],
                "approval_policy": values["approval_policy"],
                "approval_deadline_hours": hours,
            }
        )
    except ValidationError as exc:
        for error in exc.errors():
            field = _PYDANTIC_FIELDS.get(str(error["loc"][0]) if error["loc"] else "", "")
            if field == "schedule":
                field = "local_date" if values["schedule_kind"] != "absolute" else "at_date"
            problems.setdefault(field, t.gettext("Check this value: %(why)s", why=error["msg"]))
        return None, audience, schedule, problems
    return data, audience, schedule, problems


def _field_of(path: str, values: dict[str, Any]) -> str:
    parts = path.split(".")[1:] if path.startswith("body.") else path.split(".")
    head = parts[0] if parts else ""
    if head in ("template_id", "version"):
        return "template"
    if head == "variables" and len(parts) > 1:
        return f"var-{parts[1]}"
    if head == "schedule":
        return "local_date" if values["schedule_kind"] != "absolute" else "at_date"
    return {"channels": "channels", "audience": "audience"}.get(head, head)


def service_problems(error: AppError, values: dict[str, Any], t: Translator) -> dict[str, str]:
    problems: dict[str, str] = {}
    for p in error.errors:
        message = PROBLEMS.get(p.code)
        problems.setdefault(
            _field_of(p.field, values), t.gettext(message) if message else p.message
        )
    if not problems:
        problems[""] = error.message
    return problems
