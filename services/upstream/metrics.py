"""Metrics of the calls to Mercado Pago and GoHighLevel (worker and reconciler)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis import Redis
from redis.exceptions import RedisError

from services.core.breakers import UPSTREAMS, BreakerState
from services.core.keys import Keys

from .breaker import breaker_states

UPSTREAM_REQUESTS = Counter(
    "mpwh_upstream_requests_total",
    "Requests to Mercado Pago and GoHighLevel by HTTP status (or timeout/error).",
    ["upstream", "code"],
)
UPSTREAM_DURATION = Histogram(
    "mpwh_upstream_request_duration_seconds",
    "Duration of requests to Mercado Pago and GoHighLevel.",
    ["upstream"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 30),
)
GHL_RATE_LIMIT_WAITS = Counter(
    "mpwh_ghl_rate_limit_waits_total",
    "Times a GoHighLevel call waited for the shared rate limiter or a 429's interval.",
)
GHL_RATE_LIMIT_WAIT_SECONDS = Counter(
    "mpwh_ghl_rate_limit_wait_seconds_total",
    "Seconds spent waiting for GoHighLevel's rate limit.",
)

for _upstream in UPSTREAMS:
    UPSTREAM_DURATION.labels(_upstream)
# The codes alerts read with rate()/increase() exist from start-up at 0, so the first
# 401 after a start (a revoked token) is seen too: a series born at 1 shows no increase.
for _upstream in UPSTREAMS:
    for _code in ("401", "403", "429"):
        UPSTREAM_REQUESTS.labels(_upstream, _code)


class BreakerCollector(Collector):
    """mpwh_upstream_breaker_open{upstream}, read from the breakers' shared state in Redis
    on each scrape (the worker exports it). A Redis outage leaves it out of that scrape."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            states = breaker_states(self.redis, self.keys)
        except RedisError:
            return
        gauge = GaugeMetricFamily(
            "mpwh_upstream_breaker_open",
            "1 while the upstream's breaker is open (calls held back, one probe per BREAKER_PROBE_SECONDS).",
            labels=["upstream"],
        )
        for upstream, state in states.items():
            gauge.add_metric([upstream], 1.0 if state == BreakerState.OPEN else 0.0)
        yield gauge
