"""A payment as this product keeps it: the fields of Mercado Pago's payment stored in
`Keys.payment` (with the GoHighLevel contact the worker found for it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .ids import id_floor
from .timestamps import iso

# The payment hash's field recording when a status was tagged (written by finish.lua).
TAGGED_AT = "tagged_at:"


def updated_timestamp(payment: dict[str, Any]) -> float:
    """date_last_updated as epoch seconds (Mercado Pago sends local offsets, e.g. -04:00)."""
    value = payment.get("date_last_updated") or payment.get("date_created")
    if not value:
        return 0.0
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def payment_state(payment: dict[str, Any]) -> dict[str, str]:
    """The stored fields of a payment as Mercado Pago's API returns it."""
    payer = payment.get("payer") or {}
    return {
        "status": _text(payment.get("status")),
        "status_detail": _text(payment.get("status_detail")),
        "amount": _text(payment.get("transaction_amount")),
        "currency": _text(payment.get("currency_id")),
        "payer_email": _text(payer.get("email")),
        "external_reference": _text(payment.get("external_reference")),
        "date_last_updated": _text(payment.get("date_last_updated")),
    }


def index_member(updated_ts: float, payment_id: str) -> str:
    """The payment's member in the payments indexes (Keys.all_payments): ordered by
    date_last_updated, then id, so the indexes page by update like the events by id."""
    return f"{id_floor(max(0.0, updated_ts))}:{payment_id}"


@dataclass(frozen=True)
class Tagging:
    """A payment status whose tags were added to the contact, and when."""

    status: str
    at: float


@dataclass(frozen=True)
class Payment:
    id: str
    status: str
    status_detail: str
    amount: str
    currency: str
    payer_email: str
    external_reference: str
    date_last_updated: str
    contact_id: str
    # date_last_updated as epoch seconds (what the indexes order by).
    updated_ts: float = 0.0
    tagged: tuple[Tagging, ...] = ()
    # The events of this payment's resource, newest first (filled by a single-payment read).
    event_ids: tuple[str, ...] = ()

    @classmethod
    def from_redis(cls, payment_id: str, raw: dict[str, str], event_ids: tuple[str, ...] = ()) -> Payment:
        tagged = sorted(
            (
                Tagging(name.removeprefix(TAGGED_AT), float(at))
                for name, at in raw.items()
                if name.startswith(TAGGED_AT)
            ),
            key=lambda tagging: tagging.at,
        )
        return cls(
            id=payment_id,
            status=raw.get("status", ""),
            status_detail=raw.get("status_detail", ""),
            amount=raw.get("amount", ""),
            currency=raw.get("currency", ""),
            payer_email=raw.get("payer_email", ""),
            external_reference=raw.get("external_reference", ""),
            date_last_updated=raw.get("date_last_updated", ""),
            contact_id=raw.get("contact_id", ""),
            updated_ts=float(raw.get("updated_ts") or 0),
            tagged=tuple(tagged),
            event_ids=event_ids,
        )

    def to_api(self, tags_for_status: Callable[[str], tuple[str, ...]], *, with_events: bool = True) -> dict[str, Any]:
        """`tags_for_status`: the configured tags of a status (Settings.tags_for_status);
        a payment records which statuses were tagged and when, the tags are the status's."""
        body: dict[str, Any] = {
            "id": self.id,
            "status": self.status,
            "status_detail": self.status_detail or None,
            "amount": self.amount or None,
            "currency": self.currency or None,
            "payer_email": self.payer_email or None,
            "external_reference": self.external_reference or None,
            "date_last_updated": self.date_last_updated or None,
            "contact_id": self.contact_id or None,
            "tags_applied": [
                {"status": t.status, "tags": list(tags_for_status(t.status)), "at": iso(t.at)} for t in self.tagged
            ],
        }
        if with_events:
            body["event_ids"] = list(self.event_ids)
        return body
