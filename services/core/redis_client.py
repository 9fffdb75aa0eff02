"""Redis clients, created once per process with timeouts short enough that a dead
Redis turns into a fast 503 (receiver) or a retryable error (worker), not a hang."""

from __future__ import annotations

from typing import Any

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from .settings import Settings

_TIMEOUTS: dict[str, Any] = {"socket_timeout": 2.0, "socket_connect_timeout": 1.0, "health_check_interval": 15}


def async_redis(settings: Settings) -> AsyncRedis:
    # One retry covers a connection the server closed while idle. Re-running a
    # store script after a lost reply is safe: the notification is found as a
    # duplicate of itself.
    retry = AsyncRetry(ExponentialBackoff(cap=0.05, base=0.01), retries=1)
    return AsyncRedis.from_url(settings.redis_url, retry=retry, **_TIMEOUTS)


def sync_redis(settings: Settings, *, single_connection: bool = False) -> Redis:
    """`single_connection`: one connection instead of a pool, for a client whose commands
    run one at a time (redis-py serialises other threads' with a lock); it saves the
    pool's bookkeeping on every command."""
    retry = Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1)
    return Redis.from_url(settings.redis_url, retry=retry, single_connection_client=single_connection, **_TIMEOUTS)


def text(value: Any) -> str:
    """A reply of a client without decode_responses (bytes) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)
