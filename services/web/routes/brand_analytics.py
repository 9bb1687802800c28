"""The brand's analytics (issue #16): followers, reach and engagement of all its locations over
the last 7, 30 or 90 days beside the period before (SVG charts and the same numbers as
tables), the best locations by engagement rate, rating, response rate and response time, its
location groups by engagement rate, and the daily numbers as CSV.

The same analytics service and policy (``metric.read`` on the brand) as
``services/api/routes/analytics.py``, the brand scope: the summary, the time series and the
leaderboards are the API's own answers for the same days, so the page and the API agree
(tests/web/test_brand_analytics_pages.py compares them). The export is the API's export
(plan-gated: the 402 page). Days are UTC days, as the API counts them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from babel import numbers as babel_numbers
from fastapi import Query, Request
from fastapi.responses import Response, StreamingResponse

from services.api.deps import Session, get_database
from services.web import security
from services.web.deps import SignedIn, Viewer
from services.web.i18n import N_, Translator
from services.web.rendering import render, translator
from services.web.routes.numbers import (
    DEFAULT_DAYS,
    METRICS,
    PERIODS,
    Formats,
    metric_card,
    period_of,
)
from services.web.routing import web_router
from shared.analytics import schemas
from shared.analytics import service as analytics
from shared.errors import NotFound

router = web_router()

BOARD_SIZE = 10
BOARDS = (
    (
        "engagement_rate",
        N_("Engagement rate"),
        N_("Engagements ÷ impressions"),
        N_("%(num)s impressions"),
    ),
    ("rating", N_("Rating"), N_("Average stars of the reviews written"), N_("%(num)s reviews")),
    (
        "response_rate",
        N_("Response rate"),
        N_("Reviews answered ÷ reviews written"),
        N_("%(num)s reviews"),
    ),
    (
        "response_time",
        N_("Response time"),
        N_("Average hours from review to reply (lower is better)"),
        N_("%(num)s replies"),
    ),
)


@dataclass(slots=True)
class BoardLine:
    rank: int
    name: str
    value: str
    sample: str


@dataclass(slots=True)
class Board:
    key: str
    name: str
    explanation: str
    lines: list[BoardLine]


def _days(t: Translator, days: str) -> tuple[int, dict[str, str]]:
    if not days.strip():
        return DEFAULT_DAYS, {}
    if days.strip() in {str(p) for p in PERIODS}:
        return int(days), {}
    return DEFAULT_DAYS, {"days": t.gettext("Choose 7, 30 or 90 days.")}


def _value(f: Formats, metric: str, value: float) -> str:
    if metric in ("engagement_rate", "response_rate"):
        return babel_numbers.format_percent(value, format="#,##0.##%", locale=f.locale)
    return f.number(round(value, 2))


def _board(t: Translator, f: Formats, spec: tuple[str, str, str, str], out: Any) -> Board:
    key, name, explanation, sample = spec
    return Board(
        key,
        t.gettext(name),
        t.gettext(explanation),
        [
            BoardLine(
                e.rank,
                e.location_name,
                _value(f, key, e.value),
                t.gettext(sample, num=f.number(e.sample)),
            )
            for e in out.entries
        ],
    )


async def _scope(session: Session, viewer: Viewer) -> analytics.Scope:
    if viewer.brand is None:
        raise NotFound("brand not found")
    return await analytics.scope_of(session, viewer.principal, "brand", viewer.brand.id)


@router.get("/brand/analytics")
async def brand_analytics(
    request: Request,
    viewer: SignedIn,
    session: Session,
    days: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    t = translator(request)
    f = Formats(t)
    scope = await _scope(session, viewer)
    chosen, problems = _days(t, days)
    span = period_of(chosen)
    before = span.previous()
    principal = viewer.principal
    interval = "week" if chosen > 31 else "day"
    summary: schemas.SummaryOut = await analytics.summary(session, principal, scope, span)
    series = await analytics.timeseries(session, principal, scope, span, interval)
    metrics = [
        metric_card(t, f, key, name, explanation, summary, series)
        for key, name, explanation in METRICS
    ]
    rate = summary.totals.engagement_rate
    if rate is not None:
        metrics[-1].note = t.gettext(
            "Engagement rate: %(rate)s (engagements ÷ impressions)",
            rate=babel_numbers.format_percent(rate, format="#,##0.##%", locale=f.locale),
        )
    boards = []
    for spec in BOARDS:
        out = await analytics.leaderboard(
            session, principal, scope, span, spec[0], limit=BOARD_SIZE
        )
        boards.append(_board(t, f, spec, out))
    groups = await analytics.group_board(session, principal, scope, span, limit=BOARD_SIZE)
    context: dict[str, Any] = {
        "days": chosen,
        "periods": PERIODS,
        "problems": problems,
        "period": f.span(span.start, span.end),
        "previous_period": f.span(before.start, before.end),
        "collected": bool(summary.totals.days_with_data or summary.previous.days_with_data),
        "metrics": metrics,
        "boards": boards,
        "groups": [
            {
                "name": g.name,
                "rate": _value(f, "engagement_rate", g.engagement_rate)
                if g.engagement_rate is not None
                else "—",
                "reach": f.number(g.reach),
                "engagements": f.number(g.engagements),
            }
            for g in groups
        ],
    }
    return render(
        request, "brand_analytics/index.html", context, status_code=422 if problems else 200
    )


@router.get("/brand/analytics/export")
async def export(
    request: Request,
    viewer: SignedIn,
    session: Session,
    days: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The API's export of the brand's daily numbers over the page's period."""
    t = translator(request)
    if viewer.brand is None:
        raise NotFound("brand not found")
    chosen, problems = _days(t, days)
    if problems:
        raise NotFound("no such period")
    scope = await analytics.export_scope(session, viewer.principal, "brand", viewer.brand.id)
    span = period_of(chosen)
    stream = analytics.export_csv(get_database(request), viewer.principal, scope, span)
    filename = analytics.export_filename(scope, span)
    response = StreamingResponse(
        stream,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
    security.add_headers(response)
    return response
