"""An upstream's breaker, shared by every worker through Redis (SPEC "Upstream
outages"): BREAKER_FAILURES consecutive retryable failures open it; while it is open no
call goes out except one probe per BREAKER_PROBE_SECONDS across all workers, and the
first success closes it. A permanent error (4xx) and a 429 are answers from a live
upstream: they neither open it nor count towards it. The transitions are one Lua script
(lua/breaker.lua)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

from services.core.breakers import UPSTREAMS, BreakerState, BreakerView
from services.core.keys import Keys
from services.core.lua import lua_source
from services.core.redis_client import text
from services.core.store import EventStore

from .errors import RetryableError

log = logging.getLogger("mpwh.upstream")

# A worker that saw its breaker closed trusts that for this long before asking Redis
# again, so a healthy upstream costs no round trip per call; another worker's opening is
# seen that much later.
CLOSED_TRUST_SECONDS = 1.0


class UpstreamUnavailableError(RetryableError):
    """The upstream's breaker is open: the event waits for it without spending an
    attempt (`retry_after`: until the next probe, or its closing, whichever is first)."""

    def __init__(self, step: str, message: str, retry_after: float, upstream: str) -> None:
        super().__init__(step, message, retry_after)
        self.upstream = upstream


class Breaker:
    def __init__(
        self,
        redis: Redis,
        key: str,
        upstream: str,
        failures: int,
        probe_seconds: float,
        release: Callable[[str], object],
    ) -> None:
        self.key = key
        self.upstream = upstream
        self.failures = failures
        self.probe_seconds = probe_seconds
        self._script = redis.register_script(lua_source(__package__ or "", "breaker"))
        self._closed_until = 0.0  # time.monotonic() until which "closed" is trusted
        self._clean = True  # no failure recorded since this worker last saw it closed
        self._release = release  # queues the events waiting for the upstream (on closing)

    def _run(self, op: str) -> list[str]:
        result = self._script(keys=[self.key], args=[op, self.failures, self.probe_seconds])
        return [part.decode() if isinstance(part, bytes) else str(part) for part in result]

    def admit(self, step: str) -> None:
        """Raises UpstreamUnavailableError unless a call may go out (closed, or this is the probe)."""
        if time.monotonic() < self._closed_until:
            return
        answer = self._run("admit")
        if answer[0] == "go":
            self._closed_until = time.monotonic() + CLOSED_TRUST_SECONDS
            # Failures counted (by any worker): this worker's next success must reset them.
            self._clean = self._clean and answer[1] == "0"
        elif answer[0] == "wait":
            wait = float(answer[1])
            message = f"{self.upstream} breaker open; next probe in {wait:.1f}s"
            raise UpstreamUnavailableError(step, message, wait, self.upstream)

    def succeeded(self) -> None:
        if not self._clean or time.monotonic() >= self._closed_until:
            closed_it = self._run("success")[1] == "1"
            self._clean = True
            self._closed_until = time.monotonic() + CLOSED_TRUST_SECONDS
            if closed_it:
                # Not atomic with the closing: should this worker die in between, or Redis
                # fail here, the waiting events still come back at their next probe time,
                # and the call that just succeeded is not turned into a failure.
                try:
                    self._release(self.upstream)
                except RedisError as error:
                    log.warning(
                        "releasing the waiting events failed", extra={"upstream": self.upstream, "error": str(error)}
                    )

    def failed(self, error: RetryableError) -> RetryableError:
        """Records a retryable failure; returns the error to raise: UpstreamUnavailableError
        once the breaker is open (the failure that opened it, or a failed probe), so the
        outage spends no attempt of the event."""
        self._clean = False
        if self._run("failure")[0] != BreakerState.OPEN:
            return error
        self._closed_until = 0.0
        return UpstreamUnavailableError(
            error.step, f"{error.message}; {self.upstream} breaker open", self.probe_seconds, self.upstream
        )


def breaker_for(store: EventStore, upstream: str) -> Breaker:
    """`upstream`'s breaker over the caller's store (which also queues its waiting events),
    with the store's settings."""
    settings = store.calls.settings
    return Breaker(
        store.redis,
        store.keys.breaker(upstream),
        upstream,
        settings.breaker_failures,
        settings.breaker_probe_seconds,
        store.release_waiting,
    )


def breaker_states(redis: Redis, keys: Keys) -> dict[str, BreakerState]:
    """Every upstream's breaker state as Redis holds it (for the metric; the stats read
    the whole view in their own script)."""
    values = redis.pipeline(transaction=False)
    for upstream in UPSTREAMS:
        values.hget(keys.breaker(upstream), "state")
    return {
        upstream: BreakerView.from_redis({"state": text(value or "")}).state
        for upstream, value in zip(UPSTREAMS, values.execute(), strict=True)
    }
