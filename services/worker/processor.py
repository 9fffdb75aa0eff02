"""One attempt at one event: claim it, run its handler, record the outcome."""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from redis.exceptions import RedisError

from services.core.events import metric_type
from services.core.settings import Settings
from services.core.store import EventStore

from .errors import PermanentError, RetryableError
from .handlers import Handlers
from .metrics import EVENTS_PROCESSED, PROCESSING_DURATION

log = logging.getLogger("mpwh.worker")

# Small jitter spreads retries of a burst that failed together.
JITTER = 0.1


def retry_delay(settings: Settings, attempt: int, retry_after: float | None = None) -> float:
    """Seconds before the attempt after `attempt` (1-based); never earlier than an
    upstream's Retry-After."""
    delays = settings.retry_delays
    delay = delays[min(attempt, len(delays)) - 1] if delays else 0.0
    delay *= 1 + random.uniform(0, JITTER)
    return max(delay, retry_after or 0.0)


class Processor:
    def __init__(self, settings: Settings, store: EventStore, handlers: Handlers, worker_name: str) -> None:
        self.settings = settings
        self.store = store
        self.handlers = handlers
        self.worker_name = worker_name

    def process(self, event_id: str, job_id: str) -> dict[str, Any]:
        attempt = self.store.claim(event_id, job_id, self.worker_name)
        if attempt.number is None:
            # A duplicate job (scheduler and reconciler both queued one, say): harmless.
            log.info("job skipped", extra={"event_id": event_id, "job_id": job_id, "reason": attempt.refusal})
            return {"skipped": attempt.refusal}
        event = attempt.event  # the claim returns it: no second round trip
        label = metric_type(event.type)
        started = time.perf_counter()
        outcome, error, result, retry_after = "success", "", None, None
        effects: list[list[str]] = []
        try:
            result = self.handlers.handle(event, effects)
        except RetryableError as failure:
            outcome, error, retry_after = "retryable", str(failure), failure.retry_after
        except PermanentError as failure:
            outcome, error = "permanent", str(failure)
        except RedisError as failure:
            outcome, error = "retryable", f"redis: {failure}"
        except Exception as failure:
            log.exception("handler crashed", extra={"event_id": event_id})
            outcome, error = "retryable", f"internal error: {type(failure).__name__}: {failure}"
        retry_at = time.time() + retry_delay(self.settings, attempt.number, retry_after)
        fate = self.store.finish(
            event_id, attempt.number, outcome, error=error, result=result, retry_at=retry_at, effects=effects
        )
        PROCESSING_DURATION.labels(label).observe(time.perf_counter() - started)
        if fate == "stale":
            log.warning(
                "attempt outlived its claim; the reconciler had recovered it",
                extra={"event_id": event_id, "attempt": attempt.number},
            )
            return {"stale": True}
        EVENTS_PROCESSED.labels(label, fate).inc()
        log.log(
            logging.INFO if fate == "success" else logging.WARNING,
            "event " + fate,
            extra={
                "event_id": event_id,
                "type": event.type,
                "attempt": attempt.number,
                "error": error or None,
                "retry_at": retry_at if fate == "retry" else None,
            },
        )
        return {"event_id": event_id, "attempt": attempt.number, "fate": fate}
