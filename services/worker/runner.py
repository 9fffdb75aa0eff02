"""`mp-webhooks worker`: builds the processor once (pooled clients) and runs RQ.

Worker class: RQ's SimpleWorker runs each job in the worker process itself. The
default Worker forks a work horse per job, which would lose every Prometheus counter
the job increments (multiprocess mode would leave a file per job pid behind) and
rebuild the httpx pools for each job. A SimpleWorker keeps both; a crash inside a job
is contained by the processor's exception handling, RQ's timeout (SIGALRM) still
applies, and a killed worker pod is recovered by the reconciler."""

from __future__ import annotations

import os
import secrets
import socket

from prometheus_client import REGISTRY
from rq import Queue, SimpleWorker

from services.core.logs import configure_logging
from services.core.metrics import PipelineCollector
from services.core.metrics_server import start_metrics_server
from services.core.redis_client import sync_redis
from services.core.settings import Settings
from services.core.store import EventStore

from . import tasks
from .handlers import Handlers
from .payments import PaymentStore
from .processor import Processor
from .upstream.highlevel import HighLevel
from .upstream.mercadopago import MercadoPago

# "<pod>.<suffix>": unique even when a container restarts inside the same pod while
# RQ still remembers the previous one; the reconciler reads the pod name back.
NAME_SEPARATOR = "."


def worker_name(settings: Settings) -> str:
    host = settings.pod_name or f"{socket.gethostname()}-{os.getpid()}"
    return f"{host}{NAME_SEPARATOR}{secrets.token_hex(3)}"


def pod_of(worker: str) -> str:
    return worker.rsplit(NAME_SEPARATOR, 1)[0]


def build_processor(settings: Settings, name: str) -> Processor:
    # The processor's own client, not RQ's: RQ raises the socket timeout of the client it
    # is given to ~7 minutes for its blocking dequeue, and the processor's scripts keep
    # 2 s (a hung Redis is a retryable error, not a hang). One attempt runs at a time,
    # so one connection serves it (the /metrics thread waits its turn).
    redis = sync_redis(settings, single_connection=True)
    store = EventStore(redis, settings)
    handlers = Handlers(
        settings,
        MercadoPago(settings),
        HighLevel(settings, redis),
        PaymentStore(redis, settings.key_prefix, lock_seconds=settings.job_timeout_seconds),
    )
    return Processor(settings, store, handlers, name)


def build_worker(settings: Settings, processor: Processor) -> SimpleWorker:
    """RQ's worker, on a client of its own (see build_processor)."""
    redis = sync_redis(settings)
    return SimpleWorker([Queue(settings.queue_name, connection=redis)], connection=redis, name=processor.worker_name)


def run_worker(settings: Settings, *, burst: bool = False) -> None:
    settings.require("MP_ACCESS_TOKEN", "GHL_API_TOKEN", "GHL_LOCATION_ID")
    configure_logging(settings.log_level)
    name = worker_name(settings)
    processor = build_processor(settings, name)
    tasks.install(processor)
    REGISTRY.register(PipelineCollector(processor.store))
    start_metrics_server(settings.metrics_port)
    worker = build_worker(settings, processor)
    worker.work(burst=burst, logging_level=settings.log_level)
