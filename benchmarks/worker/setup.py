"""What worker_bench.py and split.py share: the fake upstreams' credentials, the command
that starts one, and a worker environment free of this shell's product variables."""

from __future__ import annotations

import os
import sys

PREFIX = "bench"
MP_TOKEN = "bench-mp-token"
GHL_TOKEN = "bench-ghl-token"
GHL_LOCATION = "bench-location"
GHL_VERSION = "2021-07-28"
UPSTREAM_MODULES = {"lean": "benchmarks.worker.lean_upstream", "sandbox": "benchmarks.worker.upstream"}
# Variables of the product that must not leak into the workers from this shell.
_PRODUCT_ENV = (
    "MP_",
    "GHL_",
    "MPWH_",
    "RETRY_",
    "JOB_",
    "POD_",
    "RECONCILE_",
    "SCHEDULER_",
    "RETENTION_",
    "PUSHGATEWAY_",
    "WORKER_POD_",
    "API_TOKEN",
    "REDIS_URL",
    "METRICS_PORT",
    "LOG_LEVEL",
)


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_PRODUCT_ENV)}


def upstream_command(kind: str, port: int) -> list[str]:
    """The fake Mercado Pago + GoHighLevel (`lean` or `sandbox`) on 127.0.0.1:port."""
    return [
        sys.executable,
        "-m",
        UPSTREAM_MODULES[kind],
        "--port",
        str(port),
        "--mp-token",
        MP_TOKEN,
        "--ghl-token",
        GHL_TOKEN,
        "--location",
        GHL_LOCATION,
        "--version",
        GHL_VERSION,
    ]
