"""Every Redis key this product reads or writes, in one place.

Each name starts with MPWH_KEY_PREFIX, so installs can share a Redis, except the few
that RQ fixes itself (its job hashes, its queue list and its set of queues); the queue is
still named after the prefix. The Lua scripts get the names they know before the call as
KEYS[]; for the ones they find inside (an index by the event's stored type, the hash of a
job named in the event), the prelude receives the families below as `lua_scheme()`, so a
name is written only here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from rq.job import Job
from rq.queue import Queue

from .events import EventStatus


class ReconcilerKeys(NamedTuple):
    lock: str
    last_sweep: str
    # The totals it pushes as metrics (a hash).
    totals: str
    # Where an unfinished sweep resumes: its range and its last key (JSON).
    sweep_cursor: str


class SchedulerKeys(NamedTuple):
    # The retry schedule: job ids by due time (a sorted set).
    jobs: str
    instance: str
    lock: str
    instance_prefix: str


@dataclass(frozen=True)
class Keys:
    prefix: str

    # -- events ---------------------------------------------------------------------
    def event(self, event_id: str) -> str:
        """The event's hash."""
        return f"{self.prefix}:event:{event_id}"

    def history(self, event_id: str) -> str:
        """The event's attempts, one JSON entry each (a list)."""
        return f"{self.prefix}:history:{event_id}"

    def duplicate_of(self, event_type: str, webhook_id: str) -> str:
        """Holds the id of the event that stored this Webhooks-format notification."""
        return f"{self.prefix}:dedupe:{event_type}:{webhook_id}"

    def latest_for(self, event_type: str, resource_id: str) -> str:
        """Holds the id of the newest event of a resource notified without an id (IPN)."""
        return f"{self.prefix}:resource:{event_type}:{resource_id}"

    # The indexes: sorted sets with score 0, ordered by id (ids are time-ordered), paged
    # with ZREVRANGEBYLEX.
    @property
    def all_events(self) -> str:
        return f"{self.prefix}:idx:all"

    def by_status(self, status: EventStatus | str) -> str:
        return f"{self.prefix}:idx:status:{status}"

    def by_type(self, event_type: str) -> str:
        return f"{self.prefix}:idx:type:{event_type}"

    def by_status_and_type(self, status: EventStatus | str, event_type: str) -> str:
        return f"{self.prefix}:idx:status-type:{status}:{event_type}"

    def by_resource(self, resource_id: str) -> str:
        """The events notified about one resource (a payment, a merchant order...), so a
        search by payment or resource id and a payment's page are direct lookups."""
        return f"{self.prefix}:idx:resource:{resource_id}"

    @property
    def types(self) -> str:
        """The set of every event type seen (for the counts by type)."""
        return f"{self.prefix}:types"

    @property
    def due(self) -> str:
        """Pending events by the time they are due (a sorted set)."""
        return f"{self.prefix}:due"

    @property
    def processing(self) -> str:
        """Processing events by the time their attempt started (a sorted set)."""
        return f"{self.prefix}:processing"

    # -- payments -------------------------------------------------------------------
    def payment(self, payment_id: str) -> str:
        """The payment's latest state and its GoHighLevel contact (a hash)."""
        return f"{self.prefix}:payment:{payment_id}"

    # The payments' indexes: sorted sets with score 0 whose members are
    # `<date_last_updated as an id floor>:<payment id>`, newest last in lex order, paged
    # with ZREVRANGEBYLEX like the events'. The payment's hash remembers its member and
    # status index, so an update moves it in one step.
    @property
    def all_payments(self) -> str:
        return f"{self.prefix}:idx:payments"

    def payments_by_status(self, status: str) -> str:
        return f"{self.prefix}:idx:payments-status:{status}"

    def payment_lock(self, payment_id: str) -> str:
        return f"{self.prefix}:payment-lock:{payment_id}"

    def payment_tagged(self, payment_id: str) -> str:
        """The payment's statuses already tagged in GoHighLevel (a set)."""
        return f"{self.prefix}:payment-tagged:{payment_id}"

    def merchant_order(self, order_id: str) -> str:
        return f"{self.prefix}:merchant_order:{order_id}"

    def rate_limit(self, location_id: str) -> str:
        """GoHighLevel's sliding window for one location (a sorted set)."""
        return f"{self.prefix}:ratelimit:highlevel:{location_id}"

    def breaker(self, upstream: str) -> str:
        """The upstream's breaker, shared by every worker (a hash: state, failures, probe_at)."""
        return f"{self.prefix}:breaker:{upstream}"

    def breaker_waiting(self, upstream: str) -> str:
        """The events waiting for the upstream's breaker to close, released in receipt
        order when it does (a sorted set by received_at: ids order only to the millisecond)."""
        return f"{self.prefix}:breaker-waiting:{upstream}"

    # -- reconciler -----------------------------------------------------------------
    @cached_property
    def reconciler(self) -> ReconcilerKeys:
        names = ("lock", "last-sweep", "totals", "sweep-cursor")
        return ReconcilerKeys(*(f"{self.prefix}:reconcile:{name}" for name in names))

    # -- RQ and rq-scheduler ----------------------------------------------------------
    @property
    def queue_name(self) -> str:
        return f"{self.prefix}-events"

    @property
    def queue(self) -> str:
        return Queue.redis_queue_namespace_prefix + self.queue_name

    @property
    def queues(self) -> str:
        return Queue.redis_queues_keys

    def job(self, job_id: str) -> str:
        return Job.redis_job_namespace_prefix + job_id

    @cached_property
    def scheduler(self) -> SchedulerKeys:
        """rq-scheduler's keys, one set per install so installs can share a Redis."""
        names = ("scheduler:scheduled_jobs", "scheduler", "scheduler_lock", "scheduler_instance:")
        return SchedulerKeys(*(f"{self.prefix}:{name}" for name in names))

    # -- for the Lua prelude ------------------------------------------------------------
    @cached_property
    def lua_scheme(self) -> str:
        """The key families as the prelude (store/lua/prelude.lua) takes them: a family
        is its name with an empty id, to which Lua appends the id; `status_type` also
        gives the separator between status and type."""
        status_type = self.by_status_and_type("\0", "\0").split("\0")
        return json.dumps(
            {
                "event": self.event(""),
                "history": self.history(""),
                "status": self.by_status(""),
                "type": self.by_type(""),
                "resource": self.by_resource(""),
                "payment": self.payment(""),
                "status_type": status_type[:2],
                "job": self.job(""),
                "all": self.all_events,
                "types": self.types,
                "due": self.due,
                "processing": self.processing,
                "queue": self.queue,
                "queues": self.queues,
                "scheduled": self.scheduler.jobs,
                "breaker": self.breaker(""),
                "waiting": self.breaker_waiting(""),
            },
            separators=(",", ":"),
        )
