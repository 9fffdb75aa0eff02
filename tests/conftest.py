"""Shared fixtures. Every test talks to a real Redis server: the one on 127.0.0.1:6379
(database MPWH_TEST_REDIS_DB, default 15, flushed at the start of the session), with a
key prefix of its own so tests never see each other's events. The sandbox (playing
Mercado Pago and GoHighLevel over real HTTP) and the ways to run the worker live here
too: the worker, reconciler, CLI and observability tests share them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import redis

from services.core.events import EventStatus
from services.core.heartbeat import Heartbeat
from services.core.settings import Settings, load_settings
from services.core.store import EventCalls, EventStore
from services.sandbox.app import create_sandbox
from services.sandbox.state import SandboxState
from services.scheduler.runner import scheduler_class
from services.worker import tasks
from services.worker.runner import build_processor, product_worker
from tests.support.servers import PrivateRedis, flushed_redis, free_port, redis_test_url, serve_app
from tests.support.store import notify

TEST_SECRET = "test-secret"
TEST_API_TOKEN = "test-api-token"
TEST_MP_TOKEN = "APP_USR-test-token"
TEST_GHL_TOKEN = "pit-test-token"
TEST_GHL_LOCATION = "loc-test"


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = redis_test_url()
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
    yield EventStore(client, EventCalls(settings))
    client.close()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.cleanup()


@contextmanager
def serve_sandbox() -> Iterator[tuple[SandboxState, str]]:
    """The sandbox over real HTTP, demanding the test credentials: (its state, its URL)."""
    state = SandboxState(TEST_MP_TOKEN, TEST_GHL_TOKEN, "2021-07-28", TEST_GHL_LOCATION)
    with serve_app(create_sandbox(state)) as url:
        try:
            yield state, url
        finally:
            state.stopping.set()


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxState, str]]:
    with serve_sandbox() as served:
        yield served


@pytest.fixture
def worker_env(make_env, sandbox) -> Callable[..., dict[str, str]]:
    """Environment for worker processes pointed at the sandbox; keyword overrides."""
    _, url = sandbox

    def make(**env: str | None) -> dict[str, str]:
        base = {"MP_API_BASE_URL": f"{url}/mp", "GHL_API_BASE_URL": f"{url}/ghl", "RETRY_DELAYS": "1,1,1"}
        base.update(env)
        return make_env(**base)

    return make


@dataclass
class Pipeline:
    """The worker side run in this process: enqueue with the store, drain with a
    SimpleWorker in burst mode and rq-scheduler's own enqueue step."""

    settings: Settings
    store: EventStore

    def notify(self, resource_id: str, event_type: str = "payment", webhook_id: str | None = None) -> str:
        return notify(self.store, resource_id, event_type=event_type, webhook_id=webhook_id)

    def work(self) -> None:
        processor = build_processor(self.settings, "test-worker.abc123")
        tasks.install(processor)
        product_worker(self.store.keys.queue_name, self.store.redis, Heartbeat(60)).work(burst=True)

    def move_due_retries(self) -> None:
        scheduler = scheduler_class(self.store.keys)(queue_name=self.store.keys.queue_name, connection=self.store.redis)
        scheduler.enqueue_jobs()

    def drain(self, timeout: float = 20.0) -> None:
        """Runs worker and scheduler until no event is pending or processing."""
        deadline = time.monotonic() + timeout
        while True:
            self.work()
            snapshot = self.store.pipeline()
            if snapshot.by_status[EventStatus.PENDING] == 0 and snapshot.by_status[EventStatus.PROCESSING] == 0:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"events still open after {timeout}s: {snapshot}")
            time.sleep(0.1)
            self.move_due_retries()


@pytest.fixture
def pipeline(worker_env, redis_url) -> Iterator[Callable[..., Pipeline]]:
    clients: list[redis.Redis] = []

    def make(**env: str | None) -> Pipeline:
        settings = load_settings(worker_env(**env))
        client = redis.Redis.from_url(redis_url)
        clients.append(client)
        return Pipeline(settings, EventStore(client, EventCalls(settings)))

    yield make
    for client in clients:
        client.close()


class WorkerProcess:
    """A real `mp-webhooks worker` in its own process group (as in a container)."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.metrics_port = free_port()
        full_env = {**os.environ, **env, "METRICS_PORT": str(self.metrics_port)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "worker", *args],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def signal_group(self, signum: int) -> None:
        os.killpg(self.process.pid, signum)

    def wait(self, timeout: float = 30.0) -> int:
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        return self.process.stdout.read().decode() if self.process.poll() is not None else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.signal_group(signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def start_worker() -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(env: dict[str, str], *args: str) -> WorkerProcess:
        worker = WorkerProcess(env, *args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
