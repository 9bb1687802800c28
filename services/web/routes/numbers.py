"""Numbers: my location's followers, reach, engagement and rating over the last 7, 30 or 90
days, each beside the period of the same length just before (change in % and in absolute
terms), as SVG charts drawn here and the same numbers as tables.

The same analytics service and policy (``metric.read`` at the location) as
``services/api/routes/analytics.py``: the summary and the time series of the location scope,
and the rating as the location's line of the rating leaderboard. Days are UTC days, as the
API counts them; numbers and dates are formatted for the reader's language."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from fastapi import Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from services.api.deps import Session
from services.web import charts
from services.web.deps import SignedIn
from services.web.i18n import N_, Translator
from services.web.rendering import render, translator
from services.web.routing import web_router
from shared.analytics import schemas
from shared.analytics import service as analytics

router = web_router()

PERIODS = (7, 30, 90)
DEFAULT_DAYS = 30
METRICS = (
    ("followers", N_("Followers"), N_("People following your accounts on the last day")),
    ("reach", N_("Reach"), N_("People who saw your posts, added up over the days")),
    ("engagements", N_("Engagement"), N_("Likes, comments, shares and clicks on your posts")),
)


@dataclass(slots=True)
class Row:
    label: str
    value: str
    previous_label: str
    previous: str


@dataclass(slots=True)
class Metric:
    key: str
    name: str
    explanation: str
    value: str
    previous: str
    change: str | None
    change_pct: str | None
    trend: str  # up | down | same | unknown
    chart: Markup | None = None
    note: str | None = None
    rows: list[Row] = field(default_factory=list)


def period_of(days: int, today: date | None = None) -> analytics.DateRange:
    """The last ``days`` complete (UTC) days, ending yesterday, as the API's default does."""
    end = (today or datetime.now(UTC).date()) - timedelta(days=1)
    return analytics.date_range(end - timedelta(days=days - 1), end)


class Formats:
    """Numbers and dates for the reader's language (Babel)."""

    def __init__(self, t: Translator) -> None:
        self.t = t
        self.locale = t.locale

    def number(self, value: float | None) -> str:
        if value is None:
            return "—"
        return babel_numbers.format_decimal(value, format="#,##0.##", locale=self.locale)

    def percent(self, value: float) -> str:
        return babel_numbers.format_percent(
            value / 100, format="+#,##0.#%;-#,##0.#%", locale=self.locale
        )

    def day(self, when: date) -> str:
        return babel_dates.format_skeleton("MMMd", when, locale=self.locale)

    def span(self, start: date, end: date) -> str:
        if start == end:
            return self.day(start)
        return babel_dates.format_interval(start, end, "yMMMd", locale=self.locale)

    def bucket(self, start: date, end: date) -> str:
        if start == end:
            return self.day(start)
        return babel_dates.format_interval(start, end, "MMMd", locale=self.locale)


def _trend(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return "unknown"
    return "up" if now > before else "down" if now < before else "same"


def _change(
    f: Formats, now: float | None, before: float | None, pct: float | None
) -> tuple[str | None, str | None]:
    absolute = f.number(abs(now - before)) if now is not None and before is not None else None
    return absolute, (f.percent(pct) if pct is not None else None)


def metric_card(
    t: Translator,
    f: Formats,
    key: str,
    name: str,
    explanation: str,
    summary: schemas.SummaryOut,
    series: schemas.TimeseriesOut,
) -> Metric:
    """One number of the summary beside the period before, with its chart and table (the
    brand's analytics page draws its cards the same way)."""
    now = getattr(summary.totals, key)
    before = getattr(summary.previous, key)
    change, pct = _change(f, now, before, summary.change_pct.get(key))
    labels = [f.bucket(p.start, p.end) for p in series.points]
    current = [getattr(p.totals, key) for p in series.points]
    previous = [getattr(p.totals, key) for p in series.previous_points]
    previous += [None] * (len(current) - len(previous))
    previous_labels = [f.bucket(p.start, p.end) for p in series.previous_points]
    previous_labels += [""] * (len(current) - len(previous_labels))
    metric = Metric(
        key=key,
        name=t.gettext(name),
        explanation=t.gettext(explanation),
        value=f.number(now),
        previous=f.number(before),
        change=change,
        change_pct=pct,
        trend=_trend(now, before),
    )
    metric.rows = [
        Row(labels[i], f.number(current[i]), previous_labels[i], f.number(previous[i]))
        for i in range(len(current))
    ]
    if any(v is not None for v in current + previous):
        metric.chart = charts.line_chart(
            chart_id=f"chart-{key}",
            title=t.gettext("%(metric)s, this period and the one before", metric=metric.name),
            desc=t.gettext(
                "%(metric)s: %(now)s from %(start)s to %(end)s, %(before)s the period before.",
                metric=metric.name,
                now=metric.value,
                before=metric.previous,
                start=f.day(series.period.start),
                end=f.day(series.period.end),
            ),
            labels=labels,
            series=[
                charts.Series(t.gettext("This period"), current, "current"),
                charts.Series(t.gettext("Previous period"), previous, "previous"),
            ],
            format_value=f.number,
        )
    return metric


def _rating(
    t: Translator, f: Formats, now: schemas.LeaderboardOut, before: schemas.LeaderboardOut
) -> tuple[Metric, int, int]:
    value = now.entries[0].value if now.entries else None
    previous = before.entries[0].value if before.entries else None
    count = now.entries[0].sample if now.entries else 0
    previous_count = before.entries[0].sample if before.entries else 0
    pct = (value - previous) / previous * 100 if value is not None and previous else None
    change, percent = _change(f, value, previous, pct)
    metric = Metric(
        key="rating",
        name=t.gettext("Rating"),
        explanation=t.gettext("Average stars of the reviews written in the period"),
        value=f.number(value),
        previous=f.number(previous),
        change=change,
        change_pct=percent,
        trend=_trend(value, previous),
    )
    if value is not None or previous is not None:
        this_label, before_label = t.gettext("This period"), t.gettext("Previous period")
        metric.chart = charts.bar_chart(
            chart_id="chart-rating",
            title=t.gettext("Average rating, this period and the one before"),
            desc=t.gettext(
                "Average rating: %(now)s this period, %(before)s the period before (out of 5).",
                now=metric.value,
                before=metric.previous,
            ),
            bars=[(this_label, value, "current"), (before_label, previous, "previous")],
            top=5,
            format_value=f.number,
        )
    return metric, count, previous_count


@router.get("/numbers")
async def numbers(
    request: Request,
    viewer: SignedIn,
    session: Session,
    days: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    t = translator(request)
    f = Formats(t)
    problems: dict[str, str] = {}
    chosen = DEFAULT_DAYS
    if days.strip():
        if days.strip() in {str(p) for p in PERIODS}:
            chosen = int(days)
        else:
            problems["days"] = t.gettext("Choose 7, 30 or 90 days.")
    span = period_of(chosen)
    before = span.previous()
    context: dict[str, Any] = {
        "days": chosen,
        "periods": PERIODS,
        "problems": problems,
        "period": f.span(span.start, span.end),
        "previous_period": f.span(before.start, before.end),
        "metrics": [],
        "collected": False,
        "rating": None,
    }
    location = viewer.location
    if location is None:
        return render(request, "numbers/index.html", context, status_code=422 if problems else 200)
    principal = viewer.principal
    scope = await analytics.scope_of(session, principal, "location", location.id)
    interval = "week" if chosen > 31 else "day"
    summary = await analytics.summary(session, principal, scope, span)
    series = await analytics.timeseries(session, principal, scope, span, interval)
    rating_now = await analytics.leaderboard(session, principal, scope, span, "rating", limit=1)
    rating_before = await analytics.leaderboard(
        session, principal, scope, before, "rating", limit=1
    )
    context["collected"] = bool(summary.totals.days_with_data or summary.previous.days_with_data)
    context["metrics"] = [
        metric_card(t, f, key, name, explanation, summary, series)
        for key, name, explanation in METRICS
    ]
    rate = summary.totals.engagement_rate
    if rate is not None:
        context["metrics"][-1].note = t.gettext(
            "Engagement rate: %(rate)s (engagements ÷ impressions)",
            rate=babel_numbers.format_percent(rate, format="#,##0.##%", locale=f.locale),
        )
    rating, count, previous_count = _rating(t, f, rating_now, rating_before)
    rating.note = t.gettext(
        "Reviews: %(now)s this period, %(before)s the period before.",
        now=f.number(count),
        before=f.number(previous_count),
    )
    context["rating"] = rating
    return render(request, "numbers/index.html", context, status_code=422 if problems else 200)
