"""A sliding-window rate limiter shared by every worker pod through Redis, so that all
of them together stay under GoHighLevel's burst limit (100 requests per 10 s per
location): a burst of payments slows down instead of failing with 429s."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from redis import Redis

# Redis's clock, not the pods', decides the window: pods' clocks may disagree. A Lua
# function, so that the payment step's script can take the first call's token in its
# own round trip (services/worker/payments.py). Returns 0, or the ms until one frees up.
TAKE_TOKEN = """
local function take_token(key, window, limit, member)
  local now = redis.call('TIME')
  local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms - window)
  if redis.call('ZCARD', key) < limit then
    redis.call('ZADD', key, now_ms, member)
    redis.call('PEXPIRE', key, window)
    return 0
  end
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now_ms)
end
"""
_ACQUIRE = TAKE_TOKEN + "return take_token(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])"


class SlidingWindowLimiter:
    def __init__(
        self, redis: Redis, key: str, limit: int, window_seconds: float, on_wait: Callable[[float], None] | None = None
    ) -> None:
        self.key = key
        self.limit = limit
        self.window_ms = int(window_seconds * 1000)
        self.on_wait = on_wait
        self._acquire = redis.register_script(_ACQUIRE)

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
