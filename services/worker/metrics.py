"""The worker's metrics. The worker runs jobs in its own process (SimpleWorker), so
these counters live in the process that serves them: see docs/architecture.md, "Worker class"."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from services.core.attempts import Outcome
from services.core.events import KNOWN_TYPES, OTHER_TYPE, UNKNOWN_TYPE

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
# The SLI of the SLO (docs/operations.md): an event's receipt to the attempt that ends it.
# prometheusRule.slo.latencySeconds must be one of these bounds (a rules test checks it).
EVENT_COMPLETION = Histogram(
    "mpwh_event_completion_seconds",
    "From an event's receipt to the end of the attempt that ended it (success or failed).",
    ["type", "outcome"],
    buckets=(5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600),
)
ENDING_OUTCOMES = (Outcome.SUCCESS, Outcome.FAILED)

# Series exist from start-up at 0, so rate()/increase() see the first event of each
# outcome too (a counter born at 1 looks like no increase to Prometheus): every type x
# outcome of the counter, which MpwhEventsFailed reads with a plain increase() (54
# series); the completion histogram for payments only, the events the SLO is about (its
# other types' first completion after a start is not seen, at 12 series a type saved).
for _type in (*sorted(KNOWN_TYPES), OTHER_TYPE, UNKNOWN_TYPE):
    for _outcome in (Outcome.SUCCESS, Outcome.RETRY, Outcome.FAILED):
        EVENTS_PROCESSED.labels(_type, _outcome)
for _outcome in ENDING_OUTCOMES:
    EVENT_COMPLETION.labels("payment", _outcome)
