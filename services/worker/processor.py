"""One attempt at one event: claim it, run its handler, record how it ended."""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from redis.exceptions import RedisError
from rq.timeouts import BaseTimeoutException

from services.core.attempts import Ending, Failure, FailureKind, Outcome, Skip
from services.core.deadline import Deadline
from services.core.events import metric_type
from services.core.settings import Settings
from services.core.store import EventStore
from services.upstream.breaker import UpstreamUnavailableError
from services.upstream.errors import PermanentError, RetryableError

from .handlers import Handled, Handlers
from .metrics import ENDING_OUTCOMES, EVENT_COMPLETION, EVENTS_PROCESSED, PROCESSING_DURATION
from .running import RunningAttempt

log = logging.getLogger("mpwh.worker")

# Small jitter spreads retries of a burst that failed together.
JITTER = 0.1


def retry_delay(settings: Settings, attempt: int, retry_after: float | None = None) -> float:
    """Seconds before the attempt after `attempt` (1-based); never earlier than an
    upstream's Retry-After."""
    delays = settings.retry_delays
    delay = float(delays[min(attempt, len(delays)) - 1]) if delays else 0.0
    delay *= 1 + random.uniform(0, JITTER)  # nosec B311 - jitter, not a secret
    return max(delay, retry_after or 0.0)


class Processor:
    def __init__(self, settings: Settings, store: EventStore, handlers: Handlers, worker_name: str) -> None:
        self.settings = settings
        self.store = store
        self.handlers = handlers
        self.worker_name = worker_name

    def process(self, event_id: str, job_id: str) -> dict[str, Any]:
        claim = self.store.claim(event_id, job_id, self.worker_name)
        if isinstance(claim, Skip):
            # A duplicate job (scheduler and reconciler both queued one, say): harmless.
            log.info("job skipped", extra={"event_id": event_id, "job_id": job_id, "reason": str(claim)})
            return {"skipped": str(claim)}
        event = claim.event
        label = metric_type(event.type)
        started = time.perf_counter()
        handled = Handled()
        result, failure = None, None
        deadline = Deadline.for_attempt(self.settings.job_timeout_seconds)
        try:
            with RunningAttempt(self.store, event_id, claim.attempt, deadline) as attempt:
                result = self.handlers.handle(event, handled, attempt)
        except BaseTimeoutException:
            # RQ's own timeout (JOB_TIMEOUT_SECONDS + a margin) fired: the deadline failed
            # to bound the attempt. Not an ordinary retry: the job fails in RQ, and the
            # reconciler recovers the event once its attempt has been silent.
            log.error("attempt outlived RQ's job timeout", extra={"event_id": event_id, "attempt": claim.attempt})
            raise
        except UpstreamUnavailableError as error:
            # Not the event's fault: it waits for the breaker's next probe, uncounted.
            retry_at = time.time() + (error.retry_after or 0.0)
            failure = Failure(FailureKind.WAITING, str(error), retry_at, waiting_on=error.upstream)
        except RetryableError as error:
            failure = self._failure(FailureKind.RETRYABLE, str(error), claim.attempt, error.retry_after)
        except PermanentError as error:
            failure = self._failure(FailureKind.PERMANENT, str(error), claim.attempt)
        except RedisError as error:
            failure = self._failure(FailureKind.RETRYABLE, f"redis: {error}", claim.attempt)
        except Exception as error:
            log.exception("handler crashed", extra={"event_id": event_id})
            failure = self._failure(
                FailureKind.RETRYABLE, f"internal error: {type(error).__name__}: {error}", claim.attempt
            )
        outcome = self.store.finish(event_id, Ending(claim.attempt, failure, result, handled.effects))
        PROCESSING_DURATION.labels(label).observe(time.perf_counter() - started)
        if outcome == Outcome.STALE:
            log.warning(
                "attempt outlived its claim; the reconciler had recovered it",
                extra={"event_id": event_id, "attempt": claim.attempt},
            )
            return {"outcome": outcome}
        EVENTS_PROCESSED.labels(label, outcome).inc()
        # A person's retry adds a fresh budget to max_attempts: that event already ended
        # once (and was observed then); observing it again would count one event twice,
        # late, against the SLO.
        if outcome in ENDING_OUTCOMES and event.max_attempts <= self.settings.max_attempts:
            EVENT_COMPLETION.labels(label, outcome).observe(max(0.0, time.time() - event.received_at))
        log.log(
            logging.INFO if outcome == Outcome.SUCCESS else logging.WARNING,
            f"event {outcome}",
            extra={
                "event_id": event_id,
                "type": event.type,
                "attempt": claim.attempt,
                "error": failure.error if failure else None,
                "retry_at": failure.retry_at if failure and outcome in (Outcome.RETRY, Outcome.WAITING) else None,
            },
        )
        return {"event_id": event_id, "attempt": claim.attempt, "outcome": outcome}

    def _failure(self, kind: FailureKind, error: str, attempt: int, retry_after: float | None = None) -> Failure:
        return Failure(kind, error, time.time() + retry_delay(self.settings, attempt, retry_after))
