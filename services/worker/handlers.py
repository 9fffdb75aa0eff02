"""What processing an event means, by type. Each handler returns a result that says
what was done; it raises RetryableError or PermanentError when it could not."""

from __future__ import annotations

import time
from typing import Any

from services.core.attempts import PaymentEffects
from services.core.events import Event
from services.core.payments import Tagging, payment_state, updated_timestamp
from services.core.settings import Settings
from services.upstream.errors import PermanentError, RetryableError
from services.upstream.highlevel import HighLevel
from services.upstream.mercadopago import MercadoPago
from services.upstream.ratelimit import Permits

from .payments import Begun, GoHighLevelCalls, PaymentStore
from .running import RunningAttempt

MERCHANT_ORDER_TYPES = ("merchant_order", "topic_merchant_order_wh")


class Handled:
    """A handler's result, and for a payment the effects its attempt's end records (set
    even when the handler then raises: what happened at GoHighLevel stays recorded)."""

    def __init__(self) -> None:
        self.effects: PaymentEffects | None = None


class Handlers:
    def __init__(
        self, settings: Settings, mercadopago: MercadoPago, highlevel: HighLevel, payments: PaymentStore
    ) -> None:
        self.settings = settings
        self.mercadopago = mercadopago
        self.highlevel = highlevel
        self.payments = payments

    def handle(self, event: Event, handled: Handled, attempt: RunningAttempt) -> dict[str, Any]:
        if not event.resource_id:
            raise PermanentError("event", "the notification carries no resource id")
        if event.type == "payment":
            return self.payment(event.resource_id, handled, attempt)
        if event.type in MERCHANT_ORDER_TYPES:
            return self.merchant_order(event.resource_id, attempt)
        return {"action": "none", "reason": f"nothing to do for type {event.type!r}; the notification is stored"}

    def payment(self, payment_id: str, handled: Handled, attempt: RunningAttempt) -> dict[str, Any]:
        """The payment's lock is registered on the attempt's event."""
        payment = self.mercadopago.payment(payment_id, attempt.deadline)
        status = str(payment.get("status") or "unknown")
        result: dict[str, Any] = {"payment_id": payment_id, "payment_status": status}
        tags = list(self.settings.tags_for_status(status))
        metadata_contact = (payment.get("metadata") or {}).get("ghl_contact_id")
        email = (payment.get("payer") or {}).get("email")
        # Lock, store-if-newer, the reads below and the first GoHighLevel call's limiter
        # token are one round trip; remembering the contact and recording the tag
        # (effects) and releasing the lock go with the attempt's end.
        step = self.payments.begin(
            payment_id,
            status,
            updated_timestamp(payment),
            payment_state(payment),
            event_id=attempt.event_id,
            attempt=attempt.number,
            deadline=attempt.deadline,
            limiter=self.highlevel.limiter,
            calls=GoHighLevelCalls(if_remembered=bool(tags), otherwise=bool(tags) if metadata_contact else bool(email)),
        )
        if step.begun == Begun.STALE:
            raise RetryableError("payment step", "no longer the event's current attempt")
        if step.begun == Begun.OLDER:
            reason = f"stored state ({step.stored_status}, {step.stored_updated}) is newer"
            return result | {"action": "ignored_older_state", "reason": reason}
        if step.begun == Begun.ALREADY_TAGGED:
            return result | {"action": "already_tagged"}
        # From here the attempt holds the payment's lock: its end must release it.
        handled.effects = PaymentEffects(payment_id)
        permits = self.highlevel.permits(attempt.deadline, first_taken=step.first_token_taken, check=attempt.check)
        contact_id, route = self._contact(payment, metadata_contact, step.contact_id, email, permits)
        handled.effects = PaymentEffects(payment_id, contact_id)
        if contact_id is None:
            reason = "no payer email or metadata.ghl_contact_id to find a GoHighLevel contact"
            return result | {"action": "stored_only", "reason": reason}
        if tags:
            self.highlevel.add_tags(contact_id, tags, permits)
        handled.effects = PaymentEffects(payment_id, contact_id, tagged=Tagging(status, time.time(), tuple(tags)))
        return result | {"action": "tagged", "contact_id": contact_id, "contact_route": route, "tags": tags}

    def _contact(
        self, payment: dict[str, Any], metadata_contact: Any, known: str | None, email: str | None, permits: Permits
    ) -> tuple[str | None, str | None]:
        if metadata_contact:
            return str(metadata_contact), "metadata"
        if known:
            return known, "remembered"
        if not email:
            return None, None
        found = self.highlevel.find_contact_id(email, permits)
        if found:
            return found, "search"
        payer = payment.get("payer") or {}
        return self.highlevel.upsert_contact(email, payer.get("first_name"), payer.get("last_name"), permits), "created"

    def merchant_order(self, order_id: str, attempt: RunningAttempt) -> dict[str, Any]:
        order = self.mercadopago.merchant_order(order_id, attempt.deadline)
        state = {
            name: "" if order.get(name) is None else str(order[name])
            for name in ("status", "order_status", "total_amount", "paid_amount", "external_reference", "last_updated")
        }
        updated = updated_timestamp({"date_last_updated": order.get("last_updated")})
        stored = self.payments.store_merchant_order(order_id, updated, state)
        return {
            "order_id": order_id,
            "order_status": state["order_status"],
            "action": "stored" if stored else "ignored_older_state",
        }
