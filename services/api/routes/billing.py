"""Billing: the plans, the agency's subscription (owners manage it; Stripe charges), the
upcoming invoice, and Stripe's webhook."""

from __future__ import annotations

from typing import Annotated

import stripe
import structlog
from fastapi import APIRouter, Depends, Request, status

from services.api.deps import CurrentPrincipal, Redis, Session, SettingsDep
from services.api.problems import problems
from shared.billing import service
from shared.billing.gateway import StripeGateway, verify_webhook
from shared.billing.plans import PLAN_ORDER, PLANS
from shared.billing.schemas import (
    BillingOut,
    ChangePlanIn,
    PaymentMethodIn,
    PlanOut,
    SubscribeIn,
    UpcomingInvoiceOut,
    WebhookAck,
)
from shared.db import hooks
from shared.errors import BadRequest
from shared.jobs import enqueue

router = APIRouter(prefix="/v1", tags=["billing"])
log = structlog.get_logger("chorus.billing")

PROCESS_EVENT_JOB = "billing.process_stripe_event"


async def get_gateway(request: Request, settings: SettingsDep) -> StripeGateway:
    """One Stripe client per process (its connection pool), made on first use."""
    gateway: StripeGateway | None = getattr(request.app.state, "stripe_gateway", None)
    if gateway is None:
        gateway = StripeGateway(settings)
        request.app.state.stripe_gateway = gateway
    return gateway


Gateway = Annotated[StripeGateway, Depends(get_gateway)]


@router.get(
    "/billing/plans",
    summary="The plans: price per active location, limits, channels, features",
    responses=problems(401),
    openapi_extra={"x-permission": "billing.read"},
)
async def list_plans(principal: CurrentPrincipal) -> list[PlanOut]:
    return [service.plan_out(PLANS[code]) for code in PLAN_ORDER]


@router.get(
    "/billing",
    summary="The agency's plan, subscription status, billed quantity and access",
    responses=problems(401, 403),
    openapi_extra={"x-permission": "billing.read"},
)
async def get_billing(
    session: Session, settings: SettingsDep, principal: CurrentPrincipal
) -> BillingOut:
    return await service.get_billing(session, settings, principal)


@router.post(
    "/billing/subscription",
    summary="Subscribe: a plan, billed per active location per month",
    description="Creates the Stripe customer (once), attaches the payment method (a "
    "PaymentMethod id from Stripe.js) and starts the subscription with quantity = active "
    "locations. A declined card → 402, nothing subscribed.",
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 402, 403, 409, 422, 502),
    openapi_extra={"x-permission": "billing.manage"},
)
async def subscribe(
    data: SubscribeIn,
    session: Session,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    gateway: Gateway,
) -> BillingOut:
    return await service.subscribe(session, settings, gateway, principal, data)


@router.post(
    "/billing/subscription/plan",
    summary="Change plan (Stripe prorates)",
    description="The new plan must have room for the active locations (else 402 naming both).",
    responses=problems(401, 402, 403, 409, 422, 502),
    openapi_extra={"x-permission": "billing.manage"},
)
async def change_plan(
    data: ChangePlanIn,
    session: Session,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    gateway: Gateway,
) -> BillingOut:
    return await service.change_plan(session, settings, gateway, principal, data)


@router.post(
    "/billing/subscription/cancel",
    summary="Cancel at the end of the paid period",
    description="Everything keeps working until `current_period_end`; then the agency is "
    "read-only and its data kept for the retention period. Undo with /resume.",
    responses=problems(401, 403, 409, 502),
    openapi_extra={"x-permission": "billing.manage"},
)
async def cancel(
    session: Session, settings: SettingsDep, principal: CurrentPrincipal, gateway: Gateway
) -> BillingOut:
    return await service.set_cancel_at_period_end(session, settings, gateway, principal, True)


@router.post(
    "/billing/subscription/resume",
    summary="Undo a cancellation before the period ends",
    responses=problems(401, 403, 409, 502),
    openapi_extra={"x-permission": "billing.manage"},
)
async def resume(
    session: Session, settings: SettingsDep, principal: CurrentPrincipal, gateway: Gateway
) -> BillingOut:
    return await service.set_cancel_at_period_end(session, settings, gateway, principal, False)


@router.put(
    "/billing/payment-method",
    summary="Replace the payment method; an outstanding invoice is paid at once",
    description="Paying what is due restores a read-only agency: writes work again and the "
    "paused posts go out (or are skipped if their deadline passed).",
    responses=problems(401, 402, 403, 409, 422, 502),
    openapi_extra={"x-permission": "billing.manage"},
)
async def update_payment_method(
    data: PaymentMethodIn,
    session: Session,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    gateway: Gateway,
) -> BillingOut:
    return await service.update_payment_method(session, settings, gateway, principal, data)


@router.get(
    "/billing/upcoming-invoice",
    summary="What Stripe will charge next (with prorations)",
    responses=problems(401, 403, 409, 502),
    openapi_extra={"x-permission": "billing.read"},
)
async def upcoming_invoice(
    session: Session, principal: CurrentPrincipal, gateway: Gateway
) -> UpcomingInvoiceOut:
    return await service.upcoming_invoice(session, gateway, principal)


@router.post(
    "/billing/stripe/webhook",
    summary="Stripe's webhook (signed by Stripe; not for API clients)",
    description="Verifies `Stripe-Signature` against the raw body, stores the event id in the "
    "inbox (a duplicate is a no-op) and answers at once; a job applies it. A body that is not "
    "UTF-8, not signed, or not an event the inbox can hold (an id longer than 255 characters, "
    "a wrong shape) is answered 400 and stored nowhere.",
    responses=problems(400),
    include_in_schema=False,  # for Stripe, not API clients: outside the public document
)
async def stripe_webhook(
    request: Request, session: Session, settings: SettingsDep, redis: Redis
) -> WebhookAck:
    body = await request.body()
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"the body is not UTF-8 (invalid byte at position {exc.start}); Stripe sends JSON "
            "in UTF-8",
            code="bad_encoding",
        ) from None
    try:
        verify_webhook(
            body,
            request.headers.get("stripe-signature"),
            settings.stripe_webhook_secret.get_secret_value(),
        )
    except stripe.SignatureVerificationError:
        raise BadRequest(
            "the Stripe-Signature header does not match this body and the webhook secret",
            code="bad_signature",
        ) from None
    event = service.parse_event(body)
    stored = await service.receive_event(session, event)
    if stored:
        event_id = str(event["id"])

        async def _enqueue() -> None:
            await enqueue(
                redis, PROCESS_EVENT_JOB, event_id, job_id=f"{PROCESS_EVENT_JOB}:{event_id}"
            )

        hooks.after_commit(session, _enqueue)
    return WebhookAck(received=True, duplicate=not stored)
