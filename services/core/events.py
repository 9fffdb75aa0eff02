"""The event: one stored notification and what processing did with it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .timestamps import iso


class EventStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    SUCCESS = "success"
    FAILED = "failed"


class Source(StrEnum):
    """Where an event came from: a Webhooks-format notification, a legacy IPN, the
    reconciler's sweep for payments never notified, or a person."""

    WEBHOOK = "webhook"
    IPN = "ipn"
    RECONCILE = "reconcile"
    MANUAL = "manual"


# Metric labels must stay bounded whatever senders put in `type`.
KNOWN_TYPES = frozenset(
    {
        "payment",
        "merchant_order",
        "plan",
        "subscription",
        "subscription_preapproval",
        "subscription_preapproval_plan",
        "subscription_authorized_payment",
        "point_integration_wh",
        "delivery",
        "topic_claims_integration_wh",
        "topic_merchant_order_wh",
        "topic_chargebacks_wh",
        "stop_delivery_op_wh",
        "mp-connect",
        "wallet_connect",
        "chargebacks",
    }
)


# The `type` label of a missing type, and of one outside KNOWN_TYPES.
UNKNOWN_TYPE = "unknown"
OTHER_TYPE = "other"


def metric_type(event_type: str | None) -> str:
    if event_type is None:
        return UNKNOWN_TYPE
    return event_type if event_type in KNOWN_TYPES else OTHER_TYPE


def _number(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


@dataclass
class NewEvent:
    """What the receiver (or the reconciler's sweep) knows about a notification.

    A Webhooks-format notification has an id of its own (`webhook_id`): the same (type,
    id) is the same notification. IPN (and the sweep) carry none, and the same resource
    is notified again when the payment changes, so such a repeat only folds into an
    event that has not started processing: it will fetch the latest state anyway."""

    source: Source
    type: str
    resource_id: str
    webhook_id: str | None = None
    action: str | None = None
    live_mode: bool | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def repeats_only_while_pending(self) -> bool:
        return not self.webhook_id

    def redis_fields(self, max_attempts: int) -> dict[str, str]:
        return {
            "source": self.source,
            "type": self.type,
            "resource_id": self.resource_id,
            "webhook_id": self.webhook_id or "",
            "action": self.action or "",
            "live_mode": "" if self.live_mode is None else str(self.live_mode).lower(),
            "payload": json.dumps(self.payload, separators=(",", ":")),
            "max_attempts": str(max_attempts),
        }


@dataclass
class Event:
    id: str
    source: Source
    type: str
    resource_id: str
    status: EventStatus
    attempts: int
    max_attempts: int
    received_at: float
    updated_at: float
    duplicates: int = 0
    webhook_id: str | None = None
    action: str | None = None
    live_mode: bool | None = None
    next_retry_at: float | None = None
    last_error: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    worker: str | None = None
    attempt_started_at: float | None = None
    # The running attempt's last sign of life (its claim, then its worker's keep-alives).
    alive_at: float | None = None
    job_id: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_redis(cls, raw: dict[str, str], history: list[str] | None = None) -> Event:
        live_mode = raw.get("live_mode", "")
        return cls(
            id=raw["id"],
            source=Source(raw["source"]),
            type=raw.get("type", ""),
            resource_id=raw.get("resource_id", ""),
            status=EventStatus(raw["status"]),
            attempts=int(raw.get("attempts", 0)),
            max_attempts=int(raw.get("max_attempts", 0)),
            received_at=float(raw["received_at"]),
            updated_at=float(raw.get("updated_at") or raw["received_at"]),
            duplicates=int(raw.get("duplicates", 0)),
            webhook_id=raw.get("webhook_id") or None,
            action=raw.get("action") or None,
            live_mode=None if live_mode == "" else live_mode == "true",
            next_retry_at=_number(raw.get("next_retry_at")),
            last_error=raw.get("last_error") or None,
            payload=json.loads(raw.get("payload") or "{}"),
            result=json.loads(raw["result"]) if raw.get("result") else None,
            worker=raw.get("worker") or None,
            attempt_started_at=_number(raw.get("attempt_started_at")),
            alive_at=_number(raw.get("alive_at")),
            job_id=raw.get("job_id") or None,
            history=[json.loads(entry) for entry in history or []],
        )

    def to_api(self, *, with_history: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "webhook_id": self.webhook_id,
            "source": self.source,
            "type": self.type,
            "action": self.action,
            "resource_id": self.resource_id,
            "live_mode": self.live_mode,
            "status": self.status,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "next_retry_at": iso(self.next_retry_at) if self.status == EventStatus.PENDING else None,
            "received_at": iso(self.received_at),
            "updated_at": iso(self.updated_at),
            "last_error": self.last_error,
            "duplicates": self.duplicates,
            "result": self.result,
            "payload": self.payload,
        }
        if with_history:
            body["history"] = [
                {
                    "attempt": entry.get("attempt"),
                    "job_id": entry.get("job_id"),
                    "worker": entry.get("worker"),
                    "start": iso(entry.get("started_at")),
                    "end": iso(entry.get("ended_at")),
                    "alive_at": iso(self._alive_at(entry)),
                    "outcome": entry.get("outcome"),
                    "error": entry.get("error"),
                    # A manual retry's entry (no attempt): who asked, and when.
                    "requested_by": entry.get("requested_by"),
                    "requested_at": iso(entry.get("requested_at")),
                }
                for entry in self.history
            ]
        return body

    def _alive_at(self, entry: dict[str, Any]) -> float | None:
        """An attempt's last sign of life: the event's keep-alive while it runs, the one
        recorded at its end afterwards (older entries have none)."""
        running = entry.get("ended_at") is None and self.status == EventStatus.PROCESSING
        running = running and entry.get("attempt") == self.attempts
        value = self.alive_at if running else entry.get("alive_at")
        return float(value) if value is not None else None
