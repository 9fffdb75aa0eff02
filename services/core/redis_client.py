"""Redis clients, created once per process with timeouts short enough that a dead
Redis turns into a fast 503 (receiver) or a retryable error (worker), not a hang.

Every client of the product is made here, so every one carries the same credentials
(REDIS_USERNAME / REDIS_PASSWORD, which win over any in REDIS_URL) and, for rediss://,
the CA bundle of REDIS_CA_CERT_PATH."""

from __future__ import annotations

from typing import Any

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import AuthenticationError, AuthorizationError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from .settings import ConfigError, Settings, load_settings, url_without_credentials

_TIMEOUTS: dict[str, Any] = {"socket_timeout": 2.0, "socket_connect_timeout": 1.0, "health_check_interval": 15}


def _connection(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The URL and keyword arguments every client is built from."""
    url = settings.redis_url
    options: dict[str, Any] = dict(_TIMEOUTS)
    if settings.redis_password is not None or settings.redis_username is not None:
        # Separate credentials replace the URL's: redis-py would let the URL's win.
        url = url_without_credentials(url)
        options["password"] = settings.redis_password
        options["username"] = settings.redis_username
    if settings.redis_ca_cert_path is not None:
        options["ssl_ca_certs"] = settings.redis_ca_cert_path
    return url, options


def async_redis(settings: Settings) -> AsyncRedis:
    # One retry covers a connection the server closed while idle. Re-running a
    # store script after a lost reply is safe: the notification is found as a
    # duplicate of itself.
    retry = AsyncRetry(ExponentialBackoff(cap=0.05, base=0.01), retries=1)
    url, options = _connection(settings)
    return AsyncRedis.from_url(url, retry=retry, **options)


def sync_redis(settings: Settings, *, single_connection: bool = False) -> Redis:
    """`single_connection`: one connection instead of a pool, for a client whose commands
    run one at a time (redis-py serialises other threads' with a lock); it saves the
    pool's bookkeeping on every command."""
    retry = Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1)
    url, options = _connection(settings)
    return Redis.from_url(url, retry=retry, single_connection_client=single_connection, **options)


def check_credentials(settings: Settings) -> None:
    """PING once at start-up, so a wrong or missing password (or an untrusted TLS
    certificate) stops the process with one line naming the setting, instead of every
    request failing later. An unreachable Redis is not a configuration error: the
    components start and report it (503, readiness) until it is back."""
    client = sync_redis(settings)
    try:
        client.ping()
    except (AuthenticationError, AuthorizationError) as error:
        raise ConfigError(f"REDIS_PASSWORD: Redis refused the credentials ({_first_line(error)})") from None
    except ResponseError as error:
        # A password sent to a Redis that has none: "AUTH ... called without any password configured".
        if "AUTH" not in str(error):
            raise
        raise ConfigError(f"REDIS_PASSWORD: Redis refused the credentials ({_first_line(error)})") from None
    except RedisConnectionError as error:
        if "certificate" in str(error).lower():
            raise ConfigError(
                f"REDIS_CA_CERT_PATH: the Redis server's TLS certificate is not trusted ({_first_line(error)})"
            ) from None
    finally:
        client.close()


def checked_settings() -> Settings:
    """The settings of a process that uses Redis: read from the environment, with the
    Redis credentials checked (every component's and operator command's entry point)."""
    settings = load_settings()
    check_credentials(settings)
    return settings


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def text(value: Any) -> str:
    """A reply of a client without decode_responses (bytes) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)
