"""Worker fixtures: the sandbox playing Mercado Pago and GoHighLevel over real HTTP,
and ways to run the worker (in this process, or as a real `mp-webhooks worker`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import redis
from rq import Queue, SimpleWorker

from services.core.events import NewEvent
from services.core.settings import Settings, load_settings
from services.core.store import EventStore
from services.sandbox.app import create_sandbox
from services.sandbox.state import SandboxState
from services.worker import tasks
from services.worker.runner import build_processor
from services.worker.scheduler import scheduler_class
from tests.conftest import TEST_GHL_LOCATION, TEST_GHL_TOKEN, TEST_MP_TOKEN
from tests.support.servers import free_port, serve_app


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxState, str]]:
    state = SandboxState(TEST_MP_TOKEN, TEST_GHL_TOKEN, "2021-07-28", TEST_GHL_LOCATION)
    with serve_app(create_sandbox(state)) as url:
        yield state, url


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
        status, event_id = self.store.receive(
            NewEvent(
                source="webhook",
                type=event_type,
                resource_id=resource_id,
                webhook_id=webhook_id or f"n-{resource_id}-{time.time_ns()}",
            )
        )
        assert status == "received"
        return event_id

    def work(self) -> None:
        processor = build_processor(self.settings, "test-worker.abc123")
        tasks.install(processor)
        queue = Queue(self.settings.queue_name, connection=self.store.redis)
        SimpleWorker([queue], connection=self.store.redis).work(burst=True)

    def move_due_retries(self) -> None:
        scheduler = scheduler_class(self.settings.key_prefix)(
            queue_name=self.settings.queue_name, connection=self.store.redis
        )
        scheduler.enqueue_jobs()

    def drain(self, timeout: float = 20.0) -> None:
        """Runs worker and scheduler until no event is pending or processing."""
        deadline = time.monotonic() + timeout
        while True:
            self.work()
            snapshot = self.store.pipeline()
            if snapshot.by_status["pending"] == 0 and snapshot.by_status["processing"] == 0:
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
        return Pipeline(settings, EventStore(client, settings))

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
