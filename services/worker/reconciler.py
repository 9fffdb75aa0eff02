"""`mp-webhooks reconcile`: one pass that repairs what crashes leave behind, applies
retention, and asks Mercado Pago for payments whose notification never arrived.

A pass is idempotent, and two passes never run at once (a Redis lock; the second one
says so and exits 0). Every repair goes through the same store scripts as normal
processing, so a repaired event looks like any other retry in its history."""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway
from redis import Redis
from rq.queue import Queue

from services.core import rqjobs
from services.core.events import FAILED, SUCCESS, NewEvent
from services.core.ids import id_floor
from services.core.settings import Settings
from services.core.store import EventStore, event_key

from .errors import ProcessingError
from .kube import Cluster
from .payments import PaymentStore, updated_timestamp
from .runner import pod_of
from .upstream.mercadopago import MercadoPago

log = logging.getLogger("mpwh.reconciler")

# A job popped by a worker is claimed within milliseconds; only events due for longer
# than this without a job anywhere count as lost.
LOST_GRACE_SECONDS = 30
SWEEP_OVERLAP_SECONDS = 300
RETENTION_BATCH = 500


@dataclass
class PassSummary:
    recovered: dict[str, int] = field(
        default_factory=lambda: {"abandoned_timeout": 0, "worker_gone": 0, "lost_enqueue": 0, "missed_notification": 0}
    )
    deleted: dict[str, int] = field(default_factory=lambda: {SUCCESS: 0, FAILED: 0})
    sweep: str = "disabled"
    workers: str = "by time only (not in a cluster)"

    def lines(self) -> list[str]:
        r = self.recovered
        return [
            f"abandoned attempts: {r['abandoned_timeout']} past JOB_TIMEOUT_SECONDS, {r['worker_gone']} whose worker pod is gone ({self.workers})",
            f"lost enqueues: {r['lost_enqueue']} re-queued",
            f"retention: {self.deleted[SUCCESS]} success and {self.deleted[FAILED]} failed events deleted",
            f"missed notifications: {r['missed_notification']} events created ({self.sweep})",
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
        self.store = EventStore(redis, settings)
        self.payments = PaymentStore(redis, settings.key_prefix, lock_seconds=settings.job_timeout_seconds)
        self.cluster = cluster
        self.mercadopago = mercadopago
        self.lock_key = f"{settings.key_prefix}:reconcile:lock"
        self.sweep_key = f"{settings.key_prefix}:reconcile:last-sweep"

    def run_pass(self, now: float | None = None) -> PassSummary | None:
        """Returns None when another pass holds the lock."""
        token = secrets.token_hex(8)
        if not self.redis.set(self.lock_key, token, nx=True, ex=max(300, self.settings.job_timeout_seconds)):
            return None
        try:
            now = time.time() if now is None else now
            summary = PassSummary()
            self.recover_abandoned(now, summary)
            self.requeue_lost(now, summary)
            self.apply_retention(now, summary)
            if self.mercadopago is not None and self.settings.reconcile_sweep_enabled:
                self.sweep_missed(now, summary)
            return summary
        finally:
            if self.redis.get(self.lock_key) == token.encode():
                self.redis.delete(self.lock_key)

    def recover_abandoned(self, now: float, summary: PassSummary) -> None:
        processing = [i.decode() for i in self.store.all_processing()]
        if not processing:
            return
        live = None
        if self.cluster is not None:
            live = self.cluster.live_pods(self.settings.worker_pod_selector)
            summary.workers = f"{len(live)} live worker pods"
        for event_id in processing:
            event = self.store.get(event_id)
            if event is None or event.status != "processing":
                continue
            started = event.attempt_started_at or 0.0
            if live is not None and event.worker and pod_of(event.worker) not in live:
                reason, why = "worker_gone", f"worker {event.worker} is gone"
            elif now - started > self.settings.job_timeout_seconds:
                reason, why = (
                    "abandoned_timeout",
                    f"no outcome after {int(now - started)}s (JOB_TIMEOUT_SECONDS={self.settings.job_timeout_seconds})",
                )
            else:
                continue
            fate = self.store.finish(
                event_id,
                event.attempts,
                "retryable",
                error=f"attempt abandoned: {why}",
                retry_at=now,
                history_outcome="abandoned",
                now=now,
            )
            if fate != "stale":
                summary.recovered[reason] += 1
                log.warning("recovered abandoned attempt", extra={"event_id": event_id, "reason": reason, "fate": fate})

    def requeue_lost(self, now: float, summary: PassSummary) -> None:
        queue_key = Queue.redis_queue_namespace_prefix + self.settings.queue_name
        scheduled_key = rqjobs.scheduled_jobs_key(self.settings.key_prefix)
        for raw_id in self.store.due_before(now - LOST_GRACE_SECONDS):
            event_id = raw_id.decode()
            job_id = self.redis.hget(event_key(self.settings.key_prefix, event_id), "job_id")
            job_id = job_id.decode() if job_id else ""
            if job_id and (
                self.redis.lpos(queue_key, job_id) is not None or self.redis.zscore(scheduled_key, job_id) is not None
            ):
                continue
            if self.store.requeue(event_id, mode="lost", expected_job_id=job_id, now=now) == "queued":
                summary.recovered["lost_enqueue"] += 1
                log.warning("re-queued event whose job was lost", extra={"event_id": event_id, "job_id": job_id})

    def apply_retention(self, now: float, summary: PassSummary) -> None:
        for status, days in (
            (SUCCESS, self.settings.retention_success_days),
            (FAILED, self.settings.retention_failed_days),
        ):
            bound = "(" + id_floor(now - days * 86400)
            while True:
                ids = self.redis.zrangebylex(
                    self.store.status_index_key(status), "-", bound, start=0, num=RETENTION_BATCH
                )
                if not ids:
                    break
                summary.deleted[status] += sum(self.store.delete_finished(i.decode()) for i in ids)
                if len(ids) < RETENTION_BATCH:
                    break

    def sweep_missed(self, now: float, summary: PassSummary) -> None:
        last = self.redis.get(self.sweep_key)
        window_start = now - self.settings.reconcile_sweep_window_minutes * 60
        begin = max(window_start, float(last) - SWEEP_OVERLAP_SECONDS) if last else window_start
        begin_iso, end_iso = _mp_time(begin), _mp_time(now)
        offset, seen = 0, 0
        try:
            while True:
                page = self.mercadopago.search_payments(
                    begin=begin_iso, end=end_iso, offset=offset, limit=self.settings.reconcile_sweep_page_size
                )
                results = page.get("results") or []
                for payment in results:
                    seen += 1
                    if self._unprocessed(payment):
                        summary.recovered["missed_notification"] += self._create_sweep_event(payment)
                offset += len(results)
                total = int((page.get("paging") or {}).get("total") or 0)
                if not results or offset >= total:
                    break
        except ProcessingError as error:
            summary.sweep = f"failed: {error}"
            raise
        self.redis.set(self.sweep_key, repr(now))
        summary.sweep = f"{seen} payments updated {begin_iso} .. {end_iso} checked"

    def _unprocessed(self, payment: dict[str, Any]) -> bool:
        stored = self.payments.get("payment", str(payment.get("id")))
        if not stored:
            return True
        return float(stored.get("updated_ts", "-1")) < updated_timestamp(payment) or stored.get(
            "status"
        ) != payment.get("status")

    def _create_sweep_event(self, payment: dict[str, Any]) -> int:
        # The state's own identity as the notification id: sweeping it again is a duplicate.
        state_id = f"sweep:{payment.get('id')}:{payment.get('status')}:{payment.get('date_last_updated')}"
        event = NewEvent(
            source="reconcile",
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
        status, event_id = self.store.receive(event)
        if status == "received":
            log.warning(
                "created event for a payment whose notification never arrived",
                extra={"event_id": event_id, "resource_id": event.resource_id},
            )
            return 1
        return 0


def _mp_time(timestamp: float) -> str:
    # The payments search API takes ISO-8601 with milliseconds and an offset.
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


def publish_metrics(settings: Settings, redis: Redis, summary: PassSummary | None) -> None:
    """Pushes the reconciler's metrics to the Pushgateway (a CronJob lives too briefly
    to be scraped). The counters are cumulative totals kept in Redis, so `increase()`
    works across passes; a failed pass (summary None) leaves the last-success time as it was."""
    totals_key = f"{settings.key_prefix}:reconcile:totals"
    if summary is not None:
        with redis.pipeline() as pipe:
            for reason, count in summary.recovered.items():
                pipe.hincrby(totals_key, f"recovered:{reason}", count)
            for status, count in summary.deleted.items():
                pipe.hincrby(totals_key, f"deleted:{status}", count)
            pipe.execute()
    if not settings.pushgateway_url:
        return
    totals = {k.decode(): int(v) for k, v in redis.hgetall(totals_key).items()}
    registry = CollectorRegistry()
    # Gauges carrying counter totals: the Pushgateway stores values, not increments.
    recovered = Gauge(
        "mpwh_reconciler_recovered_total", "Events recovered by the reconciler.", ["reason"], registry=registry
    )
    deleted = Gauge("mpwh_reconciler_deleted_total", "Events deleted by retention.", ["status"], registry=registry)
    for reason in PassSummary().recovered:
        recovered.labels(reason).set(totals.get(f"recovered:{reason}", 0))
    for status in PassSummary().deleted:
        deleted.labels(status).set(totals.get(f"deleted:{status}", 0))
    if summary is not None:
        Gauge(
            "mpwh_reconciler_last_success_timestamp_seconds", "End of the last successful pass.", registry=registry
        ).set_to_current_time()
    pushadd_to_gateway(
        settings.pushgateway_url, job="mpwh-reconciler", grouping_key={"prefix": settings.key_prefix}, registry=registry
    )
