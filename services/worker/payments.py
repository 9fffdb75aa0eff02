"""What the worker keeps about each payment: its latest state, its GoHighLevel contact,
and which statuses were already tagged."""

from __future__ import annotations

import secrets
import time
from datetime import datetime
from typing import Any

from redis import Redis

from .errors import RetryableError
from .ratelimit import TAKE_TOKEN, SlidingWindowLimiter

# Only a state at least as new as the stored one is written: notifications arrive out
# of order, and a retried old event must not roll a payment back.
_STORE_IF_NEWER = """
local stored = tonumber(redis.call('HGET', KEYS[1], 'updated_ts') or '-1')
if stored > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'updated_ts', ARGV[1], unpack(ARGV, 2))
return 1
"""
# The payment path's first step in one round trip: take the payment's lock (SET NX EX:
# two events of one payment, a webhook and an IPN say, never run its steps at once, so a
# status is tagged once; it expires with the job timeout, so a killed worker cannot hold
# it for ever), store the state if it is at least as new as the stored one, read what
# the handler needs next, and take the GoHighLevel limiter's token for the first call
# that follows (tags for a remembered contact, else the search), if one does. Only the
# next call's token is taken here: a token taken earlier would be counted before its
# request is sent. The lock is released here when nothing else will happen under it
# (older state, status already tagged); otherwise it is registered on the event, and
# the event store's `finish` releases it when the attempt ends, by its worker or by the
# reconciler's recovery.
# KEYS: lock, payment hash, tagged set, limiter, event hash. ARGV: token, lock seconds,
# updated_ts, status, limiter window / limit / member, whether a GoHighLevel call follows with a
# remembered contact ('1'/'0') and without one, then the state's field/value pairs.
# Returns {'locked'} | {'older', stored status, stored date_last_updated} |
# {'tagged'} | {'stored', remembered contact id or '', '1' if the token was taken}.
_BEGIN = (
    TAKE_TOKEN
    + """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return {'locked'} end
local stored = tonumber(redis.call('HGET', KEYS[2], 'updated_ts') or '-1')
if stored > tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1])
  local old = redis.call('HMGET', KEYS[2], 'status', 'date_last_updated')
  return {'older', old[1] or '', old[2] or ''}
end
redis.call('HSET', KEYS[2], 'updated_ts', ARGV[3], unpack(ARGV, 10))
if redis.call('SISMEMBER', KEYS[3], ARGV[4]) == 1 then
  redis.call('DEL', KEYS[1])
  return {'tagged'}
end
redis.call('HSET', KEYS[5], 'held_lock', KEYS[1], 'held_token', ARGV[1])
local contact = redis.call('HGET', KEYS[2], 'contact_id') or ''
local calls = ARGV[contact ~= '' and 8 or 9] == '1'
local took = calls and take_token(KEYS[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]) == 0
return {'stored', contact, took and '1' or '0'}
"""
)


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
        self._begin = redis.register_script(_BEGIN)

    def key(self, kind: str, resource_id: str) -> str:
        return f"{self.prefix}:{kind}:{resource_id}"

    def store_if_newer(self, kind: str, resource_id: str, updated_ts: float, state: dict[str, str]) -> bool:
        flat = [item for pair in state.items() for item in pair]
        return bool(self._store_if_newer(keys=[self.key(kind, resource_id)], args=[repr(updated_ts), *flat]))

    def get(self, kind: str, resource_id: str) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.redis.hgetall(self.key(kind, resource_id)).items()}

    def begin(
        self,
        payment_id: str,
        status: str,
        updated_ts: float,
        state: dict[str, str],
        *,
        event_key: str,
        limiter: SlidingWindowLimiter,
        calls_if_remembered: bool,
        calls_otherwise: bool,
        wait_seconds: float = 10.0,
    ) -> PaymentStep:
        """Takes the payment's lock and stores its state if newer, in one round trip per
        try, waiting up to `wait_seconds` for the lock. The returned step holds the lock only
        when `verdict` is "stored"; it is registered on the event (`event_key`), so the
        attempt's end releases it. The attempt then ends with the step's `effects`.
        `calls_if_remembered` / `calls_otherwise`: whether a GoHighLevel call follows when
        a contact is remembered for the payment / when none is; the step then also takes
        that call's token from `limiter` when the window has room (`took_token`)."""
        keys = [
            self.key("payment-lock", payment_id),
            self.key("payment", payment_id),
            self.key("payment-tagged", payment_id),
            limiter.key,
            event_key,
        ]
        token = secrets.token_hex(8)
        flat = [item for pair in state.items() for item in pair]
        args = [
            token,
            self.lock_seconds,
            repr(updated_ts),
            status,
            *limiter.token_args(),
            int(calls_if_remembered),
            int(calls_otherwise),
            *flat,
        ]
        deadline = time.monotonic() + wait_seconds
        while True:
            result = self._begin(keys=keys, args=args)
            verdict = result[0].decode()
            if verdict != "locked":
                break
            if time.monotonic() > deadline:
                raise RetryableError("payment lock", f"payment {payment_id} is being processed by another event")
            time.sleep(0.05)
        step = PaymentStep(keys[1], keys[2], verdict)
        if verdict == "older":
            step.stored = {"status": result[1].decode(), "date_last_updated": result[2].decode()}
        elif verdict == "stored":
            step.contact_id = result[1].decode() or None
            step.took_token = result[2] == b"1"
        return step


class PaymentStep:
    """What `PaymentStore.begin` found: verdict "older" (nothing stored; `stored` holds
    the newer stored status and date), "tagged" (stored; the status was already tagged)
    or "stored" (stored; `contact_id` is the remembered contact, if any; `took_token`
    whether the limiter's token for the next GoHighLevel call is already taken). Only a
    "stored" step holds the payment's lock."""

    def __init__(self, payment_key: str, tagged_key: str, verdict: str) -> None:
        self.payment_key = payment_key
        self.tagged_key = tagged_key
        self.verdict = verdict
        self.stored: dict[str, str] = {}
        self.contact_id: str | None = None
        self.took_token = False

    def effects(self, contact_id: str | None, tagged_status: str | None) -> list[list[str]]:
        """The step's last writes, which the event store's `finish` applies in the same
        atomic step that ends the attempt (and releases the lock), whatever its outcome:
        remember the contact (found even if a later call failed: the next attempt then
        skips the search) and record the status as tagged (only after the tags call
        succeeded)."""
        if self.verdict != "stored":
            return []
        effects = [["hset", self.payment_key, "contact_id", contact_id]] if contact_id else []
        if tagged_status:
            effects.append(["sadd", self.tagged_key, tagged_status])
        return effects
