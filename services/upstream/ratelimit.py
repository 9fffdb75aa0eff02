"""A sliding-window rate limiter shared by every worker pod through Redis, so that all
of them together stay under GoHighLevel's burst limit (100 requests per 10 s per
location): a burst of payments slows down instead of failing with 429s."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from redis import Redis

from services.core.deadline import Deadline
from services.core.lua import lua_source

from .errors import RetryableError

TAKE_TOKEN = lua_source(__package__ or "", "take_token")


class SlidingWindowLimiter:
    def __init__(
        self, redis: Redis, key: str, limit: int, window_seconds: float, on_wait: Callable[[float], None] | None = None
    ) -> None:
        self.key = key
        self.limit = limit
        self.window_ms = int(window_seconds * 1000)
        self.on_wait = on_wait
        self._acquire = redis.register_script(lua_source(__package__ or "", "take_token", "acquire"))

    def token_args(self) -> list[int | str]:
        """take_token's arguments after the key: window, limit and a fresh member."""
        return [self.window_ms, self.limit, secrets.token_hex(8)]

    def acquire(self, deadline: Deadline) -> None:
        """Blocks until this request fits in the window; a wait the deadline leaves no
        time for is a retryable error, to retry no earlier than the window frees up."""
        while True:
            wait_ms = self._acquire(keys=[self.key], args=self.token_args())
            if not wait_ms:
                return
            delay = int(wait_ms) / 1000
            if not deadline.allows(delay):
                raise RetryableError(
                    "highlevel rate limiter", f"no request free for {delay:.1f}s, past the attempt's deadline", delay
                )
            if self.on_wait is not None:
                self.on_wait(delay)
            time.sleep(delay)


class Permits:
    """What one attempt's GoHighLevel calls go out under: its deadline, and the limiter's
    tokens, each taken right before its call goes out. The first may be taken already:
    the payment step's script takes it in its own round trip when a call follows.
    `check` runs before every call and raises when the attempt must not make it (it is
    no longer its event's current attempt)."""

    def __init__(
        self,
        limiter: SlidingWindowLimiter,
        deadline: Deadline,
        *,
        first_taken: bool,
        check: Callable[[], None] | None = None,
    ) -> None:
        self.deadline = deadline
        self._limiter = limiter
        self._first_taken = first_taken
        self._check = check

    def take(self) -> None:
        if self._check is not None:
            self._check()
        if self._first_taken:
            self._first_taken = False
        else:
            self._limiter.acquire(self.deadline)
