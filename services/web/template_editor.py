"""The template editor's form as data (issue #16): a version's content as the rows the form
shows (texts per platform, slots, media per platform), the form read back into those rows,
and the rows turned into the API's ``TemplateContent`` with each problem named by the form
field it belongs to. Files of the media library are chosen with the media picker per key
(``media-<key>-library`` checkboxes, ``library``); rows stay for files given by address.
No database, no request: the editor page (``routes/brand_templates``) renders and saves
with these."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from services.web import media_choice
from services.web import preview as live
from services.web.i18n import N_, Translator
from shared.content.platforms import PLATFORMS
from shared.errors import ValidationFailed
from shared.templates import service as template_service
from shared.templates.schemas import SLOT_NAME, MediaIn, SlotIn, TemplateContent, VersionOut
from shared.templating import MAX_SOURCE_LENGTH

KEYS = ("default", *PLATFORMS)
MEDIA_KINDS = ("image", "video", "gif")
MEDIA_FIELDS = (
    "kind",
    "url",
    "media_id",
    "width",
    "height",
    "duration_seconds",
    "size_bytes",
    "cover_url",
)
SLOT_FIELDS = ("name", "label", "help_text", "max_length", "allowed_values", "default")
MAX_TEXT = MAX_SOURCE_LENGTH
LIBRARY_INPUT = "media-{key}-library"


@dataclass(slots=True)
class SlotRow:
    name: str = ""
    label: str = ""
    help_text: str = ""
    max_length: str = ""
    required: bool = False
    allowed_values: str = ""
    default: str = ""

    @property
    def blank(self) -> bool:
        return not any(getattr(self, f).strip() for f in SLOT_FIELDS) and not self.required


@dataclass(slots=True)
class MediaRow:
    kind: str = "image"
    url: str = ""
    media_id: str = ""
    width: str = ""
    height: str = ""
    duration_seconds: str = ""
    size_bytes: str = ""
    cover_url: str = ""

    @property
    def blank(self) -> bool:
        return not any(getattr(self, f).strip() for f in MEDIA_FIELDS if f != "kind")


@dataclass(slots=True)
class Editor:
    """The editor's fields as typed (or as stored), to show again exactly."""

    bodies: dict[str, str] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    slots: list[SlotRow] = field(default_factory=list)
    media: dict[str, list[MediaRow]] = field(default_factory=dict)
    library: dict[str, list[str]] = field(default_factory=dict)
    """Media key → the ids of the library files chosen with the picker, in order (they come
    before the key's rows in the content)."""

    def with_blank_rows(self) -> Editor:
        """One empty slot and one empty media row per key to add without script."""
        slots = [*self.slots, SlotRow()]
        media = {key: [*self.media.get(key, []), MediaRow()] for key in KEYS}
        return Editor(dict(self.bodies), dict(self.titles), slots, media, dict(self.library))

    def media_count(self, key: str) -> int:
        return len(self.library.get(key, ())) + sum(
            1 for r in self.media.get(key, ()) if not r.blank
        )


def _number(value: float | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def editor_of(version: VersionOut) -> Editor:
    slots = [
        SlotRow(
            name=name,
            label=spec.label,
            help_text=spec.help_text,
            max_length=_number(spec.max_length),
            required=spec.required,
            allowed_values="\n".join(spec.allowed_values or ()),
            default=spec.default or "",
        )
        for name, spec in live.reading_order(version.slots, version.bodies).items()
    ]
    library = {
        key: [m.media_id for m in items if m.media_id and not m.url]
        for key, items in version.media.items()
    }
    media = {
        key: [
            MediaRow(
                kind=m.kind,
                url=m.url or "",
                media_id=m.media_id or "",
                width=_number(m.width),
                height=_number(m.height),
                duration_seconds=_number(m.duration_seconds),
                size_bytes=_number(m.size_bytes),
                cover_url=m.cover_url or "",
            )
            for m in items
            if m.url or not m.media_id
        ]
        for key, items in version.media.items()
    }
    return Editor(
        dict(version.bodies),
        dict(version.titles),
        slots,
        {key: rows for key, rows in media.items() if rows},
        {key: ids for key, ids in library.items() if ids},
    )


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.replace("\r\n", "\n") if isinstance(value, str) else ""


def editor_from_form(form: Mapping[str, Any]) -> Editor:
    editor = Editor()
    for key in KEYS:
        body = _text(form, f"body.{key}")
        if body.strip():
            editor.bodies[key] = body
        title = _text(form, f"title.{key}")
        if title.strip():
            editor.titles[key] = title
        rows = []
        for i in range(_count(form, f"media-{key}-count", 50)):
            found = MediaRow(
                **{f: _text(form, f"media-{key}-{i}-{f}").strip() for f in MEDIA_FIELDS}
            )
            if not found.blank:
                rows.append(found)
        if rows:
            editor.media[key] = rows
    editor.library = media_choice.picked_of(form, KEYS, LIBRARY_INPUT)
    for i in range(_count(form, "slot-count", 100)):
        if form.get(f"slot-{i}-remove"):
            continue
        row = SlotRow(
            **{f: _text(form, f"slot-{i}-{f}") for f in SLOT_FIELDS},
            required=bool(form.get(f"slot-{i}-required")),
        )
        row.name = row.name.strip()
        if not row.blank:
            editor.slots.append(row)
    return editor


def _count(form: Mapping[str, Any], name: str, most: int) -> int:
    value = form.get(name)
    try:
        return max(0, min(most, int(value))) if isinstance(value, str) else 0
    except ValueError:
        return 0


def text_problem(t: Translator, text: str, *, required: bool = False) -> str | None:
    if required and not text.strip():
        return t.gettext("Write the text of the post.")
    if "\x00" in text:
        return t.gettext("Remove the invisible NUL character from this text.")
    if len(text) > MAX_TEXT:
        return t.gettext("Use at most %(max)s characters.", max=t.format_number(MAX_TEXT))
    return None


_SLOT_PROBLEMS = {
    "label": N_("Give the slot a label (at most 200 characters)."),
    "help_text": N_("Use at most 1,000 characters."),
    "max_length": N_("A whole number from 1 to 5,000, or empty for no limit."),
    "allowed_values": N_("At most 100 values, one per line."),
    "default": N_("Use at most 5,000 characters."),
}
_MEDIA_PROBLEMS = {
    "kind": N_("Choose photo, video or GIF."),
    "url": N_("An https:// address of the file."),
    "media_id": N_("Use at most 200 characters."),
    "width": N_("A whole number of pixels."),
    "height": N_("A whole number of pixels."),
    "duration_seconds": N_("A number of seconds."),
    "size_bytes": N_("A whole number of bytes."),
    "cover_url": N_("An https:// address of the cover image."),
}


def _slot_in(row: SlotRow) -> dict[str, Any]:
    values = [v.strip() for v in row.allowed_values.split("\n") if v.strip()]
    return {
        "label": row.label.strip(),
        "help_text": row.help_text.strip(),
        "max_length": row.max_length.strip() or None,
        "required": row.required,
        "allowed_values": values or None,
        "default": row.default if row.default.strip() else None,
    }


def _media_in(row: MediaRow) -> dict[str, Any]:
    return {f: getattr(row, f).strip() or None for f in MEDIA_FIELDS}


def content_of(
    t: Translator, editor: Editor, kinds: Mapping[str, str] | None = None
) -> tuple[TemplateContent | None, dict[str, str]]:
    """The editor as the API's content, or the problems by field (the field's input name).
    ``kinds``: each chosen library file's kind by id (``image`` when unknown: the service's
    check of the references names what is wrong)."""
    problems: dict[str, str] = {}
    for kind, parts in (("body", editor.bodies), ("title", editor.titles)):
        for key, text in parts.items():
            problem = text_problem(t, text)
            if problem:
                problems[f"{kind}.{key}"] = problem
    if not editor.bodies:
        problems["body.default"] = t.gettext(
            "Write the shared text, or a text of its own for each platform."
        )
    slots: dict[str, SlotIn] = {}
    for i, row in enumerate(editor.slots):
        if not re.match(SLOT_NAME, row.name):
            problems[f"slot-{i}-name"] = t.gettext(
                "Small letters, digits and _, starting with a letter (at most 40)."
            )
        elif row.name in slots:
            problems[f"slot-{i}-name"] = t.gettext("Another slot has this name.")
        try:
            spec = SlotIn.model_validate(_slot_in(row))
        except ValidationError as exc:
            for error in exc.errors():
                name = str(error["loc"][0])
                problems.setdefault(f"slot-{i}-{name}", t.gettext(_SLOT_PROBLEMS[name]))
            continue
        if spec.allowed_values and spec.default and spec.default not in spec.allowed_values:
            problems[f"slot-{i}-default"] = t.gettext("Choose the default among the values.")
        slots.setdefault(row.name, spec)
    media: dict[str, list[MediaIn]] = {
        key: [MediaIn(kind=(kinds or {}).get(i, "image"), media_id=i) for i in ids]
        for key, ids in editor.library.items()
        if ids
    }
    for key, rows in editor.media.items():
        for i, item in enumerate(rows):
            try:
                media.setdefault(key, []).append(MediaIn.model_validate(_media_in(item)))
            except ValidationError as exc:
                for error in exc.errors():
                    name = str(error["loc"][0])
                    problems.setdefault(f"media-{key}-{i}-{name}", t.gettext(_MEDIA_PROBLEMS[name]))
    if problems:
        return None, problems
    content = TemplateContent(bodies=editor.bodies, titles=editor.titles, slots=slots, media=media)
    try:
        template_service.compile_content(content.bodies, content.titles, content.slots)
    except ValidationFailed as exc:
        return None, content_problems(t, exc)
    return content, {}


def content_problems(
    t: Translator, exc: ValidationFailed, rename: dict[str, str] | None = None
) -> dict[str, str]:
    """The compiler's problems (``body.bodies.x``) next to their field (``body.x``): our
    words, then the compiler's own, which name the line, the column and what to write."""
    out: dict[str, str] = {}
    for problem in exc.errors:
        kind, _, key = problem.field.removeprefix("body.").partition(".")
        singular = {"bodies": "body", "titles": "title"}.get(kind, kind)
        name = (rename or {}).get(problem.field, f"{singular}.{key}")
        message = t.gettext("Not valid in the template language:") + " " + problem.message
        out.setdefault(name, message)
    return out
