"""The RQ jobs this product enqueues, encoded by RQ itself, with RQ's JSON serializer
(never pickle: see services/core/jobguard.py for the worker's side).

The receiver and the store's scripts write RQ's job hash and queue entry inside their
own atomic Lua step instead of calling `Queue.enqueue` (several round trips, not atomic
with the event). To stay exactly in RQ's format the fields come from RQ's own
`Job.to_dict()` and serializer; only `status` and `enqueued_at` (its creation time) are
set by the script.
"""

from __future__ import annotations

import functools
import json
import secrets
import zlib
from datetime import UTC, datetime

from redis import Redis
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.utils import utcformat

PROCESS_EVENT = "services.worker.tasks.process_event"

# Successful jobs carry no result worth keeping; failed ones (a bug, not a business
# failure: those end inside the job) stay a week for inspection with `rq info`.
RESULT_TTL_SECONDS = 600
# RQ's own timeout is a backstop above ours: the attempt's HTTP calls time out first,
# and the reconciler recovers attempts past JOB_TIMEOUT_SECONDS.
RQ_TIMEOUT_MARGIN_SECONDS = 30
FAILURE_TTL_SECONDS = 7 * 24 * 3600

# Job.create needs a connection object but never touches it here; creating a client
# does not connect.
_UNUSED_CONNECTION = Redis()


@functools.cache
def _constant_fields(queue_name: str, timeout_seconds: int) -> str:
    """The fields every job of this queue shares, from RQ's own Job.to_dict(), computed
    once per process: the receiver sends them with every notification."""
    job = Job.create(
        PROCESS_EVENT,
        args=("",),
        id="template",
        connection=_UNUSED_CONNECTION,
        serializer=JSONSerializer,
        origin=queue_name,
        timeout=timeout_seconds + RQ_TIMEOUT_MARGIN_SECONDS,
        result_ttl=RESULT_TTL_SECONDS,
        failure_ttl=FAILURE_TTL_SECONDS,
    )
    # Empty fields are left out: RQ restores a missing field as empty. Returned as the
    # start of a JSON object, which job_args completes without re-encoding it.
    constant = {k: str(v) for k, v in job.to_dict().items() if k not in _PER_JOB and v not in ("", None)}
    return json.dumps(constant)[:-1] + ", "


_PER_JOB = ("status", "data", "created_at", "description")


def _compress(data: bytes) -> bytes:
    """zlib, as RQ stores `data`, but with the smallest window and memory: `zlib.compress`
    sets up 256 KiB of state for what is a 100-byte payload (docs/benchmarks-receiver.md)."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 9, 1)
    return compressor.compress(data) + compressor.flush()


def job_args(event_id: str, queue_name: str, timeout_seconds: int) -> list[str | bytes]:
    """A job that runs `process_event(event_id)`, as the store's scripts take it: its id,
    its text fields as JSON, and `data` as Job.data holds it (what RQ's JSONSerializer
    makes of (func, instance, args, kwargs)), zlib-compressed as Job.to_dict() does."""
    fields = (
        f'{_constant_fields(queue_name, timeout_seconds)}"created_at": "{utcformat(datetime.now(UTC))}", '
        f'"description": {json.dumps("process event " + event_id)}}}'
    )
    data = _compress(json.dumps([PROCESS_EVENT, None, [event_id], {}]).encode())
    return [f"{event_id}-{secrets.token_hex(3)}", fields, data]
