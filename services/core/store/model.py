"""What the event store takes and gives back, beyond the event itself."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from ..breakers import BreakerView
from ..events import Event, EventStatus
from ..payments import Payment

MAX_PAGE = 500


class ReceiptStatus(StrEnum):
    RECEIVED = "received"
    ALREADY_RECEIVED = "already_received"


class Receipt(NamedTuple):
    """A stored notification: a new event, or a repeat counted on the one holding it."""

    status: ReceiptStatus
    event_id: str


class RequeueMode(StrEnum):
    """`manual`: an operator's retry, of any event not being processed, with a fresh retry
    budget. `lost`: the reconciler's, of a pending event still waiting for the job it lost."""

    MANUAL = "manual"
    LOST = "lost"


class Requester(StrEnum):
    """Who asked for a manual retry; written into the event's history."""

    CONSOLE = "console"
    CLI = "cli"
    API = "api"


class RequeueResult(StrEnum):
    QUEUED = "queued"
    MISSING = "missing"
    PROCESSING = "processing"
    CHANGED = "changed"


@dataclass(frozen=True)
class EventQuery:
    """A filter over the indexes, newest first. `since` and `until` are inclusive epoch
    seconds; `cursor` is the previous page's `next_cursor`."""

    status: EventStatus | None = None
    type: str | None = None
    since: float | None = None
    until: float | None = None
    cursor: str | None = None
    limit: int = 50
    # Only the events of one resource (a payment id, say): its own index.
    resource_id: str | None = None


@dataclass(frozen=True)
class Page:
    items: list[Event]
    next_cursor: str | None
    # How many events the whole selection (without the cursor) holds.
    total: int = 0


@dataclass(frozen=True)
class PaymentQuery:
    """A filter over the payments indexes, newest update first. `since` and `until` are
    inclusive epoch seconds of date_last_updated."""

    status: str | None = None
    since: float | None = None
    until: float | None = None
    cursor: str | None = None
    limit: int = 50


@dataclass(frozen=True)
class PaymentPage:
    items: list[Payment]
    next_cursor: str | None
    total: int = 0


@dataclass(frozen=True)
class Stats:
    by_status: dict[EventStatus, int]
    by_type: dict[str, int]
    breakers: dict[str, BreakerView]

    def to_api(self) -> dict[str, Any]:
        """What GET /api/webhook-events/stats and `events stats --json` print."""
        return {
            "by_status": self.by_status,
            "by_type": self.by_type,
            "breakers": {upstream: view.to_api() for upstream, view in self.breakers.items()},
        }


@dataclass(frozen=True)
class PipelineSnapshot:
    """What the pipeline gauges show; every component computes the same numbers."""

    by_status: dict[EventStatus, int]
    queue_depth: int
    scheduled: int
    oldest_pending_age: float
    scheduler_lag: float
