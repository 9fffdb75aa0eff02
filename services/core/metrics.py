"""Metrics every component exposes: the pipeline gauges, computed from Redis at scrape
time so that every replica reports the same value (dashboards aggregate with `max`)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from .store import EventStore
from .store.model import PipelineSnapshot


def pipeline_metrics(snapshot: PipelineSnapshot, queue: str) -> list[GaugeMetricFamily]:
    events = GaugeMetricFamily("mpwh_events", "Stored events by status.", labels=["status"])
    for status, count in snapshot.by_status.items():
        events.add_metric([status], count)
    depth = GaugeMetricFamily("mpwh_queue_depth", "Jobs waiting in the RQ queue.", labels=["queue"])
    depth.add_metric([queue], snapshot.queue_depth)
    return [
        events,
        depth,
        GaugeMetricFamily(
            "mpwh_oldest_pending_age_seconds",
            "How long the longest-waiting due event has waited past its due time (0 when none).",
            value=snapshot.oldest_pending_age,
        ),
        GaugeMetricFamily("mpwh_scheduled_retries", "Retries waiting in rq-scheduler.", value=snapshot.scheduled),
        GaugeMetricFamily(
            "mpwh_scheduler_lag_seconds",
            "Age of the oldest retry that is due but not yet moved to the queue.",
            value=snapshot.scheduler_lag,
        ),
    ]


class PipelineCollector(Collector):
    """For the blocking components (worker, scheduler): reads Redis on each scrape.
    A Redis outage leaves the gauges out of that scrape rather than failing it."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            snapshot = self.store.pipeline()
        except RedisError:
            return  # the process's own metrics still go out
        yield from pipeline_metrics(snapshot, self.store.keys.queue_name)
