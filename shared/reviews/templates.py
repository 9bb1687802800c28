"""Reply templates: Chorus's template language with the review's own variables.

A reply template reads ``reviewer.first_name``, ``reviewer.name``, ``review.rating``,
``review.source``, ``location.*`` and ``brand.name``. The shared language's namespace has no
``reviewer``/``review`` roots, so these are carried as ``campaign.reviewer_*`` /
``campaign.review_*`` keys (the one open-ended root) and every message is written back in
the names the brand used; ``campaign.*`` and ``slot.*`` are not offered in replies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from shared.errors import FieldProblem, ValidationFailed
from shared.templating import CompiledTemplate, RenderContext, TemplateError, compile_template

REVIEW_FIELDS = ("rating", "source")
REVIEWER_FIELDS = ("first_name", "name")
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_OURS = re.compile(r"\b(reviewer|review)\.([A-Za-z_][A-Za-z0-9_]*)")
_NOT_OFFERED = re.compile(r"\b(campaign|slot)\.")


def _field_problem(message: str, field: str) -> ValidationFailed:
    return ValidationFailed(
        f"the reply template is not valid: {message}",
        code="invalid_template",
        errors=[FieldProblem(field, message, "invalid_template")],
    )


def _back(message: str) -> str:
    message = message.replace("campaign.reviewer_", "reviewer.")
    message = message.replace("campaign.review_", "review.")
    return message.replace(
        "use location.*, brand.*, campaign.* or slot.*",
        "replies read reviewer.*, review.*, location.* and brand.name",
    )


def compile_reply(source: str, field: str = "body.template") -> CompiledTemplate:
    """Parse and check a reply template; ``ValidationFailed`` names each problem."""
    problems: list[str] = []

    def rewrite(tag: re.Match[str]) -> str:
        text = tag.group(0)
        if _NOT_OFFERED.search(text):
            problems.append(
                f"'{text.strip()}': replies read reviewer.*, review.*, location.* and "
                "brand.name only"
            )
        return _OURS.sub(_rewrite_path, text)

    rewritten = _TAG.sub(rewrite, source)
    if problems:
        raise ValidationFailed(
            "the reply template is not valid: " + "; ".join(problems),
            code="invalid_template",
            errors=[FieldProblem(field, p, "invalid_template") for p in problems],
        )
    try:
        compiled = compile_template(rewritten, slots={})
    except TemplateError as exc:
        raise ValidationFailed(
            "the reply template is not valid: " + "; ".join(_back(str(p)) for p in exc.problems),
            code="invalid_template",
            errors=[
                FieldProblem(field, _back(p.message), "invalid_template", line=p.line)
                for p in exc.problems
            ],
        ) from None
    for variable in compiled.variables():
        root, _, rest = variable.partition(".")
        if root != "campaign":
            continue
        kind, _, name = rest.partition("_")
        known = REVIEWER_FIELDS if kind == "reviewer" else REVIEW_FIELDS
        if name not in known:
            raise _field_problem(
                f"unknown variable '{_back(variable)}'; replies know "
                + ", ".join(
                    [f"reviewer.{f}" for f in REVIEWER_FIELDS]
                    + [f"review.{f}" for f in REVIEW_FIELDS]
                ),
                field,
            )
    return compiled


def _rewrite_path(match: re.Match[str]) -> str:
    return f"campaign.{match.group(1)}_{match.group(2)}"


def first_name(author: str) -> str:
    parts = author.split()
    return parts[0] if parts else ""


def render_reply(
    template: CompiledTemplate,
    *,
    location: Mapping[str, object],
    brand_name: str,
    author: str,
    rating: int | None,
    source: str,
) -> str:
    context = RenderContext.build(
        location=location,
        brand={"name": brand_name},
        campaign={
            "reviewer_first_name": first_name(author),
            "reviewer_name": author,
            "review_rating": rating,
            "review_source": source,
        },
    )
    return template.render(context).strip()
