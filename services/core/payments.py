"""A payment as this product keeps it: the fields of Mercado Pago's payment stored in
`Keys.payment` (with the GoHighLevel contact the worker found for it)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .ids import id_floor
from .timestamps import iso

# The payment hash's fields recording, per status tagged, when and with which tags: JSON
# {"at": epoch seconds, "tags": [...]} (written by finish.lua, see Tagging.record).
TAGGED = "tagged:"


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
    """A payment status whose tags were added to the contact: when, and the tags as they
    were configured then (GHL_STATUS_TAGS may change later)."""

    status: str
    at: float
    tags: tuple[str, ...]

    def record(self) -> str:
        """The value of its field in the payment's hash."""
        return json.dumps({"at": self.at, "tags": list(self.tags)}, separators=(",", ":"))

    @classmethod
    def from_record(cls, status: str, record: str) -> Tagging:
        fields = json.loads(record)
        return cls(status, float(fields["at"]), tuple(fields["tags"]))


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
                Tagging.from_record(name.removeprefix(TAGGED), record)
                for name, record in raw.items()
                if name.startswith(TAGGED)
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

    def to_api(self, *, with_events: bool = True) -> dict[str, Any]:
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
            "tags_applied": [{"status": t.status, "tags": list(t.tags), "at": iso(t.at)} for t in self.tagged],
        }
        if with_events:
            body["event_ids"] = list(self.event_ids)
        return body
