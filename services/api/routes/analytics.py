"""Analytics: totals with the previous period, time series, leaderboards and CSV export, for
the agency, a brand, a location group or a location. Every route needs ``metric.read`` where
the numbers are; what the caller cannot see at all is 404."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse

from services.api.deps import CurrentPrincipal, Session, get_database
from services.api.problems import problems
from shared.analytics import schemas, service
from shared.fieldtypes import MaybeDate
from shared.platforms.registry import PLATFORM_NAMES

router = APIRouter(prefix="/v1", tags=["analytics"])

PERMISSION = {"x-permission": "metric.read"}
From = Annotated[
    MaybeDate,
    Query(
        alias="from",
        description="First day (UTC), included. Default: 30 days before `to`.",
    ),
]
To = Annotated[
    MaybeDate,
    Query(alias="to", description="Last day (UTC), included. Default: yesterday."),
]
Platforms = Annotated[
    list[str] | None,
    Query(
        alias="platform",
        description="Only these channels (repeat the parameter).",
        json_schema_extra={"items": {"type": "string", "enum": list(PLATFORM_NAMES)}},
    ),
]
IntervalQ = Annotated[schemas.Interval, Query(description="Bucket size; weeks start Monday.")]
MetricQ = Annotated[schemas.LeaderboardMetric, Query()]
OrderQ = Annotated[str, Query(pattern="^(best|worst)$")]
LimitQ = Annotated[int, Query(ge=1, le=100)]

SCOPES: tuple[tuple[str, str, str | None, str], ...] = (
    ("agency", "/analytics", None, "the whole agency (needs an agency-wide role)"),
    ("brand", "/brands/{brand_id}/analytics", "brand_id", "a brand"),
    ("group", "/location-groups/{group_id}/analytics", "group_id", "a location group"),
    ("location", "/locations/{location_id}/analytics", "location_id", "a location"),
)


def _register(kind: str, prefix: str, param: str | None, what: str) -> None:
    if param is None:

        async def scope_id_dep() -> uuid.UUID | None:
            return None
    else:

        async def scope_id_dep(  # type: ignore[misc]
            scope_id: Annotated[uuid.UUID, Path(alias=param)],
        ) -> uuid.UUID | None:
            return scope_id

    ScopeId = Annotated[uuid.UUID | None, Depends(scope_id_dep)]
    errors = problems(401, 403, 404, 422) if param else problems(401, 403, 422)

    @router.get(
        f"{prefix}/summary",
        summary=f"Totals for {what}, compared with the previous period",
        description="Sums over the range per number (followers: the audience on the last day "
        "with data), the same for the period of equal length just before, the change in "
        "percent, and the same per channel.",
        responses=errors,
        openapi_extra=PERMISSION,
        name=f"analytics_summary_{kind}",
    )
    async def summary(
        session: Session,
        principal: CurrentPrincipal,
        scope_id: ScopeId,
        start: From = None,
        end: To = None,
        platform: Platforms = None,
    ) -> schemas.SummaryOut:
        scope = await service.scope_of(session, principal, kind, scope_id)
        span = service.date_range(start, end)
        return await service.summary(
            session, principal, scope, span, service.check_platforms(platform)
        )

    @router.get(
        f"{prefix}/timeseries",
        summary=f"Daily, weekly or monthly numbers for {what}, with the previous period",
        responses=errors,
        openapi_extra=PERMISSION,
        name=f"analytics_timeseries_{kind}",
    )
    async def timeseries(
        session: Session,
        principal: CurrentPrincipal,
        scope_id: ScopeId,
        start: From = None,
        end: To = None,
        interval: IntervalQ = "day",
        platform: Platforms = None,
    ) -> schemas.TimeseriesOut:
        scope = await service.scope_of(session, principal, kind, scope_id)
        span = service.date_range(start, end)
        return await service.timeseries(
            session, principal, scope, span, interval, service.check_platforms(platform)
        )

    if kind != "location":

        @router.get(
            f"{prefix}/leaderboard",
            summary=f"The best or worst locations of {what}",
            description="By engagement rate (engagements ÷ impressions), average rating, "
            "response rate (replied ÷ reviews) or average response time in hours (lower is "
            "better) over reviews written in the range.",
            responses=errors,
            openapi_extra=PERMISSION,
            name=f"analytics_leaderboard_{kind}",
        )
        async def leaderboard(
            session: Session,
            principal: CurrentPrincipal,
            scope_id: ScopeId,
            metric: MetricQ = "engagement_rate",
            order: OrderQ = "best",
            limit: LimitQ = 10,
            start: From = None,
            end: To = None,
            platform: Platforms = None,
        ) -> schemas.LeaderboardOut:
            scope = await service.scope_of(session, principal, kind, scope_id)
            span = service.date_range(start, end)
            return await service.leaderboard(
                session,
                principal,
                scope,
                span,
                metric,
                order=order,
                limit=limit,
                platforms=service.check_platforms(platform),
            )

    @router.get(
        f"{prefix}/export",
        summary=f"Daily numbers of {what} as CSV",
        description="One line per location, channel and day: "
        + ", ".join(f"`{c}`" for c in service.EXPORT_COLUMNS)
        + ". Numbers a platform did not give are empty.",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **errors},
        openapi_extra=PERMISSION,
        name=f"analytics_export_{kind}",
    )
    async def export(
        request: Request,
        session: Session,
        principal: CurrentPrincipal,
        scope_id: ScopeId,
        start: From = None,
        end: To = None,
        platform: Platforms = None,
    ) -> StreamingResponse:
        scope = await service.export_scope(session, principal, kind, scope_id)
        span = service.date_range(start, end)
        stream = service.export_csv(
            get_database(request), principal, scope, span, service.check_platforms(platform)
        )
        filename = service.export_filename(scope, span)
        return StreamingResponse(
            stream,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )


for _kind, _prefix, _param, _what in SCOPES:
    _register(_kind, _prefix, _param, _what)
