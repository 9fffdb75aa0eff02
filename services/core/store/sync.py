"""The event store on a blocking client: the worker, the scheduler, the reconciler and
the operator CLI."""

from __future__ import annotations

from typing import TypeVar

from redis import Redis

from ..attempts import Claim, Ending, Failure, Outcome, Skip
from ..events import Event, EventStatus, NewEvent
from ..ids import id_floor
from ..payments import Payment
from ..redis_client import text
from .calls import EventCalls, ScriptCall
from .model import (
    EventQuery,
    Page,
    PaymentPage,
    PaymentQuery,
    PipelineSnapshot,
    Receipt,
    Requester,
    RequeueMode,
    RequeueResult,
    Stats,
)

T = TypeVar("T")


class EventStore:
    def __init__(self, redis: Redis, calls: EventCalls) -> None:
        self.redis, self.calls, self.keys = redis, calls, calls.keys
        self._scripts = calls.register(redis.register_script)

    def _run(self, call: ScriptCall[T]) -> T:
        return call.parse(self._scripts[call.script](keys=call.keys, args=call.args))

    def receive(self, event: NewEvent, now: float | None = None) -> Receipt:
        return self._run(self.calls.receive([self.calls.receive_item(event, now)]))[0]

    def get(self, event_id: str) -> Event | None:
        return self._run(self.calls.get(event_id))

    def page(self, query: EventQuery) -> Page:
        return self._run(self.calls.page(query))

    def stats(self) -> Stats:
        return self._run(self.calls.stats())

    def requeue(
        self,
        event_id: str,
        mode: RequeueMode,
        *,
        requested_by: Requester | None = None,
        expected_job_id: str = "",
        now: float | None = None,
    ) -> RequeueResult:
        call = self.calls.requeue(event_id, mode, requested_by=requested_by, expected_job_id=expected_job_id, now=now)
        return self._run(call)

    def payments_page(self, query: PaymentQuery) -> PaymentPage:
        return self._run(self.calls.payments_page(query))

    def payment(self, payment_id: str) -> Payment | None:
        return self._run(self.calls.payment(payment_id))

    def pipeline(self, now: float | None = None) -> PipelineSnapshot:
        return self._run(self.calls.pipeline(now))

    # What only the worker does.
    def claim(self, event_id: str, job_id: str, worker: str, now: float | None = None) -> Claim | Skip:
        return self._run(self.calls.claim(event_id, job_id, worker, now))

    def keep(self, event_id: str, attempt: int, now: float | None = None) -> bool:
        return self._run(self.calls.keep(event_id, attempt, now))

    def finish(self, event_id: str, ending: Ending, now: float | None = None) -> Outcome:
        return self._run(self.calls.finish(event_id, ending, now=now))

    def release_waiting(self, upstream: str) -> int:
        return self._run(self.calls.release_waiting(upstream))

    # What only the reconciler does.
    def abandon(self, event_id: str, attempt: int, failure: Failure, now: float | None = None) -> Outcome:
        return self._run(self.calls.finish(event_id, Ending(attempt, failure), abandoned=True, now=now))

    def delete_finished(self, event_id: str) -> bool:
        return self._run(self.calls.delete_finished(event_id))

    def expire_payments(self, updated_before: float, limit: int) -> int:
        return self._run(self.calls.expire_payments(updated_before, limit))

    def processing_ids(self) -> list[str]:
        return [text(i) for i in self.redis.zrange(self.keys.processing, 0, -1)]

    def due_ids(self, before: float) -> list[str]:
        return [text(i) for i in self.redis.zrangebyscore(self.keys.due, "-inf", before)]

    def finished_ids(self, status: EventStatus, received_before: float, limit: int) -> list[str]:
        bound = "(" + id_floor(received_before)
        return [text(i) for i in self.redis.zrangebylex(self.keys.by_status(status), "-", bound, start=0, num=limit)]

    def stored_payment(self, payment_id: str) -> dict[str, str]:
        """The payment's stored state (Keys.payment); {} when none."""
        return {text(k): text(v) for k, v in self.redis.hgetall(self.keys.payment(payment_id)).items()}

    def job_of(self, event_id: str) -> str:
        """The id of the event's latest job ("" when it has none)."""
        return text(self.redis.hget(self.keys.event(event_id), "job_id") or "")

    def job_waiting(self, job_id: str) -> bool:
        """Whether the job is in the queue or the schedule (rather than lost)."""
        return (
            self.redis.lpos(self.keys.queue, job_id) is not None
            or self.redis.zscore(self.keys.scheduler.jobs, job_id) is not None
        )
