"""The console's own metrics (docs/metrics.md)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter("mpwh_console_requests_total", "Console requests answered, by page and HTTP code.", ["page", "code"])
REQUEST_DURATION = Histogram(
    "mpwh_console_request_duration_seconds",
    "Server time of a console request, by page.",
    ["page"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
SIGN_INS = Counter("mpwh_console_sign_ins_total", "Console sign-ins, by outcome (operate, read, refused).", ["outcome"])
RETRIES = Counter(
    "mpwh_console_retries_total",
    "Events retried from the console, by result (queued, already_running, unknown).",
    ["result"],
)

for _outcome in ("operate", "read", "refused"):
    SIGN_INS.labels(_outcome)
for _result in ("queued", "already_running", "unknown"):
    RETRIES.labels(_result)
