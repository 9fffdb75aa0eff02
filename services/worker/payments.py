"""What the worker keeps about each payment: its latest state, its GoHighLevel contact,
and which statuses were already tagged."""

from __future__ import annotations

import secrets
import time
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
# The payment path's first step in one round trip: take the payment's lock (SET NX EX:
# two events of one payment, a webhook and an IPN say, never run its steps at once, so a
# status is tagged once; it expires with the job timeout, so a killed worker cannot hold
# it for ever), store the state if it is at least as new as the stored one, and read
# what the handler needs next. The lock is released here when nothing else will happen
# under it (older state, status already tagged).
# KEYS: lock, payment hash, tagged set. ARGV: token, lock seconds, updated_ts, status,
# then the state's field/value pairs.
# Returns {'locked'} | {'older', stored status, stored date_last_updated} |
# {'tagged'} | {'stored', remembered contact id or ''}.
_BEGIN = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return {'locked'} end
local stored = tonumber(redis.call('HGET', KEYS[2], 'updated_ts') or '-1')
if stored > tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1])
  local old = redis.call('HMGET', KEYS[2], 'status', 'date_last_updated')
  return {'older', old[1] or '', old[2] or ''}
end
redis.call('HSET', KEYS[2], 'updated_ts', ARGV[3], unpack(ARGV, 5))
if redis.call('SISMEMBER', KEYS[3], ARGV[4]) == 1 then
  redis.call('DEL', KEYS[1])
  return {'tagged'}
end
return {'stored', redis.call('HGET', KEYS[2], 'contact_id') or ''}
"""
# The payment path's last step in one round trip: remember the contact, record the
# status as tagged (unless ARGV[3] is ''), release the lock if this holder still has it.
# KEYS: lock, payment hash, tagged set. ARGV: token, contact id, status or ''.
_TAGGED = """
redis.call('HSET', KEYS[2], 'contact_id', ARGV[2])
if ARGV[3] ~= '' then redis.call('SADD', KEYS[3], ARGV[3]) end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
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
        self._begin = redis.register_script(_BEGIN)
        self._tagged = redis.register_script(_TAGGED)

    def key(self, kind: str, resource_id: str) -> str:
        return f"{self.prefix}:{kind}:{resource_id}"

    def store_if_newer(self, kind: str, resource_id: str, updated_ts: float, state: dict[str, str]) -> bool:
        flat = [item for pair in state.items() for item in pair]
        return bool(self._store_if_newer(keys=[self.key(kind, resource_id)], args=[repr(updated_ts), *flat]))

    def get(self, kind: str, resource_id: str) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.redis.hgetall(self.key(kind, resource_id)).items()}

    def begin(self, payment_id: str, status: str, updated_ts: float, state: dict[str, str], wait_seconds: float = 10.0) -> PaymentStep:
        """Takes the payment's lock and stores its state if newer, in one round trip per
        try, waiting up to `wait_seconds` for the lock. The returned step holds the lock only
        when `verdict` is "stored": the caller must then end it with `tagged` or `release`."""
        keys = [self.key("payment-lock", payment_id), self.key("payment", payment_id), self.key("payment-tagged", payment_id)]
        token = secrets.token_hex(8)
        flat = [item for pair in state.items() for item in pair]
        args = [token, self.lock_seconds, repr(updated_ts), status, *flat]
        deadline = time.monotonic() + wait_seconds
        while True:
            result = self._begin(keys=keys, args=args)
            verdict = result[0].decode()
            if verdict != "locked":
                break
            if time.monotonic() > deadline:
                raise RetryableError("payment lock", f"payment {payment_id} is being processed by another event")
            time.sleep(0.05)
        step = PaymentStep(self, keys, token, verdict)
        if verdict == "older":
            step.stored = {"status": result[1].decode(), "date_last_updated": result[2].decode()}
        elif verdict == "stored":
            step.contact_id = result[1].decode() or None
        return step


class PaymentStep:
    """What `PaymentStore.begin` found: verdict "older" (nothing stored; `stored` holds
    the newer stored status and date), "tagged" (stored; the status was already tagged)
    or "stored" (stored; `contact_id` is the remembered contact, if any). Only a
    "stored" step holds the payment's lock."""

    def __init__(self, payments: PaymentStore, keys: list[str], token: str, verdict: str) -> None:
        self.payments = payments
        self.keys = keys
        self.token = token
        self.verdict = verdict
        self.stored: dict[str, str] = {}
        self.contact_id: str | None = None
        self.held = verdict == "stored"

    def tagged(self, contact_id: str, status: str) -> None:
        """Remembers the contact, records the status as tagged and releases the lock."""
        self.payments._tagged(keys=self.keys, args=[self.token, contact_id, status])
        self.held = False

    def release(self, contact_id: str | None = None) -> None:
        """Releases the lock if still held; remembers `contact_id` (found before a
        failure) in the same round trip."""
        if self.held:
            self.held = False
            if contact_id:
                self.payments._tagged(keys=self.keys, args=[self.token, contact_id, ""])
            else:
                self.payments._release(keys=self.keys[:1], args=[self.token])
