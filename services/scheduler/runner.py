"""`mp-webhooks scheduler`: rq-scheduler moving due retries onto the queue.

Its keys carry MPWH_KEY_PREFIX so installs can share a Redis. It polls every
SCHEDULER_INTERVAL_SECONDS (5 s by default, rq-scheduler's own default is 60 s) so no
retry starts more than a few seconds late. A second replica is safe: both take
rq-scheduler's lock before moving jobs, so at most one moves them at a time."""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY
from rq.registry import FailedJobRegistry
from rq_scheduler import Scheduler

from services.core.heartbeat import Heartbeat
from services.core.jobguard import JobRefusedError, ProductJob, record_refusal
from services.core.keys import Keys
from services.core.logs import configure_logging
from services.core.metrics import PipelineCollector
from services.core.metrics_server import start_metrics_server
from services.core.redis_client import sync_redis
from services.core.settings import Settings
from services.core.store import EventCalls, EventStore

# A turn is one poll: silent for this many intervals (and at least this long), it hangs.
SILENT_INTERVALS = 6
MIN_SILENCE_SECONDS = 60.0


def scheduler_class(keys: Keys) -> type[Scheduler]:
    """rq-scheduler with this install's key names, beating `/livez` on every turn, and
    moving only the product's own jobs (services/core/jobguard.py): rq-scheduler decodes
    each job it moves, with pickle unless told otherwise."""

    class PrefixedScheduler(Scheduler):
        job_class = ProductJob
        redis_scheduler_namespace_prefix = keys.scheduler.instance_prefix
        scheduler_key = keys.scheduler.instance
        scheduler_lock_key = keys.scheduler.lock
        scheduled_jobs_key = keys.scheduler.jobs
        beat: Heartbeat | None = None

        def heartbeat(self, *args: Any, **kwargs: Any) -> None:
            if self.beat is not None:
                self.beat.beat()
            super().heartbeat(*args, **kwargs)

        def enqueue_job(self, job: ProductJob) -> None:
            try:
                _ = job.func_name  # decodes the payload, through the allow-list
                if job.meta:
                    # Ours carry none; rq-scheduler would act on it (repeats, a queue class by name).
                    raise JobRefusedError("job carries rq-scheduler meta")
            except JobRefusedError as refused:
                self.connection.zrem(self.scheduled_jobs_key, job.id)
                FailedJobRegistry(job.origin, self.connection, job_class=ProductJob).add(
                    job, ttl=job.failure_ttl, exc_string=f"refused: {refused}"
                )
                record_refusal(job.id, refused, "scheduler")
                return
            super().enqueue_job(job)

    return PrefixedScheduler


def run_scheduler(settings: Settings, *, burst: bool = False) -> None:
    configure_logging(settings.log_level)
    redis = sync_redis(settings)
    store = EventStore(redis, EventCalls(settings))
    REGISTRY.register(PipelineCollector(store))
    beat = Heartbeat(max(MIN_SILENCE_SECONDS, SILENT_INTERVALS * settings.scheduler_interval_seconds))
    start_metrics_server(settings.metrics_port, beat)
    scheduler = scheduler_class(store.keys)(
        queue_name=store.keys.queue_name, connection=redis, interval=settings.scheduler_interval_seconds
    )
    scheduler.beat = beat
    scheduler.run(burst=burst)
