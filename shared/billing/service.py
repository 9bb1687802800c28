"""Billing rules: subscribing and changing the subscription through Stripe, mirroring what
Stripe says into the agency's standing, the webhook inbox, dunning and the quantity sync.

Stripe is the source of truth for the subscription: every effect re-reads it from Stripe
rather than trusting an event's payload, so events may arrive late, twice or out of order.
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import structlog
from sqlalchemy import func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.access.policy import authorize
from shared.access.principal import Principal
from shared.agencies.models import Agency
from shared.audit import service as audit
from shared.billing import entitlements
from shared.billing.errors import PaymentRequired
from shared.billing.gateway import InvoiceRecord, StripeGateway, SubscriptionState
from shared.billing.models import BillingAccount, StripeEvent
from shared.billing.plans import Plan, get_plan
from shared.billing.schemas import (
    BillingBanner,
    BillingOut,
    ChangePlanIn,
    InvoiceLineOut,
    PaymentMethodIn,
    PaymentMethodOut,
    PlanOut,
    SubscribeIn,
    UpcomingInvoiceOut,
)
from shared.config import Settings
from shared.db import Database
from shared.db.tenancy import set_tenant
from shared.errors import BadRequest, Conflict, FieldProblem
from shared.events.service import emit
from shared.identity.models import User
from shared.posts import transitions

log = structlog.get_logger("chorus.billing")

SCAN = "billing"
LIVE = ("active", "trialing", "past_due", "unpaid", "incomplete")
DUNNING = ("past_due", "unpaid", "incomplete")
ENDED = ("canceled", "incomplete_expired")


def plan_out(plan: Plan) -> PlanOut:
    return PlanOut(
        code=plan.code,
        name=plan.name,
        price_per_location_cents=plan.price_per_location_cents,
        currency=plan.currency,
        location_limit=plan.location_limit,
        channels=sorted(plan.channels),
        features=sorted(f.value for f in plan.features),
        api_rate=plan.api_rate,
        trial_days=plan.trial_days,
    )


async def _account(session: AsyncSession, agency_id: uuid.UUID) -> BillingAccount | None:
    stmt = select(BillingAccount).where(BillingAccount.agency_id == agency_id)
    return (await session.execute(stmt.with_for_update())).scalar_one_or_none()


async def _ensure_account(
    session: AsyncSession, settings: Settings, agency_id: uuid.UUID
) -> BillingAccount:
    await session.execute(
        insert(BillingAccount)
        .values(
            agency_id=agency_id,
            id=uuid.uuid4(),
            plan=settings.billing_trial_plan,
            status="none",
            access="full",
        )
        .on_conflict_do_nothing(index_elements=["agency_id"])
    )
    account = await _account(session, agency_id)
    assert account is not None
    return account


# Reading -----------------------------------------------------------------------------------


async def get_billing(
    session: AsyncSession, settings: Settings, principal: Principal
) -> BillingOut:
    authorize(principal, "billing.read")
    return await _billing_out(session, settings, principal.agency_id)


async def _billing_out(
    session: AsyncSession, settings: Settings, agency_id: uuid.UUID
) -> BillingOut:
    account = (
        await session.execute(select(BillingAccount).where(BillingAccount.agency_id == agency_id))
    ).scalar_one_or_none()
    active = await entitlements.active_locations(session, agency_id)
    if account is None:
        plan = get_plan(settings.billing_trial_plan)
        created = (
            await session.execute(select(Agency.created_at).where(Agency.id == agency_id))
        ).scalar_one()
        return BillingOut(
            plan=plan_out(plan),
            status="trialing",
            access="full",
            subscribed=False,
            billed_quantity=0,
            active_locations=active,
            quantity_pending=False,
            publishing_paused=False,
            cancel_at_period_end=False,
            current_period_end=None,
            trial_ends_at=created + timedelta(days=plan.trial_days),
            grace_ends_at=None,
            retain_until=None,
            payment_method=None,
        )
    card = None
    if account.payment_method_last4:
        card = PaymentMethodOut(
            brand=account.payment_method_brand, last4=account.payment_method_last4
        )
    return BillingOut(
        plan=plan_out(get_plan(account.plan)),
        status=account.status,
        access=account.access,
        subscribed=account.stripe_subscription_id is not None,
        billed_quantity=account.quantity,
        active_locations=active,
        quantity_pending=account.quantity_dirty_at is not None,
        publishing_paused=account.publishing_paused,
        cancel_at_period_end=account.cancel_at_period_end,
        current_period_end=account.current_period_end,
        trial_ends_at=account.trial_ends_at,
        grace_ends_at=account.grace_ends_at,
        retain_until=account.retain_until,
        payment_method=card,
    )


async def banner(session: AsyncSession, settings: Settings, agency_id: uuid.UUID) -> BillingBanner:
    current = await entitlements.standing(session, settings, agency_id)
    if current.access == "warning":
        when = current.grace_ends_at.isoformat() if current.grace_ends_at else "soon"
        return BillingBanner(
            show=True,
            level="warning",
            message=f"a payment failed: update the payment method before {when} or the agency "
            "becomes read-only and publishing pauses",
            access="warning",
            grace_ends_at=current.grace_ends_at,
        )
    if current.access == "read_only":
        return BillingBanner(
            show=True,
            level="critical",
            message="this agency is read-only and publishing is paused until paid; "
            + entitlements.SUBSCRIBE_HOW,
            access="read_only",
            grace_ends_at=current.grace_ends_at,
        )
    return BillingBanner(show=False, level="none", message=None, access="full", grace_ends_at=None)


async def upcoming_invoice(
    session: AsyncSession, gateway: StripeGateway, principal: Principal
) -> UpcomingInvoiceOut:
    authorize(principal, "billing.read")
    account = (
        await session.execute(
            select(BillingAccount).where(BillingAccount.agency_id == principal.agency_id)
        )
    ).scalar_one_or_none()
    if account is None or not account.stripe_subscription_id or not account.stripe_customer_id:
        raise Conflict(
            "there is no subscription yet, so no invoice; subscribe with "
            "POST /v1/billing/subscription",
            code="not_subscribed",
        )
    preview = await gateway.upcoming_invoice(
        account.stripe_customer_id, account.stripe_subscription_id
    )
    return UpcomingInvoiceOut(
        amount_due=preview.amount_due,
        currency=preview.currency,
        period_end=preview.period_end,
        lines=[InvoiceLineOut(**line) for line in preview.lines],
    )


async def invoices(
    session: AsyncSession, gateway: StripeGateway, principal: Principal, limit: int = 12
) -> list[InvoiceRecord]:
    """The agency's past invoices from Stripe, newest first (none before it subscribes)."""
    authorize(principal, "billing.read")
    account = await _account(session, principal.agency_id)
    if account is None or not account.stripe_customer_id:
        return []
    return await gateway.list_invoices(account.stripe_customer_id, limit)


# Changing ----------------------------------------------------------------------------------


def _snap(account: BillingAccount) -> dict[str, Any]:
    return {
        "plan": account.plan,
        "status": account.status,
        "access": account.access,
        "quantity": account.quantity,
        "cancel_at_period_end": account.cancel_at_period_end,
    }


def _ensure_fits(plan: Plan, active: int, subscribed: bool) -> None:
    if not plan.allows_locations(active):
        current = entitlements.Standing(plan, "none", "full", subscribed)
        raise entitlements.location_limit_error(current, plan, active)


async def subscribe(
    session: AsyncSession,
    settings: Settings,
    gateway: StripeGateway,
    principal: Principal,
    data: SubscribeIn,
) -> BillingOut:
    authorize(principal, "billing.manage")
    agency_id = principal.agency_id
    account = await _ensure_account(session, settings, agency_id)
    if account.stripe_subscription_id and account.status not in ENDED:
        raise Conflict(
            f"this agency already subscribes to {get_plan(account.plan).name} "
            f"({account.status}); change it with POST /v1/billing/subscription/plan",
            code="already_subscribed",
        )
    plan = get_plan(data.plan)
    active = await entitlements.active_locations(session, agency_id)
    _ensure_fits(plan, active, subscribed=True)
    before = _snap(account)
    if not account.stripe_customer_id or not await gateway.customer_exists(
        account.stripe_customer_id
    ):
        name = (
            await session.execute(select(Agency.name).where(Agency.id == agency_id))
        ).scalar_one()
        email = None
        if principal.user_id is not None:
            email = (
                await session.execute(select(User.email).where(User.id == principal.user_id))
            ).scalar_one_or_none()
        account.stripe_customer_id = await gateway.create_customer(agency_id, name, email)
    card = await gateway.set_payment_method(account.stripe_customer_id, data.payment_method)
    account.payment_method_brand, account.payment_method_last4 = card.brand, card.last4
    state = await gateway.create_subscription(
        agency_id,
        account.stripe_customer_id,
        plan,
        active,
        trial_end=None,
        key=f"{agency_id}:{plan.code}:{data.payment_method}:{account.stripe_subscription_id}",
    )
    account.quantity_dirty_at = None
    await _apply(session, settings, account, state, clock.now())
    audit.record_by(
        session, principal, "billing.subscribe", "agency", agency_id, before, _snap(account)
    )
    await session.flush()
    return await _billing_out(session, settings, agency_id)


async def _live_account(
    session: AsyncSession, settings: Settings, principal: Principal
) -> BillingAccount:
    authorize(principal, "billing.manage")
    account = await _account(session, principal.agency_id)
    if account is None or not account.stripe_subscription_id or account.status in ENDED:
        raise Conflict(
            "there is no live subscription to change; subscribe with POST /v1/billing/subscription",
            code="not_subscribed",
        )
    return account


async def change_plan(
    session: AsyncSession,
    settings: Settings,
    gateway: StripeGateway,
    principal: Principal,
    data: ChangePlanIn,
) -> BillingOut:
    account = await _live_account(session, settings, principal)
    plan = get_plan(data.plan)
    active = await entitlements.active_locations(session, principal.agency_id)
    _ensure_fits(plan, active, subscribed=True)
    before = _snap(account)
    assert account.stripe_subscription_id is not None
    state = await gateway.update_subscription(
        account.stripe_subscription_id, plan=plan, quantity=active, key=uuid.uuid4().hex
    )
    account.quantity_dirty_at = None
    await _apply(session, settings, account, state, clock.now())
    audit.record_by(
        session,
        principal,
        "billing.change_plan",
        "agency",
        principal.agency_id,
        before,
        _snap(account),
    )
    await session.flush()
    return await _billing_out(session, settings, principal.agency_id)


async def set_cancel_at_period_end(
    session: AsyncSession,
    settings: Settings,
    gateway: StripeGateway,
    principal: Principal,
    cancel: bool,
) -> BillingOut:
    account = await _live_account(session, settings, principal)
    before = _snap(account)
    assert account.stripe_subscription_id is not None
    state = await gateway.update_subscription(
        account.stripe_subscription_id, cancel_at_period_end=cancel, key=uuid.uuid4().hex
    )
    await _apply(session, settings, account, state, clock.now())
    audit.record_by(
        session,
        principal,
        "billing.cancel" if cancel else "billing.resume",
        "agency",
        principal.agency_id,
        before,
        _snap(account),
    )
    await session.flush()
    return await _billing_out(session, settings, principal.agency_id)


async def update_payment_method(
    session: AsyncSession,
    settings: Settings,
    gateway: StripeGateway,
    principal: Principal,
    data: PaymentMethodIn,
) -> BillingOut:
    """New card; when a payment is outstanding, it is paid at once, and paying restores
    everything (writes, publishing)."""
    authorize(principal, "billing.manage")
    account = await _account(session, principal.agency_id)
    if account is None or not account.stripe_customer_id:
        raise Conflict(
            "subscribe first (POST /v1/billing/subscription): it takes the payment method",
            code="not_subscribed",
        )
    card = await gateway.set_payment_method(account.stripe_customer_id, data.payment_method)
    account.payment_method_brand, account.payment_method_last4 = card.brand, card.last4
    if account.status in DUNNING:
        await gateway.pay_open_invoices(account.stripe_customer_id, key=data.payment_method)
    if account.stripe_subscription_id:
        state = await gateway.retrieve_subscription(account.stripe_subscription_id)
        await _apply(session, settings, account, state, clock.now())
    audit.record_by(
        session,
        principal,
        "billing.payment_method",
        "agency",
        principal.agency_id,
        details={"brand": card.brand, "last4": card.last4},
    )
    await session.flush()
    return await _billing_out(session, settings, principal.agency_id)


# Mirroring Stripe --------------------------------------------------------------------------


def _event(session: AsyncSession, account: BillingAccount, type_: str, **payload: Any) -> None:
    emit(
        session,
        agency_id=account.agency_id,
        type=type_,
        subject_type="agency",
        subject_id=account.agency_id,
        payload={"plan": account.plan, "status": account.status, "access": account.access}
        | payload,
    )


async def _apply(
    session: AsyncSession,
    settings: Settings,
    account: BillingAccount,
    state: SubscriptionState | None,
    now: datetime,
    *,
    customer_gone: bool = False,
) -> None:
    """Mirror Stripe's subscription into the account and derive access from it."""
    before = _snap(account)
    old_access = account.access
    if customer_gone or state is None:
        if customer_gone:
            account.stripe_customer_id = None
        account.status = (
            "canceled" if (customer_gone or account.stripe_subscription_id) else (account.status)
        )
        account.stripe_subscription_id = None if customer_gone else account.stripe_subscription_id
        account.cancel_at_period_end = False
    else:
        account.stripe_subscription_id = state.id
        account.status = state.status
        if state.plan is not None:
            account.plan = state.plan.code
        account.quantity = state.quantity
        account.cancel_at_period_end = state.cancel_at_period_end
        account.current_period_end = state.current_period_end
        account.trial_ends_at = state.trial_end
    account.stripe_synced_at = now
    if account.status in ("active", "trialing"):
        account.access = "full"
        account.past_due_since = account.grace_ends_at = None
        account.canceled_at = account.retain_until = None
    elif account.status in DUNNING:
        if account.past_due_since is None:
            account.past_due_since = now
            account.grace_ends_at = now + timedelta(seconds=settings.billing_grace_seconds)
        over = account.grace_ends_at is not None and now >= account.grace_ends_at
        account.access = "read_only" if over or account.status == "unpaid" else "warning"
    elif account.status in ENDED:
        account.access = "read_only"
        if account.canceled_at is None:
            account.canceled_at = (state.canceled_at if state else None) or now
            account.retain_until = account.canceled_at + timedelta(
                days=settings.billing_retention_days
            )
    account.publishing_paused = account.access == "read_only"
    if _snap(account) != before:
        _event(session, account, "subscription.updated", previous=before)
    if account.access != old_access:
        if account.access == "warning":
            _event(
                session,
                account,
                "billing.payment_failed",
                grace_ends_at=account.grace_ends_at.isoformat() if account.grace_ends_at else None,
            )
        elif account.access == "read_only":
            _event(session, account, "billing.read_only")
        else:
            skipped = 0
            if old_access == "read_only":
                skipped = await _skip_late_posts(session, account.agency_id, now)
            _event(session, account, "billing.restored", skipped_posts=skipped)
            log.info("billing.restored", agency_id=str(account.agency_id), skipped=skipped)


PAST_DEADLINE = "its publish deadline passed while the agency was read-only (unpaid)"


async def _skip_late_posts(session: AsyncSession, agency_id: uuid.UUID, now: datetime) -> int:
    """On restore: the posts that waited go out, except those whose deadline passed
    meanwhile, which are skipped saying why (as a resumed campaign does)."""
    late = (
        await session.execute(
            text(
                """
                UPDATE post p SET status = 'skipped', status_reason = :reason,
                                  due_at = NULL, updated_at = now()
                FROM (SELECT id, status FROM post
                      WHERE agency_id = :agency_id AND status = 'scheduled'
                        AND publish_deadline <= :now
                      FOR UPDATE) old
                WHERE p.agency_id = :agency_id AND p.id = old.id
                RETURNING p.id, old.status
                """
            ),
            {"agency_id": agency_id, "reason": PAST_DEADLINE, "now": now},
        )
    ).all()
    await transitions.record_many(
        session,
        agency_id,
        [transitions.Moved(r[0], r[1], "skipped", PAST_DEADLINE) for r in late],
        actor=transitions.SYSTEM,
    )
    return len(late)


async def sync_from_stripe(
    session: AsyncSession,
    settings: Settings,
    gateway: StripeGateway,
    account: BillingAccount,
    now: datetime,
    *,
    customer: str,
) -> None:
    if not await gateway.customer_exists(customer):
        await _apply(session, settings, account, None, now, customer_gone=True)
        return
    account.stripe_customer_id = customer
    state = await gateway.latest_subscription(customer)
    await _apply(session, settings, account, state, now)


# Webhook inbox -----------------------------------------------------------------------------


async def receive_event(session: AsyncSession, payload: dict[str, Any]) -> bool:
    """Store a verified event; False when Stripe sent this event id before."""
    inserted = (
        await session.execute(
            insert(StripeEvent)
            .values(id=str(payload["id"]), type=str(payload.get("type", "")), payload=payload)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(StripeEvent.id)
        )
    ).first()
    return inserted is not None


def _customer_of(payload: dict[str, Any]) -> tuple[str | None, str | None]:
    """The Stripe customer the event is about, and the agency our metadata names."""
    obj = (payload.get("data") or {}).get("object") or {}
    if obj.get("object") == "customer":
        customer = obj.get("id")
    else:
        customer = obj.get("customer")
        if isinstance(customer, dict):
            customer = customer.get("id")
    metadata = obj.get("metadata") or {}
    return (str(customer) if customer else None), metadata.get("agency_id")


async def _agency_of_customer(session: AsyncSession, customer: str) -> uuid.UUID | None:
    await session.execute(text("SELECT set_config('app.scan', :scan, true)"), {"scan": SCAN})
    try:
        found = (
            await session.execute(
                text("SELECT agency_id FROM billing_account WHERE stripe_customer_id = :c"),
                {"c": customer},
            )
        ).scalar_one_or_none()
    finally:
        await session.execute(text("SELECT set_config('app.scan', '', true)"))
    return found


@dataclass(frozen=True, slots=True)
class Processed:
    outcome: str
    agency_id: uuid.UUID | None = None


async def process_event(
    db: Database, settings: Settings, gateway: StripeGateway, event_id: str, *, now: datetime
) -> Processed:
    """Apply one inbox event: re-read the customer's subscription from Stripe and mirror it.
    The inbox row is marked processed in the same transaction as the effect. A row another
    transaction holds longer than ``EVENT_LOCK_TIMEOUT_MS`` fails this attempt as a lock
    timeout (transient: the job retries) instead of holding the job indefinitely."""
    async with db.transaction() as session:
        await session.execute(
            text("SELECT set_config('lock_timeout', :ms, true)"),
            {"ms": f"{EVENT_LOCK_TIMEOUT_MS}ms"},
        )
        event = (
            await session.execute(
                select(StripeEvent).where(StripeEvent.id == event_id).with_for_update()
            )
        ).scalar_one_or_none()
        if event is None:
            return Processed("missing")
        if event.processed_at is not None:
            return Processed("duplicate", event.agency_id)
        customer, named_agency = _customer_of(event.payload)
        agency_id = await _agency_of_customer(session, customer) if customer else None
        if agency_id is None and named_agency:
            agency_id = uuid.UUID(named_agency)
        event.processed_at = now
        event.attempts += 1
        event.next_attempt_at = None
        if agency_id is None or customer is None:
            event.last_error = "no agency has this Stripe customer"
            log.info("billing.event_unmatched", event_id=event_id, type=event.type)
            return Processed("unmatched")
        event.agency_id = agency_id
        await set_tenant(session, agency_id, None)
        account = await _ensure_account(session, settings, agency_id)
        if account.stripe_customer_id not in (None, customer):
            event.last_error = "the agency now has another Stripe customer"
            return Processed("stale", agency_id)
        await sync_from_stripe(session, settings, gateway, account, now, customer=customer)
        log.info("billing.event_processed", event_id=event_id, type=event.type)
        return Processed("applied", agency_id)


EVENT_RETRY_S = (5, 30, 120, 600, 1800, 3600)
"""After an event's n-th failed attempt the next one is due this long after (±20 %); the
last step repeats: an event is never given up, since a late success is always right."""
EVENT_LOCK_TIMEOUT_MS = 5000


@dataclass(frozen=True, slots=True)
class EventFailure:
    attempts: int
    next_attempt_at: datetime


def next_attempt_delay(attempts: int) -> timedelta:
    base = EVENT_RETRY_S[min(max(attempts, 1) - 1, len(EVENT_RETRY_S) - 1)]
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


async def record_failure(
    db: Database, event_id: str, reason: str, *, now: datetime
) -> EventFailure | None:
    """Mark an attempt at ``event_id`` failed, saying why, and when to try again (in a
    transaction of its own: the attempt's own was rolled back). None: no such event, or it
    was processed meanwhile (by another job)."""
    async with db.transaction() as session:
        event = (
            await session.execute(
                select(StripeEvent).where(StripeEvent.id == event_id).with_for_update()
            )
        ).scalar_one_or_none()
        if event is None or event.processed_at is not None:
            return None
        event.attempts += 1
        event.last_error = reason[:2000]
        event.failed_at = now
        event.next_attempt_at = now + next_attempt_delay(event.attempts)
        return EventFailure(event.attempts, event.next_attempt_at)


# Sweeps ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboxHealth:
    """The webhook inbox as operators watch it (``/metrics``): events not yet applied, those
    whose last attempt failed among them, and how long the oldest has waited."""

    pending: int
    failed: int
    oldest_unprocessed_s: float

    def as_mapping(self) -> dict[str, str]:
        return {
            "pending": str(self.pending),
            "failed": str(self.failed),
            "oldest_unprocessed_s": f"{self.oldest_unprocessed_s:.0f}",
        }


@dataclass(frozen=True, slots=True)
class SweepResult:
    unprocessed_events: list[str]
    """Events whose job was lost, or whose failed attempt is due again."""
    read_only: int
    trials_ended: int
    quantity_due: list[tuple[uuid.UUID, datetime]]
    """Agencies whose quantity sync is due, with the change mark (part of the job id)."""
    inbox: InboxHealth = InboxHealth(0, 0, 0.0)


async def sweep(db: Database, settings: Settings, *, now: datetime) -> SweepResult:
    """Time-driven changes: grace periods that ran out, sign-up trials that ended, quantity
    syncs whose debounce elapsed, inbox events whose job was lost or whose failed attempt
    is due again."""
    async with db.transaction() as session:
        events = [
            str(r)
            for r in (
                await session.execute(
                    select(StripeEvent.id)
                    .where(
                        StripeEvent.processed_at.is_(None),
                        StripeEvent.received_at <= now - timedelta(seconds=60),
                        or_(
                            StripeEvent.next_attempt_at.is_(None),
                            StripeEvent.next_attempt_at <= now,
                        ),
                    )
                    .order_by(StripeEvent.received_at)
                    .limit(500)
                )
            ).scalars()
        ]
        health = (
            await session.execute(
                select(
                    func.count(),
                    func.count().filter(StripeEvent.failed_at.is_not(None)),
                    func.min(StripeEvent.received_at),
                ).where(StripeEvent.processed_at.is_(None))
            )
        ).one()
        inbox = InboxHealth(
            pending=int(health[0]),
            failed=int(health[1]),
            oldest_unprocessed_s=max(0.0, (now - health[2]).total_seconds()) if health[2] else 0.0,
        )
        await session.execute(text("SELECT set_config('app.scan', :scan, true)"), {"scan": SCAN})
        graced = list(
            (
                await session.execute(
                    text(
                        "SELECT agency_id FROM billing_account WHERE access = 'warning'"
                        " AND grace_ends_at <= :now"
                    ),
                    {"now": now},
                )
            ).scalars()
        )
        debounce = timedelta(seconds=settings.billing_quantity_debounce_seconds)
        dirty = [
            (row.agency_id, row.quantity_dirty_at)
            for row in await session.execute(
                text(
                    "SELECT agency_id, quantity_dirty_at FROM billing_account"
                    " WHERE quantity_dirty_at <= :due"
                ),
                {"due": now - debounce},
            )
        ]
        trial = get_plan(settings.billing_trial_plan)
        expired = list(
            (
                await session.execute(
                    text(
                        "SELECT a.id FROM agency a WHERE a.created_at <= :cutoff AND NOT EXISTS"
                        " (SELECT 1 FROM billing_account b WHERE b.agency_id = a.id)"
                        " LIMIT 1000"
                    ),
                    {"cutoff": now - timedelta(days=trial.trial_days)},
                )
            ).scalars()
        )
        await session.execute(text("SELECT set_config('app.scan', '', true)"))
    read_only = 0
    for agency_id in graced:
        async with db.transaction(agency_id) as session:
            account = await _account(session, agency_id)
            if account is None or account.access != "warning":
                continue
            if account.grace_ends_at is None or account.grace_ends_at > now:
                continue
            account.access = "read_only"
            account.publishing_paused = True
            _event(session, account, "billing.read_only")
            read_only += 1
    for agency_id in expired:
        async with db.transaction(agency_id) as session:
            await session.execute(
                insert(BillingAccount)
                .values(
                    agency_id=agency_id,
                    id=uuid.uuid4(),
                    plan=trial.code,
                    status="trial_ended",
                    access="read_only",
                    publishing_paused=True,
                    trial_ends_at=now,
                )
                .on_conflict_do_nothing(index_elements=["agency_id"])
            )
            emit(
                session,
                agency_id=agency_id,
                type="billing.trial_ended",
                subject_type="agency",
                subject_id=agency_id,
                payload={"plan": trial.code},
            )
    return SweepResult(events, read_only, len(expired), dirty, inbox)


async def sync_quantity(
    db: Database, settings: Settings, gateway: StripeGateway, agency_id: uuid.UUID, *, now: datetime
) -> int | None:
    """Debounced: set Stripe's quantity to the active locations now; the new quantity, or
    None when nothing was due."""
    async with db.transaction(agency_id) as session:
        account = await _account(session, agency_id)
        if account is None or account.quantity_dirty_at is None:
            return None
        marked = account.quantity_dirty_at
        account.quantity_dirty_at = None
        if not account.stripe_subscription_id or account.status in ENDED:
            return None
        active = await entitlements.active_locations(session, agency_id)
        if active == account.quantity:
            return active
        state = await gateway.update_subscription(
            account.stripe_subscription_id,
            quantity=active,
            key=f"quantity:{account.stripe_subscription_id}:{active}:{marked.timestamp()}",
        )
        await _apply(session, settings, account, state, now)
        log.info("billing.quantity_synced", agency_id=str(agency_id), quantity=state.quantity)
        return state.quantity


EVENT_ID_MAX = 255
EVENT_TYPE_MAX = 100
"""The inbox columns' lengths (``StripeEvent.id``, ``StripeEvent.type``)."""
_EVENT_ID = re.compile(r"[A-Za-z0-9_\-]+")


def parse_event(body: bytes) -> dict[str, Any]:
    """The webhook's verified body as an inbox row can hold it and a job can apply it, or
    ``BadRequest`` (400) naming every field that is not (never an error from the database
    or a crash in the job later)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not JSON ({exc})", code="bad_event") from None
    if not isinstance(data, dict):
        raise BadRequest("the body is not a Stripe event (a JSON object)", code="bad_event")
    problems: list[FieldProblem] = []

    def bad(field: str, message: str) -> None:
        problems.append(FieldProblem(f"body.{field}" if field else "body", message))

    event_id = data.get("id")
    if not isinstance(event_id, str) or not event_id:
        bad("id", "must be the event's id, a non-empty string")
    elif len(event_id) > EVENT_ID_MAX:
        bad("id", f"is longer than {EVENT_ID_MAX} characters ({len(event_id)})")
    elif not _EVENT_ID.fullmatch(event_id):
        bad("id", "may hold only letters, digits, '_' and '-'")
    type_ = data.get("type")
    if not isinstance(type_, str) or not type_:
        bad("type", "must be the event's type, a non-empty string")
    elif len(type_) > EVENT_TYPE_MAX:
        bad("type", f"is longer than {EVENT_TYPE_MAX} characters ({len(type_)})")
    inner = data.get("data")
    obj = inner.get("object") if isinstance(inner, dict) else None
    if not isinstance(obj, dict):
        bad("data.object", "must be the object the event is about (a JSON object)")
    else:
        customer = obj.get("customer")
        if isinstance(customer, dict):
            customer = customer.get("id")
        if obj.get("object") == "customer" and not isinstance(obj.get("id"), str):
            bad("data.object.id", "must be the customer's id, a string")
        if customer is not None and not isinstance(customer, str):
            bad("data.object.customer", "must be a customer id (a string) or null")
        metadata = obj.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            bad("data.object.metadata", "must be a JSON object or null")
        elif metadata and metadata.get("agency_id") is not None:
            try:
                uuid.UUID(str(metadata["agency_id"]))
            except ValueError:
                bad("data.object.metadata.agency_id", "must be a UUID")
    if _has_nul(data):
        bad("", "contains a NUL character (\\u0000), which cannot be stored")
    if problems:
        raise BadRequest(
            "the body is not a Stripe event this endpoint can accept: "
            + "; ".join(f"{p.field} {p.message}" for p in problems),
            code="bad_event",
            errors=problems,
        )
    return data


def _has_nul(value: Any) -> bool:
    """PostgreSQL's jsonb refuses NUL in any string."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in k or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


__all__ = ["PaymentRequired"]
