"""The reconciler's metrics, pushed to a Pushgateway: a CronJob lives too briefly to be
scraped. The counters are cumulative totals kept in Redis, so `increase()` works across
passes; a failed pass leaves the last-success time as it was."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
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
    registry.register(PassTotals(totals))
    if succeeded:
        Gauge(
            "mpwh_reconciler_last_success_timestamp_seconds", "End of the last successful pass.", registry=registry
        ).set_to_current_time()
    # The pod's namespace in the grouping key: scraped with honor_labels, the series keep
    # the install's namespace (not the Pushgateway's), so the alerts group by it.
    grouping = {"prefix": settings.key_prefix}
    if settings.pod_namespace:
        grouping["namespace"] = settings.pod_namespace
    pushadd_to_gateway(settings.pushgateway_url, job=JOB, grouping_key=grouping, registry=registry)


class PassTotals(Collector):
    """The totals kept in Redis, pushed as counters (a gauge named *_total would break
    the convention rules and dashboards rely on; the values only ever grow)."""

    def __init__(self, totals: dict[str, int]) -> None:
        self.totals = totals

    def collect(self) -> Iterator[CounterMetricFamily]:
        recovered = CounterMetricFamily(
            "mpwh_reconciler_recovered", "Events recovered by the reconciler.", labels=["reason"]
        )
        for reason in Recovery:
            recovered.add_metric([reason], self.totals.get(f"recovered:{reason}", 0))
        deleted = CounterMetricFamily("mpwh_reconciler_deleted", "Events deleted by retention.", labels=["status"])
        for status in RETAINED:
            deleted.add_metric([status], self.totals.get(f"deleted:{status}", 0))
        yield recovered
        yield deleted
