"""One reconcile pass: repairs what crashes leave behind, applies retention, and asks
Mercado Pago for payments whose notification never arrived.

A pass is idempotent, and two passes never run at once (a Redis lock; the second one
says so and does nothing). Every repair goes through the same store scripts as normal
processing, so a repaired event looks like any other retry in its history."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from redis import Redis

from services.core.attempts import Failure, FailureKind, Outcome
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
RETENTION_BATCH = 500
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
        self.store = EventStore(redis, EventCalls(settings))
        self.keys = self.store.keys
        self.cluster = cluster
        self.mercadopago = mercadopago

    def run_pass(self, now: float | None = None) -> PassSummary | None:
        """Returns None when another pass holds the lock."""
        token = secrets.token_hex(8)
        lock_seconds = max(PASS_LOCK_MIN_SECONDS, self.settings.job_timeout_seconds)
        if not self.redis.set(self.keys.reconciler.lock, token, nx=True, ex=lock_seconds):
            return None
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
            if self.redis.get(self.keys.reconciler.lock) == token.encode():
                self.redis.delete(self.keys.reconciler.lock)

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
            started = event.attempt_started_at or 0.0
            if live is not None and event.worker and pod_of(event.worker) not in live:
                reason, why = Recovery.WORKER_GONE, f"worker {event.worker} is gone"
            elif now - started > timeout:
                reason, why = (
                    Recovery.ABANDONED_TIMEOUT,
                    f"no outcome after {int(now - started)}s (JOB_TIMEOUT_SECONDS={timeout})",
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
        last = self.redis.get(self.keys.reconciler.last_sweep)
        window_start = now - self.settings.reconcile_sweep_window_minutes * 60
        begin = max(window_start, float(last) - SWEEP_OVERLAP_SECONDS) if last else window_start
        begin_iso, end_iso = _mp_time(begin), _mp_time(now)
        offset, seen = 0, 0
        try:
            while True:
                page = mercadopago.search_payments(
                    begin=begin_iso, end=end_iso, offset=offset, limit=self.settings.reconcile_sweep_page_size
                )
                results = page.get("results") or []
                for payment in results:
                    seen += 1
                    if self._unprocessed(payment):
                        summary.recovered[Recovery.MISSED_NOTIFICATION] += self._create_sweep_event(payment)
                offset += len(results)
                total = int((page.get("paging") or {}).get("total") or 0)
                if not results or offset >= total:
                    break
        except ProcessingError as error:
            summary.sweep = f"failed: {error}"
            raise
        self.redis.set(self.keys.reconciler.last_sweep, repr(now))
        summary.sweep = f"{seen} payments updated {begin_iso} .. {end_iso} checked"

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


def _mp_time(timestamp: float) -> str:
    # The payments search API takes ISO-8601 with milliseconds and an offset.
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
