"""The reconciler's metrics, pushed to a Pushgateway: a CronJob lives too briefly to be
scraped. The counters are cumulative totals kept in Redis, so `increase()` works across
passes; a failed pass leaves the last-success time as it was."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway
from redis import Redis

from services.core.keys import Keys
from services.core.redis_client import text
from services.core.settings import Settings

from .reconciler import RETAINED, PassSummary, Recovery

JOB = "mpwh-reconciler"


def record_totals(redis: Redis, keys: Keys, summary: PassSummary) -> None:
    with redis.pipeline() as pipe:
        for reason, count in summary.recovered.items():
            pipe.hincrby(keys.reconciler.totals, f"recovered:{reason}", count)
        for status, count in summary.deleted.items():
            pipe.hincrby(keys.reconciler.totals, f"deleted:{status}", count)
        pipe.execute()


def push_metrics(settings: Settings, redis: Redis, keys: Keys, *, succeeded: bool) -> None:
    if not settings.pushgateway_url:
        return
    totals = {text(k): int(v) for k, v in redis.hgetall(keys.reconciler.totals).items()}
    registry = CollectorRegistry()
    # Gauges carrying counter totals: the Pushgateway stores values, not increments.
    recovered = Gauge(
        "mpwh_reconciler_recovered_total", "Events recovered by the reconciler.", ["reason"], registry=registry
    )
    deleted = Gauge("mpwh_reconciler_deleted_total", "Events deleted by retention.", ["status"], registry=registry)
    for reason in Recovery:
        recovered.labels(reason).set(totals.get(f"recovered:{reason}", 0))
    for status in RETAINED:
        deleted.labels(status).set(totals.get(f"deleted:{status}", 0))
    if succeeded:
        Gauge(
            "mpwh_reconciler_last_success_timestamp_seconds", "End of the last successful pass.", registry=registry
        ).set_to_current_time()
    pushadd_to_gateway(
        settings.pushgateway_url, job=JOB, grouping_key={"prefix": settings.key_prefix}, registry=registry
    )
