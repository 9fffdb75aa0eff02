"""The event store: every operation on events is one Lua script, so it is atomic and one
round trip. The same class serves the receiver's `redis.asyncio` client and the
worker's and CLI's blocking client: a method returns the parsed result directly for a
blocking client and an awaitable of it for an asyncio one (whose notifications of one
event-loop turn are stored by one script call: services/core/batching.py).
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypeVar

from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from . import rqjobs
from .batching import Coalescer
from .events import STATUSES, Event, NewEvent
from .ids import id_floor, new_event_id
from .settings import Settings

T = TypeVar("T")
MAX_PAGE = 500


def _script_source(name: str) -> str:
    folder = resources.files(__package__) / "lua"
    return (folder / "common.lua").read_text() + "\n" + (folder / f"{name}.lua").read_text()


@dataclass(frozen=True)
class Page:
    items: list[Event]
    next_cursor: str | None


@dataclass(frozen=True)
class PipelineSnapshot:
    """What the pipeline gauges show; every component computes the same numbers."""

    by_status: dict[str, int]
    queue_depth: int
    scheduled: int
    oldest_pending_age: float
    scheduler_lag: float


@dataclass(frozen=True)
class Attempt:
    """A claimed attempt, or why the claim was refused (`number` is then None).
    `event` is the claimed event as the claim left it (without its history)."""

    number: int | None
    refusal: str | None = None
    event: Event | None = None


def event_key(prefix: str, event_id: str) -> str:
    """The event's hash (common.lua builds the same name)."""
    return f"{prefix}:event:{event_id}"


def _pairs(flat: list[Any]) -> dict[str, Any]:
    return dict(zip(flat[::2], flat[1::2]))


class EventStore:
    def __init__(self, redis: Redis | AsyncRedis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.prefix = settings.key_prefix
        self._base_args = [settings.key_prefix, rqjobs.rq_names(settings.key_prefix, settings.queue_name)]
        self._scripts = {
            name: redis.register_script(_script_source(name))
            for name in ("receive", "claim", "finish", "requeue", "delete", "page", "get", "stats", "pipeline")
        }
        self._receiver = Coalescer(self._receive_batch) if isinstance(redis, AsyncRedis) else None

    def _run(self, name: str, args: list[Any], parse: Callable[[Any], T]) -> T:
        result = self._scripts[name](args=self._base_args + args)
        if inspect.isawaitable(result):

            async def finish() -> T:
                return parse(await result)

            return finish()  # type: ignore[return-value]
        return parse(result)

    def _job(self, event_id: str) -> list[Any]:
        return rqjobs.job_args(event_id, self.settings.queue_name, self.settings.job_timeout_seconds)

    def receive(self, event: NewEvent, now: float | None = None) -> tuple[str, str]:
        """Stores and queues a notification; returns ("received" | "already_received", event id)."""
        now = time.time() if now is None else now
        event_id = new_event_id(now)
        marker, collapse = event.marker()
        fields_json = _json(event.redis_fields(self.settings.max_attempts))
        item = [event_id, repr(now), marker, collapse, fields_json, *self._job(event_id)]
        if self._receiver is not None:
            return self._receiver.call(item)  # type: ignore[return-value]
        return self._receive_batch([item])[0]

    def _receive_batch(self, items: list[list[Any]]) -> Any:
        def parse(result: list[Any]) -> list[tuple[str, str]]:
            return [(_text(status), _text(event_id)) for status, event_id in zip(result[::2], result[1::2])]

        return self._run("receive", [arg for item in items for arg in item], parse)

    def get(self, event_id: str) -> Event | None:
        def parse(result: Any) -> Event | None:
            if not result:
                return None
            return Event.from_redis(_decode_map(result[0]), [_text(h) for h in result[1]])

        return self._run("get", [event_id], parse)

    def page(
        self,
        *,
        status: str | None = None,
        event_type: str | None = None,
        since: float | None = None,
        until: float | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page:
        """Newest first. The cursor is the last id returned: ids only grow, so events
        arriving between two pages never shift or repeat what the next page holds."""
        limit = max(1, min(limit, MAX_PAGE))
        if status and event_type:
            index = f"idx:status-type:{status}:{event_type}"
        elif status:
            index = f"idx:status:{status}"
        elif event_type:
            index = f"idx:type:{event_type}"
        else:
            index = "idx:all"
        # Exclusive upper bound: the smaller of the cursor and the first id after `until`.
        uppers = [bound for bound in (cursor, id_floor(until + 0.001) if until is not None else None) if bound]
        upper = "(" + min(uppers) if uppers else "+"
        lower = "[" + id_floor(since) if since is not None else "-"

        def parse(result: list[Any]) -> Page:
            events = [Event.from_redis(_decode_map(raw)) for raw in result if raw]
            more = len(events) > limit
            events = events[:limit]
            return Page(events, events[-1].id if more else None)

        return self._run("page", [index, upper, lower, limit + 1], parse)

    def stats(self) -> dict[str, dict[str, int]]:
        def parse(result: list[Any]) -> dict[str, dict[str, int]]:
            by_status, by_type = (_decode_map(part) for part in result)
            return {
                "by_status": {status: int(count) for status, count in by_status.items()},
                "by_type": {event_type: int(count) for event_type, count in sorted(by_type.items())},
            }

        return self._run("stats", list(STATUSES), parse)

    def requeue(
        self, event_id: str, *, mode: str = "manual", expected_job_id: str = "", now: float | None = None
    ) -> str:
        """Queues an event now. Returns "queued", or why not ("missing", "processing", "changed")."""
        now = time.time() if now is None else now
        args = [event_id, mode, repr(now), self.settings.max_attempts, expected_job_id, *self._job(event_id)]
        return self._run("requeue", args, lambda r: _text(r[0]))

    def claim(self, event_id: str, job_id: str, worker: str, now: float | None = None) -> Attempt:
        now = time.time() if now is None else now

        def parse(result: list[Any]) -> Attempt:
            verdict = _text(result[0])
            if verdict == "claimed":
                return Attempt(int(result[1]), event=Event.from_redis(_decode_map(result[2])))
            return Attempt(None, verdict if len(result) == 1 else f"{verdict}: {_text(result[1])}")

        return self._run("claim", [event_id, job_id, worker, repr(now)], parse)

    def finish(
        self,
        event_id: str,
        attempt: int,
        outcome: str,
        *,
        error: str = "",
        result: dict[str, Any] | None = None,
        retry_at: float | None = None,
        history_outcome: str = "",
        effects: Sequence[Sequence[str]] = (),
        now: float | None = None,
    ) -> str:
        """Ends an attempt with 'success', 'retryable' or 'permanent'. Returns the event's
        fate: "success", "retry", "failed", or "stale" when the attempt is no longer current.
        `effects` are the attempt's own last writes, applied in the same step whatever the
        fate (they record what already happened upstream): ["hset", key, field, value] or
        ["sadd", key, member]. A lock the attempt registered on the event (`held_lock`,
        `held_token`) is released when the attempt ends here, by its worker or by the
        reconciler's recovery, unless the attempt is stale."""
        now = time.time() if now is None else now
        args = [
            event_id,
            attempt,
            outcome,
            repr(now),
            error,
            _json(result) if result is not None else "",
            repr(now if retry_at is None else retry_at),
            history_outcome,
            _json(list(effects)),
        ]
        if outcome == "retryable":
            args += self._job(event_id)  # the retry's job: only a retryable outcome can need one
        return self._run("finish", args, lambda r: _text(r[0]))

    def pipeline(self, now: float | None = None) -> PipelineSnapshot:
        now = time.time() if now is None else now

        def parse(result: list[Any]) -> PipelineSnapshot:
            counts = {status: int(count) for status, count in zip(STATUSES, result[0])}
            oldest_due = float(result[2]) if result[2] else None
            oldest_scheduled = float(result[4]) if result[4] else None
            return PipelineSnapshot(
                by_status=counts,
                queue_depth=int(result[1]),
                scheduled=int(result[3]),
                oldest_pending_age=max(0.0, now - oldest_due) if oldest_due is not None else 0.0,
                scheduler_lag=max(0.0, now - oldest_scheduled) if oldest_scheduled is not None else 0.0,
            )

        return self._run("pipeline", [repr(now), *STATUSES], parse)

    def delete_finished(self, event_id: str) -> bool:
        return self._run("delete", [event_id], bool)

    # Plain reads used by the reconciler and the metrics collector.

    def all_processing(self) -> Any:
        return self.redis.zrange(f"{self.prefix}:processing", 0, -1)

    def due_before(self, timestamp: float) -> Any:
        return self.redis.zrangebyscore(f"{self.prefix}:due", "-inf", timestamp)

    def status_index_key(self, status: str) -> str:
        return f"{self.prefix}:idx:status:{status}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode_map(flat: list[Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in _pairs(flat).items()}


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
