"""Shared fixtures. Every test talks to a real Redis server: the one on 127.0.0.1:6379
(database MPWH_TEST_REDIS_DB, default 15, flushed at the start of the session), with a
key prefix of its own so tests never see each other's events."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from services.core.settings import Settings, load_settings
from services.core.store import EventStore
from tests.support.servers import PrivateRedis, flushed_redis, test_redis_url

TEST_SECRET = "test-secret"
TEST_API_TOKEN = "test-api-token"
TEST_MP_TOKEN = "APP_USR-test-token"
TEST_GHL_TOKEN = "pit-test-token"
TEST_GHL_LOCATION = "loc-test"


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = test_redis_url()
    flushed_redis(url).close()
    return url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def make_env(redis_url: str) -> Callable[..., dict[str, str]]:
    """The environment a component process would get, with test defaults and a fresh
    key prefix; keyword arguments override (None removes a variable)."""
    prefix = f"t{uuid.uuid4().hex[:10]}"

    def make(**env: str | None) -> dict[str, str]:
        base: dict[str, str | None] = {
            "REDIS_URL": redis_url,
            "MPWH_KEY_PREFIX": prefix,
            "MP_WEBHOOK_SECRET": TEST_SECRET,
            "API_TOKEN": TEST_API_TOKEN,
            "MP_ACCESS_TOKEN": TEST_MP_TOKEN,
            "GHL_API_TOKEN": TEST_GHL_TOKEN,
            "GHL_LOCATION_ID": TEST_GHL_LOCATION,
        }
        base.update(env)
        return {k: v for k, v in base.items() if v is not None}

    return make


@pytest.fixture
def make_settings(make_env: Callable[..., dict[str, str]]) -> Callable[..., Settings]:
    """Settings as a process would load them from its environment (see make_env)."""

    def make(**env: str | None) -> Settings:
        return load_settings(make_env(**env))

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def store(redis_url: str, settings: Settings) -> Iterator[EventStore]:
    client = redis.Redis.from_url(redis_url)
    yield EventStore(client, settings)
    client.close()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.cleanup()
