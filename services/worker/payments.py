"""What the worker keeps about each payment: its latest state, its GoHighLevel contact,
and which statuses were already tagged."""

from __future__ import annotations

import secrets
import time
from contextlib import contextmanager
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from redis import Redis

from .errors import RetryableError

# Only a state at least as new as the stored one is written: notifications arrive out
# of order, and a retried old event must not roll a payment back.
_STORE_IF_NEWER = """
local stored = tonumber(redis.call('HGET', KEYS[1], 'updated_ts') or '-1')
if stored > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'updated_ts', ARGV[1], unpack(ARGV, 2))
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def updated_timestamp(payment: dict[str, Any]) -> float:
    """date_last_updated as epoch seconds (Mercado Pago sends local offsets, e.g. -04:00)."""
    value = payment.get("date_last_updated") or payment.get("date_created")
    if not value:
        return 0.0
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def payment_state(payment: dict[str, Any]) -> dict[str, str]:
    payer = payment.get("payer") or {}
    return {
        "status": str(payment.get("status") or ""),
        "status_detail": str(payment.get("status_detail") or ""),
        "amount": str(payment.get("transaction_amount") if payment.get("transaction_amount") is not None else ""),
        "currency": str(payment.get("currency_id") or ""),
        "payer_email": str(payer.get("email") or ""),
        "external_reference": str(payment.get("external_reference") or ""),
        "date_last_updated": str(payment.get("date_last_updated") or ""),
    }


class PaymentStore:
    def __init__(self, redis: Redis, prefix: str, lock_seconds: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.lock_seconds = lock_seconds
        self._store_if_newer = redis.register_script(_STORE_IF_NEWER)
        self._release = redis.register_script(_RELEASE)

    def key(self, kind: str, resource_id: str) -> str:
        return f"{self.prefix}:{kind}:{resource_id}"

    def store_if_newer(self, kind: str, resource_id: str, updated_ts: float, state: dict[str, str]) -> bool:
        flat = [item for pair in state.items() for item in pair]
        return bool(self._store_if_newer(keys=[self.key(kind, resource_id)], args=[repr(updated_ts), *flat]))

    def get(self, kind: str, resource_id: str) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.redis.hgetall(self.key(kind, resource_id)).items()}

    def set_contact(self, payment_id: str, contact_id: str) -> None:
        self.redis.hset(self.key("payment", payment_id), "contact_id", contact_id)

    def was_tagged(self, payment_id: str, status: str) -> bool:
        return bool(self.redis.sismember(self.key("payment-tagged", payment_id), status))

    def mark_tagged(self, payment_id: str, status: str) -> None:
        self.redis.sadd(self.key("payment-tagged", payment_id), status)

    @contextmanager
    def lock(self, payment_id: str, wait_seconds: float = 10.0) -> Iterator[None]:
        """Two events of one payment (a webhook and an IPN, say) never run its steps at
        the same time, so a status is tagged once. Expires with the job timeout, so a
        killed worker cannot hold it for ever."""
        key = self.key("payment-lock", payment_id)
        token = secrets.token_hex(8)
        deadline = time.monotonic() + wait_seconds
        while not self.redis.set(key, token, nx=True, ex=self.lock_seconds):
            if time.monotonic() > deadline:
                raise RetryableError("payment lock", f"payment {payment_id} is being processed by another event")
            time.sleep(0.05)
        try:
            yield
        finally:
            self._release(keys=[key], args=[token])
