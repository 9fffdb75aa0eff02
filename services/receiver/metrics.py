"""The receiver's own metrics (the pipeline gauges come from services.core.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

WEBHOOKS_RECEIVED = Counter(
    "mpwh_webhooks_received_total",
    "Notifications answered, by type and outcome.",
    ["type", "outcome"],
)
RECEIVE_DURATION = Histogram(
    "mpwh_receive_duration_seconds",
    "Time from request start to the answer of POST /webhooks/mp.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

# Series exist from start-up at 0, so rate()/increase() see the first notification of
# each outcome too (a counter born at 1 looks like no increase to Prometheus).
for _outcome in ("received", "duplicate", "invalid_signature", "unavailable"):
    WEBHOOKS_RECEIVED.labels("payment", _outcome)
for _outcome in ("bad_request", "too_large"):
    WEBHOOKS_RECEIVED.labels("unknown", _outcome)
