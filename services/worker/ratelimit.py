"""A sliding-window rate limiter shared by every worker pod through Redis, so that all
of them together stay under GoHighLevel's burst limit (100 requests per 10 s per
location): a burst of payments slows down instead of failing with 429s."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from redis import Redis

# Redis's clock, not the pods', decides the window: pods' clocks may disagree.
_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now_ms, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now_ms)
"""


class SlidingWindowLimiter:
    def __init__(self, redis: Redis, key: str, limit: int, window_seconds: float, on_wait: Callable[[float], None] | None = None) -> None:
        self.key = key
        self.limit = limit
        self.window_ms = int(window_seconds * 1000)
        self.on_wait = on_wait
        self._acquire = redis.register_script(_ACQUIRE)

    def acquire(self) -> None:
        """Blocks until this request fits in the window."""
        while True:
            wait_ms = self._acquire(keys=[self.key], args=[self.window_ms, self.limit, secrets.token_hex(8)])
            if not wait_ms:
                return
            delay = int(wait_ms) / 1000
            if self.on_wait is not None:
                self.on_wait(delay)
            time.sleep(delay)
