"""One reconcile pass: repairs what crashes leave behind, applies retention, and asks
Mercado Pago for payments whose notification never arrived.

A pass is idempotent, and two passes never run at once (a Redis lock; the second one
says so and does nothing). Every repair goes through the same store scripts as normal
processing, so a repaired event looks like any other retry in its history."""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from redis import Redis

from services.core.attempts import Failure, FailureKind, Outcome
from services.core.deadline import Deadline
from services.core.events import EventStatus, NewEvent, Source
from services.core.naming import pod_of
from services.core.payments import updated_timestamp
from services.core.settings import Settings
from services.core.store import EventCalls, EventStore
from services.core.store.model import ReceiptStatus, RequeueMode, RequeueResult
from services.upstream.errors import ProcessingError
from services.upstream.mercadopago import MercadoPago

from .kube import Cluster

log = logging.getLogger("mpwh.reconciler")

# A job popped by a worker is claimed within milliseconds; only events due for longer
# than this without a job anywhere count as lost.
LOST_GRACE_SECONDS = 30
SWEEP_OVERLAP_SECONDS = 300
# One pass's bounds: a day of updates, and this many pages of RECONCILE_SWEEP_PAGE_SIZE.
SWEEP_MAX_SPAN_SECONDS = 86400
SWEEP_MAX_PAGES = 200
RETENTION_BATCH = 500
SEARCH_CALL_SECONDS = 30.0
PASS_LOCK_MIN_SECONDS = 300


class Recovery(StrEnum):
    """The `reason` label of mpwh_reconciler_recovered_total."""

    ABANDONED_TIMEOUT = "abandoned_timeout"
    WORKER_GONE = "worker_gone"
    LOST_ENQUEUE = "lost_enqueue"
    MISSED_NOTIFICATION = "missed_notification"


RETAINED = (EventStatus.SUCCESS, EventStatus.FAILED)


@dataclass
class PassSummary:
    recovered: dict[Recovery, int] = field(default_factory=lambda: dict.fromkeys(Recovery, 0))
    deleted: dict[EventStatus, int] = field(default_factory=lambda: dict.fromkeys(RETAINED, 0))
    unlisted_payments: int = 0
    sweep: str = "disabled"
    workers: str = "by time only (not in a cluster)"

    def lines(self) -> list[str]:
        r = self.recovered
        return [
            f"abandoned attempts: {r[Recovery.ABANDONED_TIMEOUT]} past JOB_TIMEOUT_SECONDS, "
            f"{r[Recovery.WORKER_GONE]} whose worker pod is gone ({self.workers})",
            f"lost enqueues: {r[Recovery.LOST_ENQUEUE]} re-queued",
            f"retention: {self.deleted[EventStatus.SUCCESS]} success and "
            f"{self.deleted[EventStatus.FAILED]} failed events deleted, "
            f"{self.unlisted_payments} payments taken off the payments list",
            f"missed notifications: {r[Recovery.MISSED_NOTIFICATION]} events created ({self.sweep})",
        ]

    @property
    def total_recovered(self) -> int:
        return sum(self.recovered.values())


class Reconciler:
    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        *,
        cluster: Cluster | None = None,
        mercadopago: MercadoPago | None = None,
    ) -> None:
        self.settings = settings
        self.redis = redis
        # One per process: the pass lock's owner (see run_pass).
        self.token = secrets.token_hex(8)
        self.store = EventStore(redis, EventCalls(settings))
        self.keys = self.store.keys
        self.cluster = cluster
        self.mercadopago = mercadopago

    def run_pass(self, now: float | None = None) -> PassSummary | None:
        """Returns None when another pass holds the lock."""
        token, lock = self.token, self.keys.reconciler.lock
        lock_seconds = max(PASS_LOCK_MIN_SECONDS, self.settings.job_timeout_seconds)
        if not self.redis.set(lock, token, nx=True, ex=lock_seconds):
            # A lock of this process's own is one a pass could not release because Redis
            # failed under it: the loop's next pass takes it back rather than wait it out.
            if self.redis.get(lock) != token.encode():
                return None
            self.redis.expire(lock, lock_seconds)
        try:
            now = time.time() if now is None else now
            summary = PassSummary()
            self.recover_abandoned(now, summary)
            self.requeue_lost(now, summary)
            self.apply_retention(now, summary)
            if self.mercadopago is not None and self.settings.reconcile_sweep_enabled:
                self.sweep_missed(self.mercadopago, now, summary)
            return summary
        finally:
            if self.redis.get(lock) == token.encode():
                self.redis.delete(lock)

    def recover_abandoned(self, now: float, summary: PassSummary) -> None:
        processing = self.store.processing_ids()
        if not processing:
            return
        live = None
        if self.cluster is not None:
            live = self.cluster.live_pods(self.settings.worker_pod_selector)
            summary.workers = f"{len(live)} live worker pods"
        timeout = self.settings.job_timeout_seconds
        for event_id in processing:
            event = self.store.get(event_id)
            if event is None or event.status != EventStatus.PROCESSING:
                continue
            # A running attempt's worker keeps it alive every KEEP_ALIVE_SECONDS, and ends
            # it by its deadline inside JOB_TIMEOUT_SECONDS: silence that long means it is gone.
            alive = event.alive_at or event.attempt_started_at or 0.0
            if live is not None and event.worker and pod_of(event.worker) not in live:
                reason, why = Recovery.WORKER_GONE, f"worker {event.worker} is gone"
            elif now - alive > timeout:
                reason, why = (
                    Recovery.ABANDONED_TIMEOUT,
                    f"no sign of life for {int(now - alive)}s (JOB_TIMEOUT_SECONDS={timeout})",
                )
            else:
                continue
            failure = Failure(FailureKind.RETRYABLE, f"attempt abandoned: {why}", now)
            outcome = self.store.abandon(event_id, event.attempts, failure, now=now)
            if outcome != Outcome.STALE:
                summary.recovered[reason] += 1
                log.warning(
                    "recovered abandoned attempt", extra={"event_id": event_id, "reason": reason, "outcome": outcome}
                )

    def requeue_lost(self, now: float, summary: PassSummary) -> None:
        for event_id in self.store.due_ids(before=now - LOST_GRACE_SECONDS):
            job_id = self.store.job_of(event_id)
            if job_id and self.store.job_waiting(job_id):
                continue
            requeued = self.store.requeue(event_id, RequeueMode.LOST, expected_job_id=job_id, now=now)
            if requeued == RequeueResult.QUEUED:
                summary.recovered[Recovery.LOST_ENQUEUE] += 1
                log.warning("re-queued event whose job was lost", extra={"event_id": event_id, "job_id": job_id})

    def apply_retention(self, now: float, summary: PassSummary) -> None:
        days = {
            EventStatus.SUCCESS: self.settings.retention_success_days,
            EventStatus.FAILED: self.settings.retention_failed_days,
        }
        for status in RETAINED:
            while True:
                ids = self.store.finished_ids(status, received_before=now - days[status] * 86400, limit=RETENTION_BATCH)
                summary.deleted[status] += sum(self.store.delete_finished(event_id) for event_id in ids)
                if len(ids) < RETENTION_BATCH:
                    break
        # A payment stays listed while its events may: until the longer retention has
        # passed since its last update (its state stays, found by id).
        payments_before = now - max(days.values()) * 86400
        while True:
            unlisted = self.store.expire_payments(updated_before=payments_before, limit=RETENTION_BATCH)
            summary.unlisted_payments += unlisted
            if unlisted < RETENTION_BATCH:
                break

    def sweep_missed(self, mercadopago: MercadoPago, now: float, summary: PassSummary) -> None:
        """Searches the payments updated since the last successful sweep (less
        SWEEP_OVERLAP_SECONDS, for payments the search indexes late), however long ago,
        or the last RECONCILE_SWEEP_WINDOW_MINUTES on a first sweep. One pass covers at
        most SWEEP_MAX_SPAN_SECONDS of updates and SWEEP_MAX_PAGES pages: a longer gap is
        caught up by the passes that follow. A pass out of pages stores its cursor (range,
        last key, ids read at it) and the next one resumes exactly there, with no
        overlap, so passes progress however many payments change within the overlap."""
        saved = self.redis.get(self.keys.reconciler.sweep_cursor)
        if saved:
            sweep = Sweep.resume(saved)
        else:
            last = self.redis.get(self.keys.reconciler.last_sweep)
            window = self.settings.reconcile_sweep_window_minutes * 60
            begin = float(last) - SWEEP_OVERLAP_SECONDS if last else now - window
            sweep = Sweep(begin, min(now, begin + SWEEP_MAX_SPAN_SECONDS))
        end = sweep.end_ts
        try:
            while sweep.pages < SWEEP_MAX_PAGES:
                results = sweep.read(mercadopago, self.settings.reconcile_sweep_page_size)
                for payment in results:
                    if self._unprocessed(payment):
                        summary.recovered[Recovery.MISSED_NOTIFICATION] += self._create_sweep_event(payment)
                if sweep.done:
                    break
        except ProcessingError as error:
            summary.sweep = f"failed: {error}"
            raise
        # How far the search is complete: to `end`, or (out of pages) to the last update seen.
        covered = end if sweep.done else updated_timestamp({"date_last_updated": sweep.cursor})
        progress = self.redis.pipeline()
        progress.set(self.keys.reconciler.last_sweep, repr(covered))
        if sweep.done:
            progress.delete(self.keys.reconciler.sweep_cursor)
        else:
            progress.set(self.keys.reconciler.sweep_cursor, sweep.saved())
        progress.execute()
        summary.sweep = f"{sweep.seen} payments updated {sweep.begin} .. {_mp_time(covered)} checked"
        if not sweep.done or now - covered >= 1:
            summary.sweep += f"; behind by {int(now - covered)}s, the next passes catch up"

    def _unprocessed(self, payment: dict[str, Any]) -> bool:
        stored = self.store.stored_payment(str(payment.get("id")))
        if not stored:
            return True
        newer = float(stored.get("updated_ts", "-1")) < updated_timestamp(payment)
        return newer or stored.get("status") != payment.get("status")

    def _create_sweep_event(self, payment: dict[str, Any]) -> int:
        # The state's own identity as the notification id: sweeping it again is a duplicate.
        state_id = f"sweep:{payment.get('id')}:{payment.get('status')}:{payment.get('date_last_updated')}"
        event = NewEvent(
            source=Source.RECONCILE,
            type="payment",
            resource_id=str(payment.get("id")),
            webhook_id=state_id,
            action="reconcile.missed",
            live_mode=payment.get("live_mode"),
            payload={
                "reconciled_from": "payments search",
                "status": payment.get("status"),
                "date_last_updated": payment.get("date_last_updated"),
            },
        )
        receipt = self.store.receive(event)
        if receipt.status == ReceiptStatus.RECEIVED:
            log.warning(
                "created event for a payment whose notification never arrived",
                extra={"event_id": receipt.event_id, "resource_id": event.resource_id},
            )
            return 1
        return 0


class Sweep:
    """Pages through the payments updated in [begin, end], oldest first, by key rather
    than by offset: each page starts at the last `date_last_updated` seen, skipping the
    ids already read at that instant (the tie-breaker). A payment that changes during the
    sweep leaves the range without shifting the ones after it, as it would under offset
    paging. Only when a whole page shares one instant does the offset step over it."""

    def __init__(self, begin_ts: float, end_ts: float) -> None:
        self.begin_ts, self.end_ts = begin_ts, end_ts
        self.begin, self.end = _mp_time(begin_ts), _mp_time(end_ts)
        self.cursor = self.begin
        self.read_at_cursor: set[str] = set()
        self.pages = self.seen = 0
        self.done = False

    def saved(self) -> str:
        """What the next pass resumes from (see `resume`)."""
        state = {"begin": self.begin_ts, "end": self.end_ts, "cursor": self.cursor, "read": sorted(self.read_at_cursor)}
        return json.dumps(state)

    @classmethod
    def resume(cls, saved: str | bytes) -> Sweep:
        state = json.loads(saved)
        sweep = cls(float(state["begin"]), float(state["end"]))
        sweep.cursor, sweep.read_at_cursor = str(state["cursor"]), {str(i) for i in state["read"]}
        return sweep

    def read(self, mercadopago: MercadoPago, limit: int) -> list[dict[str, Any]]:
        """The next page's payments not read before."""
        stuck = len(self.read_at_cursor) >= limit
        page = mercadopago.search_payments(
            begin=self.cursor,
            end=self.end,
            offset=len(self.read_at_cursor) if stuck else 0,
            limit=limit,
            deadline=Deadline.after(SEARCH_CALL_SECONDS),
        )
        self.pages += 1
        results = page.get("results") or []
        fresh = [p for p in results if str(p.get("id")) not in self.read_at_cursor or stuck]
        for payment in fresh:
            updated = str(payment.get("date_last_updated") or self.cursor)
            if updated != self.cursor:
                self.cursor, self.read_at_cursor = updated, set()
            self.read_at_cursor.add(str(payment.get("id")))
        self.seen += len(fresh)
        self.done = len(results) < limit
        return fresh


def _mp_time(timestamp: float) -> str:
    # The payments search API takes ISO-8601 with milliseconds and an offset.
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
