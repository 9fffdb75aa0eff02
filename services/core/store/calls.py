"""The layer the sync and the async event store share: for every operation, which Lua
script runs, with which keys and arguments, and how its answer becomes a typed result.
Nothing here talks to Redis, so both stores run the same calls, each on its own client.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from .. import rqjobs
from ..attempts import SILENT_AFTER_SECONDS, Claim, Ending, FailureKind, Outcome, Skip, SkipReason
from ..breakers import UPSTREAMS, BreakerView
from ..events import Event, EventStatus, NewEvent
from ..ids import id_floor, new_event_id
from ..keys import Keys
from ..lua import lua_source
from ..payments import Payment
from ..redis_client import text
from ..settings import Settings
from .model import (
    MAX_PAGE,
    EventQuery,
    Page,
    PaymentPage,
    PaymentQuery,
    PipelineSnapshot,
    Receipt,
    ReceiptStatus,
    Requester,
    RequeueMode,
    RequeueResult,
    Stats,
)

T = TypeVar("T")
S = TypeVar("S")
Arg = str | bytes | int | float


class Script(StrEnum):
    RECEIVE = "receive"
    CLAIM = "claim"
    KEEP = "keep"
    FINISH = "finish"
    REQUEUE = "requeue"
    DELETE = "delete"
    PAGE = "page"
    GET = "get"
    STATS = "stats"
    PIPELINE = "pipeline"
    PAYMENTS_PAGE = "payments_page"
    PAYMENT = "payment"
    EXPIRE_PAYMENTS = "expire_payments"
    RELEASE = "release"


# Events shown with one payment (its detail page, the API).
PAYMENT_EVENTS = 100


@functools.cache
def script_source(script: Script) -> str:
    return lua_source(__package__ or "", "prelude", script)


@dataclass(frozen=True)
class ScriptCall(Generic[T]):
    script: Script
    keys: Sequence[str]
    args: Sequence[Arg]
    parse: Callable[[Any], T]


@dataclass(frozen=True)
class ReceiveItem:
    """One notification as the receive script takes it (a batch is several)."""

    keys: tuple[str, str]
    args: tuple[Arg, ...]


class EventCalls:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self._scheme = self.keys.lua_scheme
        self._status_indexes = [self.keys.by_status(status) for status in EventStatus]

    def register(self, register_script: Callable[[str], S]) -> dict[Script, S]:
        """Every script, registered on a client (its `register_script`)."""
        return {script: register_script(script_source(script)) for script in Script}

    def _call(
        self, script: Script, keys: Sequence[str], args: Sequence[Arg], parse: Callable[[Any], T]
    ) -> ScriptCall[T]:
        return ScriptCall(script, keys, [self._scheme, *args], parse)

    def _job(self, event_id: str) -> list[Arg]:
        return list(rqjobs.job_args(event_id, self.keys.queue_name, self.settings.job_timeout_seconds))

    def receive_item(self, event: NewEvent, now: float | None = None) -> ReceiveItem:
        now = time.time() if now is None else now
        event_id = new_event_id(now)
        if event.webhook_id:
            marker, repeats = self.keys.duplicate_of(event.type, event.webhook_id), "id"
        else:
            marker, repeats = self.keys.latest_for(event.type, event.resource_id), "pending"
        fields = _json(event.redis_fields(self.settings.max_attempts))
        return ReceiveItem(
            (self.keys.event(event_id), marker), (event_id, repr(now), repeats, fields, *self._job(event_id))
        )

    def receive(self, items: Sequence[ReceiveItem]) -> ScriptCall[list[Receipt]]:
        def parse(result: list[Any]) -> list[Receipt]:
            return [Receipt(ReceiptStatus(text(s)), text(i)) for s, i in zip(result[::2], result[1::2], strict=True)]

        keys = [key for item in items for key in item.keys]
        return self._call(Script.RECEIVE, keys, [arg for item in items for arg in item.args], parse)

    def get(self, event_id: str) -> ScriptCall[Event | None]:
        def parse(result: Any) -> Event | None:
            if not result:
                return None
            return Event.from_redis(_decode_map(result[0]), [text(h) for h in result[1]])

        return self._call(Script.GET, [self.keys.event(event_id), self.keys.history(event_id)], [], parse)

    def page(self, query: EventQuery) -> ScriptCall[Page]:
        """Newest first. The cursor is the last id returned: ids only grow, so events
        arriving between two pages never shift or repeat what the next page holds."""
        limit = max(1, min(query.limit, MAX_PAGE))
        if query.resource_id is not None:
            index = self.keys.by_resource(query.resource_id)
        elif query.status and query.type:
            index = self.keys.by_status_and_type(query.status, query.type)
        elif query.status:
            index = self.keys.by_status(query.status)
        elif query.type:
            index = self.keys.by_type(query.type)
        else:
            index = self.keys.all_events
        upper, lower, whole = _lex_bounds(query.since, query.until, query.cursor)

        def parse(result: list[Any]) -> Page:
            events = [Event.from_redis(_decode_map(raw)) for raw in result[1] if raw]
            more = len(events) > limit
            events = events[:limit]
            return Page(events, events[-1].id if more else None, int(result[0]))

        return self._call(Script.PAGE, [index], [upper, lower, limit + 1, whole], parse)

    def payments_page(self, query: PaymentQuery) -> ScriptCall[PaymentPage]:
        """Newest update first; the cursor is the last payment's index member."""
        limit = max(1, min(query.limit, MAX_PAGE))
        index = self.keys.payments_by_status(query.status) if query.status else self.keys.all_payments
        upper, lower, whole = _lex_bounds(query.since, query.until, query.cursor)

        def parse(result: list[Any]) -> PaymentPage:
            rows = [(text(member), _decode_map(raw)) for member, raw in result[1]]
            more = len(rows) > limit
            rows = rows[:limit]
            payments = [Payment.from_redis(member.partition(":")[2], raw) for member, raw in rows]
            return PaymentPage(payments, rows[-1][0] if more else None, int(result[0]))

        return self._call(Script.PAYMENTS_PAGE, [index], [upper, lower, limit + 1, whole], parse)

    def payment(self, payment_id: str) -> ScriptCall[Payment | None]:
        def parse(result: Any) -> Payment | None:
            if not result:
                return None
            return Payment.from_redis(payment_id, _decode_map(result[0]), tuple(text(i) for i in result[1]))

        keys = [self.keys.payment(payment_id), self.keys.by_resource(payment_id)]
        return self._call(Script.PAYMENT, keys, [PAYMENT_EVENTS], parse)

    def stats(self) -> ScriptCall[Stats]:
        def parse(result: list[Any]) -> Stats:
            by_type = _decode_map(result[1])
            return Stats(
                by_status={status: int(count) for status, count in zip(EventStatus, result[0], strict=True)},
                by_type={event_type: int(count) for event_type, count in sorted(by_type.items())},
                breakers={
                    upstream: BreakerView.from_redis(_decode_map(raw))
                    for upstream, raw in zip(UPSTREAMS, result[2], strict=True)
                },
            )

        keys = [*self._status_indexes, *(self.keys.breaker(upstream) for upstream in UPSTREAMS)]
        return self._call(Script.STATS, keys, [len(self._status_indexes)], parse)

    def requeue(
        self,
        event_id: str,
        mode: RequeueMode,
        *,
        requested_by: Requester | None = None,
        expected_job_id: str = "",
        now: float | None = None,
    ) -> ScriptCall[RequeueResult]:
        """`requested_by`: who asked for a manual retry, recorded in the event's history."""
        now = time.time() if now is None else now
        args = [
            event_id,
            mode,
            repr(now),
            self.settings.max_attempts,
            expected_job_id,
            requested_by or "",
            *self._job(event_id),
        ]
        keys = [self.keys.event(event_id), self.keys.history(event_id)]
        return self._call(Script.REQUEUE, keys, args, lambda r: RequeueResult(text(r[0])))

    def claim(self, event_id: str, job_id: str, worker: str, now: float | None = None) -> ScriptCall[Claim | Skip]:
        now = time.time() if now is None else now

        def parse(result: list[Any]) -> Claim | Skip:
            answer = text(result[0])
            if answer == "claimed":
                return Claim(int(result[1]), Event.from_redis(_decode_map(result[2])))
            return Skip(SkipReason(answer), text(result[1]) if len(result) > 1 else "")

        keys = [self.keys.event(event_id), self.keys.history(event_id)]
        return self._call(Script.CLAIM, keys, [event_id, job_id, worker, repr(now)], parse)

    def keep(self, event_id: str, attempt: int, now: float | None = None) -> ScriptCall[bool]:
        """A running attempt's keep-alive (see keep.lua): False once it is no longer current."""
        now = time.time() if now is None else now
        return self._call(Script.KEEP, [self.keys.event(event_id)], [attempt, repr(now)], lambda r: bool(int(r)))

    def finish(
        self, event_id: str, ending: Ending, *, abandoned: bool = False, now: float | None = None
    ) -> ScriptCall[Outcome]:
        """Ends an attempt (see finish.lua): its outcome, or `stale` when the attempt is no
        longer current. The effects apply whatever the outcome, and the worker releases
        the attempt's payment lock. The reconciler's recovery (`abandoned`) releases it
        only from an attempt silent for SILENT_AFTER_SECONDS."""
        now = time.time() if now is None else now
        failure, effects = ending.failure, ending.effects
        keys = [self.keys.event(event_id), self.keys.history(event_id)]
        if effects is not None:
            payment_id = effects.payment_id
            keys += [
                self.keys.payment(payment_id),
                self.keys.payment_tagged(payment_id),
                self.keys.payment_lock(payment_id),
            ]
        args: list[Arg] = [
            event_id,
            ending.attempt,
            failure.kind if failure else "",
            repr(now),
            failure.error if failure else "",
            _json(ending.result) if ending.result is not None else "",
            repr(failure.retry_at if failure else now),
            Outcome.ABANDONED if abandoned else "",
            (effects and effects.contact_id) or "",
            effects.tagged.status if effects and effects.tagged else "",
            SILENT_AFTER_SECONDS,
            effects.tagged.record() if effects and effects.tagged else "",
            failure.waiting_on if failure else "",
        ]
        if failure is not None and failure.kind in (FailureKind.RETRYABLE, FailureKind.WAITING):
            args += self._job(event_id)  # the retry's job: only these failures can need one
        return self._call(Script.FINISH, keys, args, lambda r: Outcome(text(r[0])))

    def pipeline(self, now: float | None = None) -> ScriptCall[PipelineSnapshot]:
        now = time.time() if now is None else now

        def parse(result: list[Any]) -> PipelineSnapshot:
            oldest_due = float(result[2]) if result[2] else None
            oldest_scheduled = float(result[4]) if result[4] else None
            return PipelineSnapshot(
                by_status={status: int(count) for status, count in zip(EventStatus, result[0], strict=True)},
                queue_depth=int(result[1]),
                scheduled=int(result[3]),
                oldest_pending_age=max(0.0, now - oldest_due) if oldest_due is not None else 0.0,
                scheduler_lag=max(0.0, now - oldest_scheduled) if oldest_scheduled is not None else 0.0,
            )

        return self._call(Script.PIPELINE, self._status_indexes, [repr(now)], parse)

    def release_waiting(self, upstream: str, now: float | None = None) -> ScriptCall[int]:
        """Queues now, in receipt order, the events waiting for the upstream's breaker
        (see release.lua); how many it queued."""
        now = time.time() if now is None else now
        return self._call(Script.RELEASE, [self.keys.breaker_waiting(upstream)], [repr(now)], int)

    def delete_finished(self, event_id: str) -> ScriptCall[bool]:
        keys = [self.keys.event(event_id), self.keys.history(event_id)]
        return self._call(Script.DELETE, keys, [event_id], bool)

    def expire_payments(self, updated_before: float, limit: int) -> ScriptCall[int]:
        """Takes up to `limit` payments last updated before `updated_before` out of the
        payments' indexes (see expire_payments.lua); answers how many."""
        return self._call(
            Script.EXPIRE_PAYMENTS, [self.keys.all_payments], ["(" + id_floor(updated_before), limit], int
        )


def _lex_bounds(since: float | None, until: float | None, cursor: str | None) -> tuple[str, str, str]:
    """ZREVRANGEBYLEX bounds over members that start with an id floor (event ids, payment
    index members): the page's upper bound (the smaller of the cursor and the first member
    after `until`, exclusive), the lower one, and the whole selection's upper bound."""
    after_until = id_floor(until + 0.001) if until is not None else None
    whole = "(" + after_until if after_until else "+"
    uppers = [bound for bound in (cursor, after_until) if bound]
    upper = "(" + min(uppers) if uppers else "+"
    lower = "[" + id_floor(since) if since is not None else "-"
    return upper, lower, whole


def _decode_map(flat: list[Any]) -> dict[str, str]:
    return {text(k): text(v) for k, v in zip(flat[::2], flat[1::2], strict=True)}


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
