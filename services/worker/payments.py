"""What the worker writes about payments and merchant orders: their latest state (never
rolled back by an older notification), under the payment's lock."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from redis import Redis

from services.core.deadline import Deadline
from services.core.keys import Keys
from services.core.lua import lua_source
from services.core.payments import index_member
from services.upstream.errors import RetryableError
from services.upstream.ratelimit import TAKE_TOKEN, SlidingWindowLimiter

LOCK_POLL_SECONDS = 0.05


# The lock outlives the attempt's deadline by this much: the attempt's last call may
# still be answered right at the deadline, and its end be recorded after it.
LOCK_SLACK_SECONDS = 1.0


class Begun(StrEnum):
    """What the payment step found: the attempt no longer current (nothing taken or
    stored), a stored state newer than this one (nothing stored), the status already
    tagged (stored, nothing left to do), or work to do (stored, and the payment's lock
    held)."""

    STALE = "stale"
    OLDER = "older"
    ALREADY_TAGGED = "tagged"
    STORED = "stored"


@dataclass(frozen=True)
class PaymentStep:
    begun: Begun
    # OLDER: the newer stored status and date.
    stored_status: str = ""
    stored_updated: str = ""
    # STORED: the contact remembered for the payment, and whether the limiter's token
    # for the next GoHighLevel call is already taken.
    contact_id: str | None = None
    first_token_taken: bool = False


@dataclass(frozen=True)
class GoHighLevelCalls:
    """Whether a GoHighLevel call follows the step when a contact is remembered for the
    payment, and when none is; the step then takes that call's token."""

    if_remembered: bool
    otherwise: bool


class PaymentStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.keys = keys
        package = __package__ or ""
        self._store_if_newer = redis.register_script(lua_source(package, "store_if_newer"))
        self._begin = redis.register_script(TAKE_TOKEN + "\n" + lua_source(package, "begin_payment"))

    def store_merchant_order(self, order_id: str, updated_ts: float, state: dict[str, str]) -> bool:
        flat = [item for pair in state.items() for item in pair]
        return bool(self._store_if_newer(keys=[self.keys.merchant_order(order_id)], args=[repr(updated_ts), *flat]))

    def begin(
        self,
        payment_id: str,
        status: str,
        updated_ts: float,
        state: dict[str, str],
        *,
        event_id: str,
        attempt: int,
        deadline: Deadline,
        limiter: SlidingWindowLimiter,
        calls: GoHighLevelCalls,
    ) -> PaymentStep:
        """Takes the payment's lock and stores its state if newer, in one round trip per
        try, waiting for the lock until the attempt's deadline. The lock is held after the
        step only when it begun STORED, until the attempt ends (it expires just after the
        deadline); it is registered on the event, so the attempt's end releases it."""
        keys = [
            self.keys.payment_lock(payment_id),
            self.keys.payment(payment_id),
            self.keys.payment_tagged(payment_id),
            limiter.key,
            self.keys.event(event_id),
            self.keys.all_payments,
            self.keys.payments_by_status(status),
        ]
        flat = [item for pair in state.items() for item in pair]
        while True:
            args = [
                f"{event_id}:{attempt}",
                int((deadline.remaining() + LOCK_SLACK_SECONDS) * 1000),
                repr(updated_ts),
                status,
                *limiter.token_args(),
                int(calls.if_remembered),
                int(calls.otherwise),
                attempt,
                index_member(updated_ts, payment_id),
                *flat,
            ]
            result = [part.decode() for part in self._begin(keys=keys, args=args)]
            if result[0] != "locked":
                break
            if not deadline.allows(LOCK_POLL_SECONDS):
                raise RetryableError("payment lock", f"payment {payment_id} is being processed by another event")
            time.sleep(LOCK_POLL_SECONDS)
        begun = Begun(result[0])
        if begun == Begun.OLDER:
            return PaymentStep(begun, stored_status=result[1], stored_updated=result[2])
        if begun == Begun.STORED:
            return PaymentStep(begun, contact_id=result[1] or None, first_token_taken=result[2] == "1")
        return PaymentStep(begun)
