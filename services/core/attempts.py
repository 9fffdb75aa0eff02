"""An attempt at processing an event: how it starts (a claim), how it ends (its
outcome), and the writes that record what it already did upstream (its effects)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .events import Event
from .payments import Tagging

# A running attempt's worker shows it is alive this often (its keep-alive, which also
# learns whether the attempt is still the event's current one). An attempt silent for
# SILENT_AFTER_SECONDS has lost its worker: only then may the reconciler's recovery
# release the payment lock it holds.
KEEP_ALIVE_SECONDS = 1.0
SILENT_AFTER_SECONDS = 3.0


class Outcome(StrEnum):
    """How an attempt ended. The first three and `waiting` (an upstream's breaker was
    open: the event waits for it, and the attempt is not counted) are also the
    `outcome` label of mpwh_events_processed_total; `abandoned` appears only in the history (the reconciler
    ended an attempt whose worker was gone or past JOB_TIMEOUT_SECONDS); `stale` means the
    attempt was no longer current when it ended, so nothing of its end was recorded."""

    SUCCESS = "success"
    RETRY = "retry"
    WAITING = "waiting"
    FAILED = "failed"
    ABANDONED = "abandoned"
    STALE = "stale"


class FailureKind(StrEnum):
    RETRYABLE = "retryable"
    PERMANENT = "permanent"
    # An upstream's breaker is open: try again at `retry_at` without counting the attempt.
    WAITING = "waiting"


@dataclass(frozen=True)
class Failure:
    """Why an attempt failed. A retryable failure becomes a retry at `retry_at` while the
    event has attempts left; a permanent one fails the event."""

    kind: FailureKind
    error: str
    retry_at: float
    # With `waiting`: the upstream whose breaker is open (its closing releases the event).
    waiting_on: str = ""


@dataclass(frozen=True)
class PaymentEffects:
    """The payment step's last writes, applied by the step that ends the attempt whatever
    its outcome (they record what already happened at GoHighLevel): the contact found for
    the payment and the status whose tags were added, with when and which tags."""

    payment_id: str
    contact_id: str | None = None
    tagged: Tagging | None = None


@dataclass(frozen=True)
class Ending:
    """How the worker ends its attempt: `failure` None when it succeeded, with the result
    it reports and the payment's effects to record."""

    attempt: int
    failure: Failure | None = None
    result: dict[str, Any] | None = None
    effects: PaymentEffects | None = None


class SkipReason(StrEnum):
    """Why a job found nothing to process: another job of the same event got there first
    (scheduler and reconciler both queued one, a retry queued twice), or its time has not come."""

    MISSING = "missing"
    NOT_PENDING = "not_pending"
    NOT_DUE = "not_due"


@dataclass(frozen=True)
class Claim:
    """A started attempt: its number and the event as the claim left it (no history)."""

    attempt: int
    event: Event


@dataclass(frozen=True)
class Skip:
    reason: SkipReason
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else str(self.reason)
