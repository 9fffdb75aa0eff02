"""`mp-webhooks reconcile [--loop]`: one pass as the CronJob runs it (or a pass every
RECONCILE_INTERVAL_SECONDS on hosts without Kubernetes), reported three ways: a line per
category on stdout, the metrics pushed to the Pushgateway, and in Kubernetes an Event on
the pass's Job when it recovered anything."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from services.core.logs import configure_logging
from services.core.redis_client import sync_redis
from services.core.settings import Settings
from services.upstream.mercadopago import MercadoPago

from .kube import Cluster, in_cluster_api
from .pushgateway import push_metrics, record_totals
from .reconciler import Reconciler


def build_reconciler(settings: Settings) -> Reconciler:
    api = in_cluster_api()
    cluster = Cluster(api, settings.pod_namespace or "default") if api is not None else None
    mercadopago = MercadoPago(settings) if settings.mp_access_token else None
    return Reconciler(settings, sync_redis(settings), cluster=cluster, mercadopago=mercadopago)


def run_once(reconciler: Reconciler) -> int:
    """Prints a line per category; non-zero only when the pass itself failed."""
    settings, redis, keys = reconciler.settings, reconciler.redis, reconciler.keys
    try:
        summary = reconciler.run_pass()
    except Exception as error:  # noqa: BLE001 - any failure is the pass's failure, reported as such
        print(f"reconcile pass failed: {type(error).__name__}: {error}", file=sys.stderr)
        _quietly("push metrics", lambda: push_metrics(settings, redis, keys, succeeded=False))
        return 1
    if summary is None:
        print("another reconcile pass is running; this one has nothing to do")
        return 0
    for line in summary.lines():
        print(line)
    _quietly("record metrics", lambda: record_totals(redis, keys, summary))
    _quietly("push metrics", lambda: push_metrics(settings, redis, keys, succeeded=True))
    cluster = reconciler.cluster
    if cluster is not None and summary.total_recovered and settings.pod_name:
        job = cluster.job_of_pod(settings.pod_name)
        if job:
            cluster.record_event(job, "EventsRecovered", "; ".join(summary.lines()))
    return 0


def _quietly(what: str, action: Callable[[], None]) -> None:
    # A Pushgateway outage must not turn a good pass into a failed CronJob.
    try:
        action()
    except Exception as error:  # noqa: BLE001 - whatever broke the push, the pass stands
        print(f"could not {what}: {error}", file=sys.stderr)


def run_reconcile(settings: Settings, *, loop: bool) -> int:
    configure_logging(settings.log_level)
    reconciler = build_reconciler(settings)
    while True:
        code = run_once(reconciler)
        if not loop:
            return code
        time.sleep(settings.reconcile_interval_seconds)
