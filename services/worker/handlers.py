"""What processing an event means, by type. Each handler returns a result that says
what was done; it raises RetryableError or PermanentError when it could not."""

from __future__ import annotations

from typing import Any

from services.core.events import Event
from services.core.settings import Settings
from services.core.store import event_key

from .errors import PermanentError
from .payments import PaymentStore, payment_state, updated_timestamp
from .upstream.highlevel import HighLevel
from .upstream.mercadopago import MercadoPago

MERCHANT_ORDER_TYPES = ("merchant_order", "topic_merchant_order_wh")


class Handlers:
    def __init__(
        self, settings: Settings, mercadopago: MercadoPago, highlevel: HighLevel, payments: PaymentStore
    ) -> None:
        self.settings = settings
        self.mercadopago = mercadopago
        self.highlevel = highlevel
        self.payments = payments

    def handle(self, event: Event, effects: list[list[str]]) -> dict[str, Any]:
        """`effects` collects the writes that `EventStore.finish` applies with the
        attempt's end (services/worker/payments.py: PaymentStep.effects)."""
        if not event.resource_id:
            raise PermanentError("event", "the notification carries no resource id")
        if event.type == "payment":
            return self.payment(event.resource_id, event_key(self.settings.key_prefix, event.id), effects)
        if event.type in MERCHANT_ORDER_TYPES:
            return self.merchant_order(event.resource_id)
        return {"action": "none", "reason": f"nothing to do for type {event.type!r}; the notification is stored"}

    def payment(self, payment_id: str, event_hash: str, effects: list[list[str]]) -> dict[str, Any]:
        """`event_hash`: the key of the event being processed, on which the payment's
        lock is registered for the attempt."""
        payment = self.mercadopago.payment(payment_id)
        status = str(payment.get("status") or "unknown")
        result: dict[str, Any] = {"payment_id": payment_id, "payment_status": status}
        tags = list(self.settings.tags_for_status(status))
        metadata_contact = (payment.get("metadata") or {}).get("ghl_contact_id")
        email = (payment.get("payer") or {}).get("email")
        # Lock, store-if-newer, the reads below and the first GoHighLevel call's limiter
        # token are one round trip (PaymentStore.begin); remembering the contact and
        # recording the tag (effects) and releasing the lock go with the attempt's end.
        step = self.payments.begin(
            payment_id,
            status,
            updated_timestamp(payment),
            payment_state(payment),
            event_key=event_hash,
            limiter=self.highlevel.limiter,
            calls_if_remembered=bool(tags),
            calls_otherwise=bool(tags) if metadata_contact else bool(email),
        )
        if step.verdict == "older":
            stored = step.stored
            return result | {
                "action": "ignored_older_state",
                "reason": f"stored state ({stored.get('status')}, {stored.get('date_last_updated')}) is newer",
            }
        if step.verdict == "tagged":
            return result | {"action": "already_tagged"}
        contact_id, tagged = None, None
        self.highlevel.token_taken = step.took_token
        try:
            contact_id, route = self._contact(payment, metadata_contact, step.contact_id, email)
            if contact_id is None:
                return result | {
                    "action": "stored_only",
                    "reason": "no payer email or metadata.ghl_contact_id to find a GoHighLevel contact",
                }
            if tags:
                self.highlevel.add_tags(contact_id, tags)
            tagged = status
        finally:
            # A token taken for a call that never went out is not carried to another event.
            self.highlevel.token_taken = False
            effects.extend(step.effects(contact_id, tagged))
        return result | {"action": "tagged", "contact_id": contact_id, "contact_route": route, "tags": tags}

    def _contact(
        self, payment: dict[str, Any], metadata_contact: Any, known: str | None, email: str | None
    ) -> tuple[str | None, str | None]:
        if metadata_contact:
            return str(metadata_contact), "metadata"
        if known:
            return known, "remembered"
        if not email:
            return None, None
        found = self.highlevel.find_contact_id(email)
        if found:
            return found, "search"
        payer = payment.get("payer") or {}
        return self.highlevel.upsert_contact(email, payer.get("first_name"), payer.get("last_name")), "created"

    def merchant_order(self, order_id: str) -> dict[str, Any]:
        order = self.mercadopago.merchant_order(order_id)
        state = {
            "status": str(order.get("status") or ""),
            "order_status": str(order.get("order_status") or ""),
            "total_amount": str(order.get("total_amount") if order.get("total_amount") is not None else ""),
            "paid_amount": str(order.get("paid_amount") if order.get("paid_amount") is not None else ""),
            "external_reference": str(order.get("external_reference") or ""),
            "last_updated": str(order.get("last_updated") or ""),
        }
        stored = self.payments.store_if_newer(
            "merchant_order", order_id, updated_timestamp({"date_last_updated": order.get("last_updated")}), state
        )
        return {
            "order_id": order_id,
            "order_status": state["order_status"],
            "action": "stored" if stored else "ignored_older_state",
        }
