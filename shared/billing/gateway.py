"""Every call Chorus makes to Stripe, through the official SDK, each write with an idempotency
key. The base URL is a setting: real Stripe in production, ``localstripe`` in ``make run`` and
the tests.

localstripe differs from Stripe in a few ways, all handled here and nowhere else:
- it knows legacy *plans*, not prices: subscription items name ``plan`` instead of ``price``,
  and the plans are created on first use (real Stripe's prices are made in its dashboard);
- it has no ``proration_behavior`` on updates (it prorates on its own);
- it reports the billing period on the subscription (older API versions) where current
  Stripe reports it on the subscription item: ``SubscriptionState`` reads either.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import stripe
import structlog

from shared.billing.errors import PaymentRequired
from shared.billing.plans import PLANS, Plan, plan_of_price
from shared.config import Settings
from shared.errors import FieldProblem, NotConfigured, UpstreamFailed, ValidationFailed

log = structlog.get_logger("chorus.billing")


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    """A subscription as Stripe holds it now."""

    id: str
    customer: str
    status: str
    plan: Plan | None
    quantity: int
    item_id: str | None
    cancel_at_period_end: bool
    current_period_end: datetime | None
    canceled_at: datetime | None
    trial_end: datetime | None


@dataclass(frozen=True, slots=True)
class CardInfo:
    brand: str | None
    last4: str | None


@dataclass(frozen=True, slots=True)
class InvoiceRecord:
    """A past invoice as Stripe keeps it (the billing page's list)."""

    id: str
    number: str | None
    created: datetime | None
    amount_due: int
    amount_paid: int
    currency: str
    status: str | None
    url: str | None
    """Stripe's hosted page of the invoice (to read or pay it), when it has one."""


@dataclass(frozen=True, slots=True)
class InvoicePreview:
    amount_due: int
    currency: str
    period_end: datetime | None
    lines: list[dict[str, Any]]


def _instant(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


def _get(obj: Any, key: str, default: Any = None) -> Any:
    try:
        value = obj[key]
    except (KeyError, TypeError):
        return default
    return default if value is None else value


class _HTTPXClient(stripe.HTTPXClient):
    """The SDK's httpx client, sending the encoded form as ``content=``: it passes it as
    ``data=``, which httpx deprecates for raw text (a warning on every call)."""

    def _get_request_args_kwargs(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any
    ) -> list[Any]:
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        data = kwargs.pop("data", None)
        if data:
            kwargs["content"] = data
        return [args, kwargs]


class StripeGateway:
    def __init__(self, settings: Settings) -> None:
        self.environment = settings.stripe_environment
        self.local = self.environment == "local"
        self.public_base_url = settings.public_base_url.rstrip("/")
        self.api_base = settings.stripe_api_base.rstrip("/")
        self.local_webhooks = settings.stripe_local_webhooks
        self.webhook_secret = settings.stripe_webhook_secret.get_secret_value()
        self._catalog_ready = False
        self._http = _HTTPXClient(timeout=20)
        self.client = stripe.StripeClient(
            settings.stripe_secret_key.get_secret_value(),
            base_addresses={"api": self.api_base},
            http_client=self._http,
            max_network_retries=2,
        )

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    def price_id(self, plan: Plan) -> str:
        return plan.stripe_price_ids[self.environment]

    @asynccontextmanager
    async def _calling(self, what: str) -> AsyncIterator[None]:
        try:
            yield
        except stripe.CardError as exc:
            raise PaymentRequired(
                f"the card was declined ({exc.user_message or exc.code}); "
                "use another payment method and try again",
                code="card_declined",
                extra={"decline_code": exc.code},
            ) from None
        except stripe.AuthenticationError:
            log.error("billing.stripe_auth_failed", call=what)
            raise NotConfigured(
                "billing is not configured on this installation (Stripe refused the key)",
                code="billing_not_configured",
            ) from None
        except stripe.StripeError as exc:
            log.warning("billing.stripe_failed", call=what, error=str(exc))
            raise UpstreamFailed(
                f"Stripe did not accept {what}: {exc.user_message or 'try again shortly'}",
                code="stripe_error",
                extra={"stripe_status": exc.http_status},
            ) from None

    @staticmethod
    def _options(key: str) -> Any:
        return {"idempotency_key": f"chorus:{key}"}

    async def ensure_catalog(self) -> None:
        """localstripe only: the plans, created once (real Stripe's are made in its dashboard
        and named by id in ``shared.billing.plans``)."""
        if not self.local or self._catalog_ready:
            return
        async with self._calling("the plan catalog"):
            for plan in PLANS.values():
                plan_id = self.price_id(plan)
                try:
                    await self.client.v1.plans.retrieve_async(plan_id)
                    continue
                except stripe.InvalidRequestError:
                    pass
                params: Any = {
                    "id": plan_id,
                    "amount": plan.price_per_location_cents,
                    "currency": plan.currency,
                    "interval": "month",
                    "product": {"name": f"Chorus {plan.name}"},
                    "nickname": plan.name,
                }
                try:
                    await self.client.v1.plans.create_async(params)
                except stripe.InvalidRequestError:
                    # Created meanwhile by another process.
                    await self.client.v1.plans.retrieve_async(plan_id)
            if self.local_webhooks:
                await self._register_local_webhook()
        self._catalog_ready = True

    async def _register_local_webhook(self) -> None:
        """localstripe delivers events only to URLs registered through its own config route
        (real Stripe's endpoints are set up in its dashboard)."""
        async with httpx.AsyncClient(base_url=self.api_base, timeout=10) as http:
            response = await http.post(
                "/_config/webhooks/chorus",
                data={
                    "url": f"{self.public_base_url}/v1/billing/stripe/webhook",
                    "secret": self.webhook_secret,
                },
            )
        if response.status_code != 200:
            raise UpstreamFailed(
                f"localstripe refused the webhook registration ({response.status_code})",
                code="stripe_error",
            )

    async def create_customer(self, agency_id: uuid.UUID, name: str, email: str | None) -> str:
        params: Any = {"name": name, "metadata": {"agency_id": str(agency_id)}}
        if email:
            params["email"] = email
        async with self._calling("the new customer"):
            customer = await self.client.v1.customers.create_async(
                params, self._options(f"customer:{agency_id}")
            )
        return str(customer["id"])

    async def set_payment_method(self, customer: str, payment_method: str) -> CardInfo:
        """Attach a payment method (made by Stripe.js in the browser) and make it the default
        for the customer's invoices."""
        async with self._calling("the payment method"):
            try:
                method = await self.client.v1.payment_methods.attach_async(
                    payment_method,
                    {"customer": customer},
                    self._options(f"attach:{customer}:{payment_method}"),
                )
            except stripe.InvalidRequestError as exc:
                if exc.http_status != 404:
                    raise
                # The client's input, not Stripe failing: was a 502.
                raise ValidationFailed(
                    f"Stripe has no payment method {payment_method[:40]!r}; create one with "
                    "Stripe.js and send its id",
                    code="unknown_payment_method",
                    errors=[FieldProblem("body.payment_method", "no such payment method")],
                ) from None
            await self.client.v1.customers.update_async(
                customer,
                cast(Any, {"invoice_settings": {"default_payment_method": payment_method}}),
                self._options(f"default-pm:{customer}:{payment_method}"),
            )
        card = _get(method, "card", {})
        return CardInfo(brand=_get(card, "brand"), last4=_get(card, "last4"))

    def _items(self, plan: Plan, quantity: int, item_id: str | None = None) -> list[Any]:
        item: dict[str, Any] = {"quantity": max(1, quantity)}
        item["plan" if self.local else "price"] = self.price_id(plan)
        if item_id:
            item["id"] = item_id
        return [item]

    async def create_subscription(
        self,
        agency_id: uuid.UUID,
        customer: str,
        plan: Plan,
        quantity: int,
        *,
        trial_end: datetime | None,
        key: str,
    ) -> SubscriptionState:
        await self.ensure_catalog()
        params: dict[str, Any] = {
            "customer": customer,
            "items": self._items(plan, quantity),
            "metadata": {"agency_id": str(agency_id), "plan": plan.code},
            # A declined first payment is an error now, not a subscription left incomplete.
            "payment_behavior": "error_if_incomplete",
        }
        if trial_end is not None:
            params["trial_end"] = int(trial_end.timestamp())
        async with self._calling("the subscription"):
            sub = await self.client.v1.subscriptions.create_async(
                cast(Any, params), self._options(f"subscription:{key}")
            )
            state = self._state(sub)
            if state.status == "incomplete":
                # Stripe answers a declined first payment with an error (error_if_incomplete);
                # localstripe leaves the subscription incomplete instead. Either way: nothing
                # subscribed.
                await self.client.v1.subscriptions.cancel_async(state.id)
                raise PaymentRequired(
                    "the first payment was declined; use another payment method and try again",
                    code="card_declined",
                )
        return state

    async def update_subscription(
        self,
        subscription: str,
        *,
        plan: Plan | None = None,
        quantity: int | None = None,
        cancel_at_period_end: bool | None = None,
        key: str,
    ) -> SubscriptionState:
        """Change plan or quantity (Stripe prorates), or cancel at period end / resume."""
        await self.ensure_catalog()
        current = await self.retrieve_subscription(subscription)
        params: dict[str, Any] = {}
        if plan is not None or quantity is not None:
            target_plan = plan or current.plan
            if target_plan is None:
                raise UpstreamFailed(
                    "the Stripe subscription has no known plan", code="stripe_error"
                )
            params["items"] = self._items(
                target_plan, current.quantity if quantity is None else quantity, current.item_id
            )
            if not self.local:
                params["proration_behavior"] = "create_prorations"
        if cancel_at_period_end is not None:
            params["cancel_at_period_end"] = cancel_at_period_end
        if not params:
            return current
        async with self._calling("the subscription change"):
            sub = await self.client.v1.subscriptions.update_async(
                subscription, cast(Any, params), self._options(f"subscription-update:{key}")
            )
        return self._state(sub)

    async def retrieve_subscription(self, subscription: str) -> SubscriptionState:
        async with self._calling("reading the subscription"):
            sub = await self.client.v1.subscriptions.retrieve_async(subscription)
        return self._state(sub)

    async def latest_subscription(self, customer: str) -> SubscriptionState | None:
        """The customer's subscription that matters: a live one, else the newest."""
        async with self._calling("reading the subscriptions"):
            page = await self.client.v1.subscriptions.list_async(
                {"customer": customer, "status": "all", "limit": 100}
            )
        states = [self._state(s) for s in page.data]
        live = [s for s in states if s.status not in ("canceled", "incomplete_expired")]
        pool = live or states
        return pool[0] if pool else None

    async def customer_exists(self, customer: str) -> bool:
        async with self._calling("reading the customer"):
            try:
                found = await self.client.v1.customers.retrieve_async(customer)
            except stripe.InvalidRequestError as exc:
                if exc.http_status == 404:
                    return False
                raise
        return not bool(_get(found, "deleted", False))

    async def pay_open_invoices(self, customer: str, key: str) -> int:
        """Pay what is open now (after a new payment method): how many were paid."""
        paid = 0
        async with self._calling("paying the open invoices"):
            page = await self.client.v1.invoices.list_async({"customer": customer, "limit": 100})
            for invoice in page.data:
                if _get(invoice, "status") != "open":
                    continue
                try:
                    await self.client.v1.invoices.pay_async(
                        str(invoice["id"]), options=self._options(f"pay:{invoice['id']}:{key}")
                    )
                    paid += 1
                except stripe.CardError:
                    raise
        return paid

    async def upcoming_invoice(self, customer: str, subscription: str) -> InvoicePreview:
        async with self._calling("the upcoming invoice"):
            invoice = await self.client.v1.invoices.create_preview_async(
                {"customer": customer, "subscription": subscription}
            )
        lines = [
            {
                "description": _get(line, "description"),
                "amount": int(_get(line, "amount", 0)),
                "quantity": _get(line, "quantity"),
            }
            for line in _get(_get(invoice, "lines", {}), "data", [])
        ]
        return InvoicePreview(
            amount_due=int(_get(invoice, "amount_due", 0)),
            currency=str(_get(invoice, "currency", "usd")),
            period_end=_instant(_get(invoice, "period_end")),
            lines=lines,
        )

    async def list_invoices(self, customer: str, limit: int = 12) -> list[InvoiceRecord]:
        """The customer's invoices, newest first."""
        async with self._calling("the invoices"):
            found = await self.client.v1.invoices.list_async({"customer": customer, "limit": limit})
        return [
            InvoiceRecord(
                id=str(_get(invoice, "id")),
                number=_get(invoice, "number"),
                created=_instant(_get(invoice, "created") or _get(invoice, "date")),
                amount_due=int(_get(invoice, "amount_due", 0) or 0),
                amount_paid=int(_get(invoice, "amount_paid", 0) or 0),
                currency=str(_get(invoice, "currency") or "usd"),
                status=_get(invoice, "status"),
                url=_get(invoice, "hosted_invoice_url"),
            )
            for invoice in _get(found, "data", [])
        ]

    def _state(self, sub: Any) -> SubscriptionState:
        items = _get(_get(sub, "items", {}), "data", [])
        item = items[0] if items else {}
        price = _get(item, "price") or _get(item, "plan") or _get(sub, "plan") or {}
        price_id = _get(price, "id")
        period_end = _get(item, "current_period_end") or _get(sub, "current_period_end")
        return SubscriptionState(
            id=str(sub["id"]),
            customer=str(_get(sub, "customer")),
            status=str(_get(sub, "status")),
            plan=plan_of_price(str(price_id)) if price_id else None,
            quantity=int(_get(item, "quantity") or _get(sub, "quantity") or 0),
            item_id=_get(item, "id"),
            cancel_at_period_end=bool(_get(sub, "cancel_at_period_end", False)),
            current_period_end=_instant(period_end),
            canceled_at=_instant(_get(sub, "canceled_at") or _get(sub, "ended_at")),
            trial_end=_instant(_get(sub, "trial_end")),
        )


def verify_webhook(payload: bytes, signature: str | None, secret: str) -> None:
    """Raises ``stripe.SignatureVerificationError`` unless Stripe signed this exact body within
    the tolerance either side of now (also for a header the SDK chokes on: a non-ASCII
    signature fails its comparison). The SDK refuses only a stale timestamp; one in the future
    is refused here, or a body signed with a far-off ``t=`` could be replayed until then."""
    tolerance = stripe.Webhook.DEFAULT_TOLERANCE
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature or "", secret, tolerance
        )
        signed_at = _signed_at(signature or "")
    except (TypeError, ValueError) as exc:
        raise stripe.SignatureVerificationError(  # type: ignore[no-untyped-call]
            "the Stripe-Signature header is malformed", signature
        ) from exc
    if signed_at > time.time() + tolerance:
        raise stripe.SignatureVerificationError(  # type: ignore[no-untyped-call]
            "the Stripe-Signature timestamp is in the future", signature
        )


def _signed_at(signature: str) -> int:
    """The ``t=`` the SDK just verified the signature with (the first one, as it reads it)."""
    stamps = [part.split("=")[1] for part in signature.split(",") if part.split("=")[0] == "t"]
    return int(stamps[0])
