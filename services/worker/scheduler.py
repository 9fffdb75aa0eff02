"""`mp-webhooks scheduler`: rq-scheduler moving due retries onto the queue.

Its keys carry MPWH_KEY_PREFIX so installs can share a Redis. It polls every
SCHEDULER_INTERVAL_SECONDS (5 s by default, rq-scheduler's own default is 60 s) so no
retry starts more than a few seconds late. A second replica is safe: both take
rq-scheduler's lock before moving jobs, so at most one moves them at a time."""

from __future__ import annotations

from prometheus_client import REGISTRY
from rq_scheduler import Scheduler

from services.core import rqjobs
from services.core.logs import configure_logging
from services.core.metrics import PipelineCollector
from services.core.metrics_server import start_metrics_server
from services.core.redis_client import sync_redis
from services.core.settings import Settings
from services.core.store import EventStore


def scheduler_class(prefix: str) -> type[Scheduler]:
    return type(
        "PrefixedScheduler",
        (Scheduler,),
        {
            "redis_scheduler_namespace_prefix": f"{prefix}:scheduler_instance:",
            "scheduler_key": f"{prefix}:scheduler",
            "scheduler_lock_key": f"{prefix}:scheduler_lock",
            "scheduled_jobs_key": rqjobs.scheduled_jobs_key(prefix),
        },
    )


def run_scheduler(settings: Settings, *, burst: bool = False) -> None:
    configure_logging(settings.log_level)
    redis = sync_redis(settings)
    REGISTRY.register(PipelineCollector(EventStore(redis, settings)))
    start_metrics_server(settings.metrics_port)
    scheduler = scheduler_class(settings.key_prefix)(
        queue_name=settings.queue_name, connection=redis, interval=settings.scheduler_interval_seconds
    )
    scheduler.run(burst=burst)
