"""The worker's metrics. The worker runs jobs in its own process (SimpleWorker), so
these counters live in the process that serves them: see docs/architecture.md, "Worker class"."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from services.core.attempts import Outcome

EVENTS_PROCESSED = Counter(
    "mpwh_events_processed_total",
    "Processing attempts by type and outcome (success, retry, failed).",
    ["type", "outcome"],
)
PROCESSING_DURATION = Histogram(
    "mpwh_processing_duration_seconds",
    "Duration of one processing attempt.",
    ["type"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
# Series exist from start-up at 0, so rate()/increase() see the first event of each
# outcome too (a counter born at 1 looks like no increase to Prometheus).
for _outcome in (Outcome.SUCCESS, Outcome.RETRY, Outcome.FAILED):
    EVENTS_PROCESSED.labels("payment", _outcome)
