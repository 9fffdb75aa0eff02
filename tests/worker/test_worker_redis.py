"""The worker's Redis clients: RQ's and the processor's, and a Redis that hangs."""

from __future__ import annotations

import os
import signal
import time

import pytest
import redis

from services.core.events import NewEvent
from services.core.settings import load_settings
from services.worker.runner import build_processor, build_worker, liveness


def test_a_hung_redis_fails_the_processor_in_seconds_and_it_recovers(worker_env, private_redis):
    settings = load_settings(worker_env(REDIS_URL=private_redis.url))
    processor = build_processor(settings, "hung.abc123")
    worker = build_worker(settings, processor, liveness(settings))
    # RQ raises its own client's socket timeout for its blocking dequeue; the processor's
    # scripts keep theirs.
    assert worker.connection.connection_pool.connection_kwargs["socket_timeout"] > 40
    assert processor.store.redis.connection_pool.connection_kwargs["socket_timeout"] == 2.0
    store = processor.store
    _, event_id = store.receive(NewEvent(source="webhook", type="payment", resource_id="5001", webhook_id="w5001"))

    os.kill(private_redis.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            store.claim(event_id, "job-1", processor.worker_name)
        waited = time.monotonic() - started
    finally:
        os.kill(private_redis.process.pid, signal.SIGCONT)
    assert waited < 15  # two 2 s timeouts (one retry) and backoff, not RQ's dequeue timeout

    # The same client serves again once Redis answers; the event was not lost (a claim
    # that Redis ran once it woke up leaves it processing, which the reconciler recovers).
    event = store.get(event_id)
    assert event is not None and event.resource_id == "5001" and event.status in ("pending", "processing")
    worker.connection.close()
    processor.store.redis.close()
