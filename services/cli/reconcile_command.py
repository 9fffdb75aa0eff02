"""`mp-webhooks reconcile [--loop]`: one pass (as the CronJob runs it), or a pass every
RECONCILE_INTERVAL_SECONDS for hosts without Kubernetes."""

from __future__ import annotations

import argparse
import sys
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--loop", action="store_true", help="run a pass every RECONCILE_INTERVAL_SECONDS until stopped")


def run(args: argparse.Namespace) -> int:
    from services.core.logs import configure_logging
    from services.core.redis_client import sync_redis
    from services.core.settings import load_settings
    from services.worker.kube import Cluster, in_cluster_api
    from services.worker.reconciler import Reconciler
    from services.worker.upstream.mercadopago import MercadoPago

    settings = load_settings()
    configure_logging(settings.log_level)
    api = in_cluster_api()
    cluster = Cluster(api, settings.pod_namespace or "default") if api is not None else None
    mercadopago = MercadoPago(settings) if settings.mp_access_token else None
    reconciler = Reconciler(settings, sync_redis(settings), cluster=cluster, mercadopago=mercadopago)
    while True:
        code = one_pass(reconciler)
        if not args.loop:
            return code
        time.sleep(settings.reconcile_interval_seconds)


def one_pass(reconciler) -> int:
    """Prints a line per category; non-zero only when the pass itself failed."""
    from services.worker.reconciler import publish_metrics

    settings = reconciler.settings
    try:
        summary = reconciler.run_pass()
    except Exception as error:  # noqa: BLE001 - report any failure as the pass's failure
        print(f"reconcile pass failed: {type(error).__name__}: {error}", file=sys.stderr)
        _publish_quietly(lambda: publish_metrics(settings, reconciler.redis, None))
        return 1
    if summary is None:
        print("another reconcile pass is running; this one has nothing to do")
        return 0
    for line in summary.lines():
        print(line)
    _publish_quietly(lambda: publish_metrics(settings, reconciler.redis, summary))
    cluster = reconciler.cluster
    if cluster is not None and summary.total_recovered and settings.pod_name:
        job = cluster.job_of_pod(settings.pod_name)
        if job:
            cluster.record_event(job, "EventsRecovered", "; ".join(summary.lines()))
    return 0


def _publish_quietly(publish) -> None:
    # A Pushgateway outage must not turn a good pass into a failed CronJob.
    try:
        publish()
    except Exception as error:  # noqa: BLE001
        print(f"could not push metrics: {error}", file=sys.stderr)
