"""The RQ jobs this product enqueues, encoded by RQ itself.

The receiver and the store's scripts write RQ's job hash and queue entry inside their
own atomic Lua step instead of calling `Queue.enqueue` (several round trips, not atomic
with the event). To stay exactly in RQ's format the fields come from RQ's own
`Job.to_dict()`; only `status` and `enqueued_at` are set by the script.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime

from redis import Redis
from rq.job import Job
from rq.queue import Queue
from rq.utils import utcformat

PROCESS_EVENT = "services.worker.tasks.process_event"

# Successful jobs carry no result worth keeping; failed ones (a bug, not a business
# failure: those end inside the job) stay a week for inspection with `rq info`.
RESULT_TTL_SECONDS = 600
FAILURE_TTL_SECONDS = 7 * 24 * 3600

# Job.create needs a connection object but never touches it here; creating a client
# does not connect.
_UNUSED_CONNECTION = Redis()


def scheduled_jobs_key(prefix: str) -> str:
    """rq-scheduler's sorted set, one per install so installs can share a Redis."""
    return f"{prefix}:scheduler:scheduled_jobs"


def rq_names(prefix: str, queue_name: str) -> str:
    """The RQ key names the Lua scripts need, as the JSON they decode."""
    return json.dumps(
        {
            "job": Job.redis_job_namespace_prefix,
            "queue": Queue.redis_queue_namespace_prefix + queue_name,
            "queues": Queue.redis_queues_keys,
            "scheduled": scheduled_jobs_key(prefix),
        }
    )


def new_job_id(event_id: str) -> str:
    return f"{event_id}-{secrets.token_hex(3)}"


def job_fields(event_id: str, job_id: str, queue_name: str, timeout_seconds: int) -> list[str | bytes | int]:
    """RQ's hash fields for a job that runs `process_event(event_id)`, flattened."""
    job = Job.create(
        PROCESS_EVENT,
        args=(event_id,),
        id=job_id,
        connection=_UNUSED_CONNECTION,
        origin=queue_name,
        # RQ's own timeout is a backstop above ours: the attempt's HTTP calls time out
        # first, and the reconciler recovers attempts past JOB_TIMEOUT_SECONDS.
        timeout=timeout_seconds + 30,
        result_ttl=RESULT_TTL_SECONDS,
        failure_ttl=FAILURE_TTL_SECONDS,
        description=f"process event {event_id}",
    )
    flat: list[str | bytes | int] = []
    for name, value in job.to_dict().items():
        if name != "status":
            flat.extend((name, value))
    return flat


def enqueued_at_now() -> str:
    return utcformat(datetime.now(UTC))
