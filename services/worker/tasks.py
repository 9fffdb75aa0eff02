"""The RQ job function. The job carries only the event id; the event is in Redis."""

from __future__ import annotations

from typing import Any

from rq import get_current_job

from .processor import Processor

# Set once by the worker process at start-up (services.worker.runner): RQ calls this
# function by name, so the processor with its pooled clients lives at module level.
_processor: Processor | None = None


def install(processor: Processor) -> None:
    global _processor
    _processor = processor


def process_event(event_id: str) -> dict[str, Any]:
    if _processor is None:
        raise RuntimeError("process_event runs only inside `mp-webhooks worker` (no processor installed)")
    job = get_current_job()
    return _processor.process(event_id, job.id if job is not None else "")
