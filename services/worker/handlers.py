"""What processing an event means, by type. Each handler returns a result that says
what was done; it raises RetryableError or PermanentError when it could not."""

from __future__ import annotations

from typing import Any

from services.core.events import Event
from services.core.settings import Settings

from .errors import PermanentError
from .payments import PaymentStore, payment_state, updated_timestamp
from .upstream.highlevel import HighLevel
from .upstream.mercadopago import MercadoPago

MERCHANT_ORDER_TYPES = ("merchant_order", "topic_merchant_order_wh")


class Handlers:
    def __init__(self, settings: Settings, mercadopago: MercadoPago, highlevel: HighLevel, payments: PaymentStore) -> None:
        self.settings = settings
        self.mercadopago = mercadopago
        self.highlevel = highlevel
        self.payments = payments

    def handle(self, event: Event) -> dict[str, Any]:
        if not event.resource_id:
            raise PermanentError("event", "the notification carries no resource id")
        if event.type == "payment":
            return self.payment(event.resource_id)
        if event.type in MERCHANT_ORDER_TYPES:
            return self.merchant_order(event.resource_id)
        return {"action": "none", "reason": f"nothing to do for type {event.type!r}; the notification is stored"}

    def payment(self, payment_id: str) -> dict[str, Any]:
        payment = self.mercadopago.payment(payment_id)
        status = str(payment.get("status") or "unknown")
        result: dict[str, Any] = {"payment_id": payment_id, "payment_status": status}
        with self.payments.lock(payment_id):
            state = payment_state(payment)
            if not self.payments.store_if_newer("payment", payment_id, updated_timestamp(payment), state):
                stored = self.payments.get("payment", payment_id)
                return result | {
                    "action": "ignored_older_state",
                    "reason": f"stored state ({stored.get('status')}, {stored.get('date_last_updated')}) is newer",
                }
            if self.payments.was_tagged(payment_id, status):
                return result | {"action": "already_tagged"}
            contact_id, route = self._contact(payment_id, payment)
            if contact_id is None:
                return result | {"action": "stored_only", "reason": "no payer email or metadata.ghl_contact_id to find a GoHighLevel contact"}
            self.payments.set_contact(payment_id, contact_id)
            tags = list(self.settings.tags_for_status(status))
            if tags:
                self.highlevel.add_tags(contact_id, tags)
            self.payments.mark_tagged(payment_id, status)
        return result | {"action": "tagged", "contact_id": contact_id, "contact_route": route, "tags": tags}

    def _contact(self, payment_id: str, payment: dict[str, Any]) -> tuple[str | None, str | None]:
        metadata = payment.get("metadata") or {}
        if metadata.get("ghl_contact_id"):
            return str(metadata["ghl_contact_id"]), "metadata"
        known = self.payments.get("payment", payment_id).get("contact_id")
        if known:
            return known, "remembered"
        payer = payment.get("payer") or {}
        email = payer.get("email")
        if not email:
            return None, None
        found = self.highlevel.find_contact_id(email)
        if found:
            return found, "search"
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
        stored = self.payments.store_if_newer("merchant_order", order_id, updated_timestamp({"date_last_updated": order.get("last_updated")}), state)
        return {"order_id": order_id, "order_status": state["order_status"], "action": "stored" if stored else "ignored_older_state"}
