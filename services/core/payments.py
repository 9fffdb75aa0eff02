"""A payment as this product keeps it: the fields of Mercado Pago's payment stored in
`Keys.payment` (with the GoHighLevel contact the worker found for it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


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
