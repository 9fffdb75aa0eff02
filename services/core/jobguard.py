"""Only the product's own job ever runs: whoever can write to Redis must not be able to
make a worker (which holds the Mercado Pago and GoHighLevel tokens) call anything else.

RQ calls whatever function a job names, and its default serializer is pickle, which runs
code while loading. So every RQ object of ours (worker, scheduler, tests) uses
`ProductJob`: JSON only, whatever the caller asks for, and its payload is checked as
plain JSON against the one allowed call before RQ decodes it. A refused job is never
called; the worker and the scheduler put it in RQ's failed registry with the reason,
count it in `mpwh_jobs_refused_total` and log an error."""

from __future__ import annotations

import json
import logging
from typing import Any

from prometheus_client import Counter
from redis import Redis
from rq.exceptions import DeserializationError
from rq.job import Job
from rq.serializers import JSONSerializer

from .rqjobs import PROCESS_EVENT

log = logging.getLogger("mpwh.jobguard")

JOBS_REFUSED = Counter(
    "mpwh_jobs_refused_total",
    "Jobs found in the queue or the schedule that were not the product's own; none of them ran.",
)

# How much of a foreign function name a log line or the failed registry repeats.
_SHOWN = 120


class JobRefusedError(DeserializationError):
    """A job that is not the product's. A DeserializationError, so RQ's own error paths
    (which expect that one when a payload cannot be read) log and fail it normally."""


def refusal(data: bytes) -> str | None:
    """Why this job payload is not `process_event(<event id>)`, or None when it is.
    Read as JSON and nothing else: no import, no unpickling."""
    try:
        call = json.loads(data)
    except ValueError:  # includes UnicodeDecodeError: a pickle is not UTF-8 JSON
        return "payload is not a JSON job (a pickle or any other format is never loaded)"
    if not isinstance(call, list) or len(call) != 4:
        return "payload is not a JSON job call"
    func, instance, args, kwargs = call
    if func != PROCESS_EVENT or instance is not None:
        return f"job names {str(func)[:_SHOWN]!r}, not {PROCESS_EVENT}"
    if not (isinstance(args, list) and len(args) == 1 and isinstance(args[0], str)) or kwargs != {}:
        return "job arguments are not one event id"
    return None


class ProductJob(Job):
    """RQ's Job that is always JSON and decodes only the product's own call."""

    def __init__(self, id: str | None = None, connection: Redis | None = None, serializer: Any = None) -> None:
        # The serializer asked for is ignored on purpose: RQ and rq-scheduler pass their
        # default (pickle) in places.
        super().__init__(id, connection, JSONSerializer)

    def _deserialize_data(self) -> None:
        reason = refusal(self.data)
        if reason is not None:
            raise JobRefusedError(reason)
        super()._deserialize_data()  # type: ignore[no-untyped-call]  # - RQ leaves this one unannotated


def record_refusal(job_id: str, refused: JobRefusedError, component: str) -> None:
    JOBS_REFUSED.inc()
    log.error(
        "refused job %s: %s; nothing was called, the job is in RQ's failed registry",
        job_id,
        refused,
        extra={"component": component},
    )
