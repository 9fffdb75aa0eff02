"""Mercado Pago API: payments and merchant orders (Authorization: Bearer access token)."""

from __future__ import annotations

from typing import Any

from services.core.deadline import Deadline
from services.core.settings import Settings
from services.core.store import EventStore

from .breaker import breaker_for
from .http import Upstream


class MercadoPago:
    """With `store`, calls go through Mercado Pago's shared breaker (the worker's)."""

    def __init__(self, settings: Settings, store: EventStore | None = None) -> None:
        self.api = Upstream(
            "mercadopago",
            settings.mp_api_base_url,
            {"Authorization": f"Bearer {settings.mp_access_token}"},
            breaker=breaker_for(store, "mercadopago") if store is not None else None,
        )

    def payment(self, payment_id: str, deadline: Deadline) -> dict[str, Any]:
        return self.api.call("GET", f"/v1/payments/{payment_id}", deadline=deadline)

    def merchant_order(self, order_id: str, deadline: Deadline) -> dict[str, Any]:
        return self.api.call("GET", f"/merchant_orders/{order_id}", deadline=deadline)

    def search_payments(self, *, begin: str, end: str, offset: int, limit: int, deadline: Deadline) -> dict[str, Any]:
        """Payments last updated in [begin, end] (ISO-8601), oldest first (ties in the order
        Mercado Pago gives them)."""
        params = {
            "sort": "date_last_updated",
            "criteria": "asc",
            "range": "date_last_updated",
            "begin_date": begin,
            "end_date": end,
            "offset": offset,
            "limit": limit,
        }
        return self.api.call("GET", "/v1/payments/search", deadline=deadline, params=params)

    def close(self) -> None:
        self.api.close()
