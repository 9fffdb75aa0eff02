"""Short ways for tests to put events in the states they need, through the store's own
operations (never by writing keys)."""

from __future__ import annotations

import time
from typing import Any

from services.core.attempts import Claim, Ending, Failure, FailureKind, Outcome, PaymentEffects
from services.core.events import NewEvent, Source
from services.core.store import EventStore
from services.core.store.model import ReceiptStatus


def notify(
    store: EventStore,
    resource_id: str,
    *,
    event_type: str = "payment",
    webhook_id: str | None = None,
    source: Source = Source.WEBHOOK,
    now: float | None = None,
) -> str:
    """Stores a new notification (a fresh webhook id unless given); returns its event id."""
    if source == Source.WEBHOOK and webhook_id is None:
        webhook_id = f"n-{resource_id}-{time.time_ns()}"
    event = NewEvent(source=source, type=event_type, resource_id=resource_id, webhook_id=webhook_id)
    receipt = store.receive(event, now=now)
    assert receipt.status == ReceiptStatus.RECEIVED, receipt
    return receipt.event_id


def start_attempt(
    store: EventStore, event_id: str, job_id: str = "job", worker: str = "test-worker.abc", now: float | None = None
) -> int:
    claim = store.claim(event_id, job_id, worker, now=now)
    assert isinstance(claim, Claim), claim
    return claim.attempt


def end_attempt(
    store: EventStore,
    event_id: str,
    attempt: int,
    failure: FailureKind | None = None,
    *,
    error: str = "",
    retry_at: float | None = None,
    result: dict[str, Any] | None = None,
    effects: PaymentEffects | None = None,
    now: float | None = None,
) -> Outcome:
    moment = time.time() if now is None else now
    failed = Failure(failure, error, moment if retry_at is None else retry_at) if failure else None
    return store.finish(event_id, Ending(attempt, failed, result, effects), now=now)
