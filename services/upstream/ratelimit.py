"""A sliding-window rate limiter shared by every worker pod through Redis, so that all
of them together stay under GoHighLevel's burst limit (100 requests per 10 s per
location): a burst of payments slows down instead of failing with 429s."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from redis import Redis

from services.core.lua import lua_source

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

    def acquire(self) -> None:
        """Blocks until this request fits in the window."""
        while True:
            wait_ms = self._acquire(keys=[self.key], args=self.token_args())
            if not wait_ms:
                return
            delay = int(wait_ms) / 1000
            if self.on_wait is not None:
                self.on_wait(delay)
            time.sleep(delay)


class Permits:
    """The limiter's tokens for one attempt's GoHighLevel calls, each taken right before
    its call goes out. The first may be taken already: the payment step's script takes it
    in its own round trip when a call follows."""

    def __init__(self, limiter: SlidingWindowLimiter, *, first_taken: bool) -> None:
        self._limiter = limiter
        self._first_taken = first_taken

    def take(self) -> None:
        if self._first_taken:
            self._first_taken = False
        else:
            self._limiter.acquire()
