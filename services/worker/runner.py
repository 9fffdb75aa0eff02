"""`mp-webhooks worker`: builds the processor once (pooled clients) and runs RQ.

Worker class: RQ's SimpleWorker runs each job in the worker process itself. The default
Worker forks a work horse per job, which would lose every Prometheus counter the job
increments (multiprocess mode would leave a file per job pid behind) and rebuild the
httpx pools for each job. A SimpleWorker keeps both; a crash inside a job is contained by
the processor's exception handling, RQ's timeout (SIGALRM) still applies, and a killed
worker pod is recovered by the reconciler."""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.serializers import JSONSerializer

from services.core.heartbeat import Heartbeat
from services.core.jobguard import JobRefusedError, ProductJob, record_refusal
from services.core.logs import configure_logging
from services.core.metrics import PipelineCollector
from services.core.metrics_server import start_metrics_server
from services.core.naming import worker_name
from services.core.redis_client import sync_redis
from services.core.rqjobs import RQ_TIMEOUT_MARGIN_SECONDS
from services.core.settings import Settings
from services.core.store import EventCalls, EventStore
from services.upstream.highlevel import HighLevel
from services.upstream.mercadopago import MercadoPago
from services.upstream.metrics import BreakerCollector

from . import tasks
from .handlers import Handlers
from .payments import PaymentStore
from .processor import Processor

# RQ blocks on the queue for WORKER_TTL - 15 seconds between beats; the default (420 s)
# would make a hung worker and an idle one look alike for seven minutes.
WORKER_TTL_SECONDS = 60


class BeatingWorker(SimpleWorker):
    """RQ's SimpleWorker whose every heartbeat (each turn of the dequeue loop and around
    each job) also beats `/livez`, even when the Redis write of it fails: a loop that
    keeps retrying a lost Redis is alive, only a hung one is not."""

    beat: Heartbeat

    def heartbeat(self, *args: Any, **kwargs: Any) -> None:
        self.beat.beat()
        super().heartbeat(*args, **kwargs)

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        # A foreign job fails when RQ first decodes it (ProductJob), before anything is
        # called; RQ then files it in the failed registry with the reason.
        if isinstance(exc_info[1], JobRefusedError):
            record_refusal(job.id, exc_info[1], "worker")
        super().handle_exception(job, *exc_info)


def product_worker(queue_name: str, redis: Redis, beat: Heartbeat, name: str | None = None) -> BeatingWorker:
    """RQ's worker on the product's queue, decoding jobs only as ProductJob."""
    queue = Queue(queue_name, connection=redis, job_class=ProductJob, serializer=JSONSerializer)
    worker = BeatingWorker(
        [queue],
        connection=redis,
        name=name,
        worker_ttl=WORKER_TTL_SECONDS,
        job_class=ProductJob,
        serializer=JSONSerializer,
    )
    worker.beat = beat
    return worker


def build_processor(settings: Settings, name: str) -> Processor:
    # The processor's own client, not RQ's: RQ raises the socket timeout of the client it
    # is given to about its dequeue timeout, and the processor's scripts keep 2 s (a hung
    # Redis is a retryable error, not a hang). One attempt runs at a time, so one
    # connection serves it (the /metrics thread waits its turn).
    redis = sync_redis(settings, single_connection=True)
    store = EventStore(redis, EventCalls(settings))
    handlers = Handlers(
        settings,
        MercadoPago(settings, store),
        HighLevel(settings, store),
        PaymentStore(redis, store.keys),
    )
    return Processor(settings, store, handlers, name)


def build_worker(settings: Settings, processor: Processor, beat: Heartbeat) -> BeatingWorker:
    """RQ's worker, on a client of its own (see build_processor)."""
    return product_worker(processor.store.keys.queue_name, sync_redis(settings), beat, processor.worker_name)


def liveness(settings: Settings) -> Heartbeat:
    """Silent for longer than the longest job RQ allows plus one idle dequeue: hung."""
    longest_turn = settings.job_timeout_seconds + RQ_TIMEOUT_MARGIN_SECONDS
    return Heartbeat(max(longest_turn, WORKER_TTL_SECONDS) + WORKER_TTL_SECONDS)


def run_worker(settings: Settings, *, burst: bool = False) -> None:
    settings.require("MP_ACCESS_TOKEN", "GHL_API_TOKEN", "GHL_LOCATION_ID")
    configure_logging(settings.log_level)
    processor = build_processor(settings, worker_name(settings.pod_name))
    tasks.install(processor)
    REGISTRY.register(PipelineCollector(processor.store))
    REGISTRY.register(BreakerCollector(processor.store.redis, processor.store.keys))
    beat = liveness(settings)
    start_metrics_server(settings.metrics_port, beat)
    build_worker(settings, processor, beat).work(burst=burst, logging_level=settings.log_level)
