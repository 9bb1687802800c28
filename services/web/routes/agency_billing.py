"""Billing: the agency's plan and status, its trial or grace banner, the quantity (active
locations), the upcoming invoice, what each plan allows (the plan table), subscribing,
changing plan, cancelling and resuming, and the payment method; and the app's 402 page,
which says what the plan lacks and, to those who may manage billing, links here.

The same services as ``/v1/billing…`` with the same principal (``billing.read`` to look,
``billing.manage`` — owners — to change). The card: in Stripe's test mode (localstripe in
development and tests) the page offers Stripe's test cards and makes the PaymentMethod
itself; live, the PaymentMethod id comes from Stripe.js, never a card number through us."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import stripe
from babel.numbers import format_currency
from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from services.api.deps import Session, SettingsDep
from services.api.routes.billing import Gateway
from services.web.deps import SignedIn, Viewer
from services.web.i18n import N_
from services.web.post_words import PLATFORM_NAMES
from services.web.rendering import redirect, render, translator
from services.web.routing import web_router
from services.web.savepoint import all_or_nothing
from shared.access.policy import allowed, authorize
from shared.access.principal import Principal
from shared.billing import service as billing_service
from shared.billing.gateway import InvoiceRecord, StripeGateway
from shared.billing.plans import PLAN_ORDER, PLANS, Plan
from shared.billing.schemas import ChangePlanIn, PaymentMethodIn, SubscribeIn
from shared.config import Settings
from shared.errors import AppError

router = web_router()

STATUS_NAMES: dict[str, str] = {
    "trialing": N_("Trial"),
    "active": N_("Subscribed and paid"),
    "past_due": N_("Payment failed"),
    "unpaid": N_("Unpaid"),
    "incomplete": N_("Waiting for the first payment"),
    "canceled": N_("Canceled"),
    "incomplete_expired": N_("Canceled"),
    "trial_ended": N_("Trial ended"),
}
FEATURE_NAMES: dict[str, str] = {
    "approvals": N_("Approvals"),
    "auto_replies": N_("Automatic review replies"),
    "analytics_export": N_("Analytics export"),
    "api_keys": N_("API keys"),
    "webhooks": N_("Webhooks"),
}
"""What each plan's features are called on the billing page, by ``Feature`` value (plain
strings: naming a feature is not gating it, tests/test_plan_limits_table.py looks for gates)."""
TEST_CARDS: dict[str, str] = {
    "4242424242424242": N_("Test card that pays (Visa ending 4242)"),
    "4000000000000341": N_("Test card that is declined (ending 0341)"),
}
INVOICE_STATES: dict[str, str] = {
    "paid": N_("Paid"),
    "open": N_("Due"),
    "draft": N_("Being prepared"),
    "void": N_("Void"),
    "uncollectible": N_("Not collected"),
}
DONE = {
    "subscribed": N_("You are subscribed. Thank you!"),
    "plan": N_("The plan was changed. What it allows applies now."),
    "canceled": N_("The subscription ends with the paid period; until then everything works."),
    "resumed": N_("The subscription continues: nothing ends."),
    "card": N_("The payment method was changed."),
}


@dataclass(frozen=True, slots=True)
class PlanRow:
    plan: Plan
    current: bool
    fits: bool


def _money(request: Request, cents: int, currency: str) -> str:
    return format_currency(cents / 100, currency.upper(), locale=translator(request).locale)


def _test_mode(settings: Settings) -> bool:
    return settings.stripe_environment in ("local", "test")


async def _page(
    request: Request,
    viewer: Viewer,
    session: Session,
    settings: Settings,
    gateway: StripeGateway,
    *,
    problems: dict[str, str] | None = None,
    flash: str | None = None,
    status_code: int = 200,
) -> Response:
    billing = await billing_service.get_billing(session, settings, viewer.principal)
    upcoming = None
    upcoming_failed = False
    if billing.subscribed and billing.status not in ("canceled", "incomplete_expired"):
        try:
            async with all_or_nothing(session):
                upcoming = await billing_service.upcoming_invoice(
                    session, gateway, viewer.principal
                )
        except AppError:
            upcoming_failed = True
    invoices: list[InvoiceRecord] = []
    invoices_failed = False
    if billing.subscribed:
        try:
            async with all_or_nothing(session):
                invoices = await billing_service.invoices(session, gateway, viewer.principal)
        except AppError:
            invoices_failed = True
    plans = [
        PlanRow(
            PLANS[code],
            code == billing.plan.code,
            PLANS[code].allows_locations(billing.active_locations),
        )
        for code in PLAN_ORDER
    ]
    return render(
        request,
        "agency/billing.html",
        {
            "billing": billing,
            "live": billing.subscribed and billing.status not in ("canceled", "incomplete_expired"),
            "upcoming": upcoming,
            "upcoming_failed": upcoming_failed,
            "invoices": invoices,
            "invoices_failed": invoices_failed,
            "invoice_states": INVOICE_STATES,
            "plans": plans,
            "status_names": STATUS_NAMES,
            "feature_names": FEATURE_NAMES,
            "platform_names": PLATFORM_NAMES,
            "may_manage": viewer.may_in_agency("billing.manage"),
            "test_mode": _test_mode(settings),
            "test_cards": TEST_CARDS,
            "problems": problems or {},
            "flash": flash,
            "money": lambda cents, currency: _money(request, cents, currency),
        },
        status_code=status_code if not problems or status_code != 200 else 422,
    )


@router.get("/agency/billing")
async def billing_page(
    request: Request,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    gateway: Gateway,
    done: str | None = None,
) -> Response:
    authorize(viewer.principal, "billing.read")
    flash = translator(request).gettext(DONE[done]) if done in DONE else None
    return await _page(request, viewer, session, settings, gateway, flash=flash)


async def _payment_method(
    t: Any, settings: Settings, gateway: StripeGateway, card: str, payment_method: str
) -> tuple[str | None, dict[str, str]]:
    """The PaymentMethod id: in test mode made here from a Stripe test card, else the id
    Stripe.js made in the browser."""
    if _test_mode(settings) and card:
        if card not in TEST_CARDS:
            return None, {"card": t.gettext("Choose one of the test cards.")}
        try:
            made = await gateway.client.v1.payment_methods.create_async(
                {
                    "type": "card",
                    "card": {"number": card, "exp_month": 12, "exp_year": 2040, "cvc": "123"},
                }
            )
        except stripe.StripeError:
            return None, {"": t.gettext("Stripe could not be reached. Try again in a moment.")}
        return str(made["id"]), {}
    typed = payment_method.strip()
    try:
        PaymentMethodIn(payment_method=typed)
    except ValidationError:
        field = "card" if _test_mode(settings) else "payment_method"
        return None, {field: t.gettext("Choose the payment method.")}
    return typed, {}


def _billing_problem(t: Any, exc: AppError) -> dict[str, str]:
    """A refusal of the billing service, said on the page (the plan too small, the card
    declined, Stripe away); anything else stays its error page."""
    if exc.error_code == "plan_location_limit":
        return {"": t.gettext("That plan has no room for your active locations.")}
    if exc.error_code == "card_declined":
        return {"card": t.gettext("The card was declined. Use another payment method.")}
    if exc.error_code == "unknown_payment_method":
        return {"payment_method": t.gettext("Stripe has no such payment method.")}
    if exc.error_code in ("already_subscribed", "not_subscribed"):
        return {"": t.gettext("The subscription changed meanwhile. Look again and retry.")}
    if exc.error_code in ("stripe_error", "billing_not_configured"):
        return {"": t.gettext("Stripe could not be reached. Try again in a moment.")}
    raise exc


async def _change(
    request: Request,
    viewer: Viewer,
    session: Session,
    settings: Settings,
    gateway: StripeGateway,
    change: Callable[[], Awaitable[object]],
    done: str,
    *,
    refused_status: Callable[[AppError], int] = lambda exc: exc.status_code,
) -> Response:
    """Runs one change of the subscription (nothing of it kept when Stripe or a check refuses
    it): back to the billing page saying it is done, or the page again with the refusal."""
    try:
        async with all_or_nothing(session):
            await change()
    except AppError as exc:
        return await _page(
            request,
            viewer,
            session,
            settings,
            gateway,
            problems=_billing_problem(translator(request), exc),
            status_code=refused_status(exc),
        )
    return redirect(f"/agency/billing?done={done}")


@router.post("/agency/billing/subscribe")
async def subscribe(
    request: Request,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    gateway: Gateway,
    plan: Annotated[str, Form(max_length=40)] = "",
    card: Annotated[str, Form(max_length=40)] = "",
    payment_method: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    authorize(viewer.principal, "billing.manage")
    t = translator(request)
    problems: dict[str, str] = {}
    if plan not in PLANS:
        problems["plan"] = t.gettext("Choose a plan.")
    method, more = await _payment_method(t, settings, gateway, card, payment_method)
    problems.update(more)
    if problems or method is None:
        return await _page(request, viewer, session, settings, gateway, problems=problems)
    return await _change(
        request,
        viewer,
        session,
        settings,
        gateway,
        lambda: billing_service.subscribe(
            session,
            settings,
            gateway,
            viewer.principal,
            SubscribeIn(plan=plan, payment_method=method),
        ),
        "subscribed",
        refused_status=lambda exc: 402 if exc.status_code == 402 else 422,
    )


@router.post("/agency/billing/plan")
async def change_plan(
    request: Request,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    gateway: Gateway,
    plan: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    authorize(viewer.principal, "billing.manage")
    t = translator(request)
    if plan not in PLANS:
        return await _page(
            request, viewer, session, settings, gateway, problems={"": t.gettext("Choose a plan.")}
        )
    return await _change(
        request,
        viewer,
        session,
        settings,
        gateway,
        lambda: billing_service.change_plan(
            session, settings, gateway, viewer.principal, ChangePlanIn(plan=plan)
        ),
        "plan",
    )


async def _cancel_or_resume(
    request: Request,
    viewer: Viewer,
    session: Session,
    settings: Settings,
    gateway: StripeGateway,
    cancel: bool,
) -> Response:
    authorize(viewer.principal, "billing.manage")
    return await _change(
        request,
        viewer,
        session,
        settings,
        gateway,
        lambda: billing_service.set_cancel_at_period_end(
            session, settings, gateway, viewer.principal, cancel
        ),
        "canceled" if cancel else "resumed",
    )


@router.post("/agency/billing/cancel")
async def cancel(
    request: Request, viewer: SignedIn, session: Session, settings: SettingsDep, gateway: Gateway
) -> Response:
    return await _cancel_or_resume(request, viewer, session, settings, gateway, True)


@router.post("/agency/billing/resume")
async def resume(
    request: Request, viewer: SignedIn, session: Session, settings: SettingsDep, gateway: Gateway
) -> Response:
    return await _cancel_or_resume(request, viewer, session, settings, gateway, False)


@router.post("/agency/billing/payment-method")
async def payment_method(
    request: Request,
    viewer: SignedIn,
    session: Session,
    settings: SettingsDep,
    gateway: Gateway,
    card: Annotated[str, Form(max_length=40)] = "",
    payment_method: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    authorize(viewer.principal, "billing.manage")
    t = translator(request)
    method, problems = await _payment_method(t, settings, gateway, card, payment_method)
    if problems or method is None:
        return await _page(request, viewer, session, settings, gateway, problems=problems)
    return await _change(
        request,
        viewer,
        session,
        settings,
        gateway,
        lambda: billing_service.update_payment_method(
            session, settings, gateway, viewer.principal, PaymentMethodIn(payment_method=method)
        ),
        "card",
    )


# The app's 402 ------------------------------------------------------------------------------


def upgrade_page(request: Request, exc: AppError) -> Response:
    """What a 402 of the app shows on a web path: what the plan lacks (a feature, room for
    locations, a channel) or that the agency is read-only, and the way out: the billing page
    for those who may manage billing, their owner for everyone else."""
    principal: Principal | None = getattr(request.state, "principal", None)
    may_manage = principal is not None and allowed(principal, "billing.manage")
    may_read = principal is not None and allowed(principal, "billing.read")
    extra = exc.extra
    upgrade_to = PLANS.get(str(extra.get("upgrade_to") or ""))
    current = PLANS.get(str(extra.get("plan") or ""))
    return render(
        request,
        "agency/upgrade.html",
        {
            "code": exc.error_code,
            "feature": FEATURE_NAMES.get(str(extra.get("feature") or "")),
            "channels": [PLATFORM_NAMES.get(c, c) for c in extra.get("channels") or []],
            "upgrade_to": upgrade_to,
            "current": current,
            "may_manage": may_manage,
            "may_read": may_read,
        },
        status_code=402,
    )
