"""Real `mp-webhooks worker` and `mp-webhooks scheduler` processes: signals, metrics,
and the whole path receiver -> Redis -> worker -> upstreams."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import redis as redis_lib

from services.core.settings import load_settings
from services.core.store import EventCalls, EventStore
from services.receiver.app import create_app
from services.receiver.signature import sign
from tests.conftest import TEST_SECRET
from tests.support.servers import free_port, serve_app, wait_for_port
from tests.support.waiting import wait_until


def _store(env: dict[str, str]) -> EventStore:
    settings = load_settings(env)
    return EventStore(redis_lib.Redis.from_url(settings.redis_url), EventCalls(settings))


def _notify(store: EventStore, payment_id: str) -> str:
    from services.core.events import NewEvent

    return store.receive(
        NewEvent(source="webhook", type="payment", resource_id=payment_id, webhook_id=f"w{payment_id}")
    )[1]


def _worker_mid_attempt(worker_env, sandbox, start_worker, payment_id: str, latency: float):
    """A worker process in the middle of an attempt whose upstream calls each take `latency`."""
    state, _ = sandbox
    state.put_payment(payment_id, "approved")
    state.latency_seconds = latency
    env = worker_env()
    store = _store(env)
    worker = start_worker(env)
    event_id = _notify(store, payment_id)
    wait_until(lambda: store.get(event_id).status == "processing", message="the attempt to start")
    return state, store, worker, event_id


def test_sigterm_during_a_job_finishes_it_then_exits(worker_env, sandbox, start_worker):
    state, store, worker, event_id = _worker_mid_attempt(worker_env, sandbox, start_worker, "3001", latency=1.0)
    worker.signal_group(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    event = store.get(event_id)
    assert event.status == "success", worker.output()
    assert state.contacts and next(iter(state.contacts.values()))["tags"] == ["mp-payment-approved"]


def test_worker_killed_mid_job_leaves_the_event_processing_not_lost(worker_env, sandbox, start_worker):
    _, store, worker, event_id = _worker_mid_attempt(worker_env, sandbox, start_worker, "3002", latency=2.0)
    worker.signal_group(signal.SIGKILL)
    worker.wait()
    event = store.get(event_id)
    # Nothing pretends it finished: the attempt is still open, with who held it, for
    # the reconciler to recover (tests/reconciler).
    assert event.status == "processing" and event.attempts == 1
    assert event.worker and event.attempt_started_at
    assert store.redis.zscore(store.keys.processing, event_id) is not None


def test_end_to_end_receiver_redis_worker_upstreams(worker_env, sandbox, start_worker):
    state, _ = sandbox
    state.put_payment("3003", "approved", email="e2e@example.com")
    env = worker_env()
    settings = load_settings(env)
    worker = start_worker(env)
    body = json.dumps(
        {"id": 555001, "type": "payment", "action": "payment.updated", "live_mode": True, "data": {"id": "3003"}}
    )
    ts = str(int(time.time()))
    headers = {
        "x-signature": sign(TEST_SECRET, "3003", "req-e2e", ts),
        "x-request-id": "req-e2e",
        "content-type": "application/json",
    }
    with serve_app(create_app(settings)) as url:
        answer = httpx.post(f"{url}/webhooks/mp?data.id=3003&type=payment", content=body, headers=headers)
        assert answer.status_code == 200 and answer.json()["status"] == "received"
        event_id = answer.json()["event_id"]
        auth = {"authorization": "Bearer test-api-token"}
        event = wait_until(
            lambda: (
                (e := httpx.get(f"{url}/api/webhook-events/{event_id}", headers=auth).json())["status"] == "success"
                and e
            ),
            message="the event to succeed",
        )
    assert event["attempts"] == 1 and event["history"][0]["outcome"] == "success"
    contact = next(iter(state.contacts.values()))
    assert contact["email"] == "e2e@example.com" and contact["tags"] == ["mp-payment-approved"]

    metrics = httpx.get(f"http://127.0.0.1:{worker.metrics_port}/metrics").text
    assert 'mpwh_events_processed_total{outcome="success",type="payment"} 1.0' in metrics
    assert 'mpwh_upstream_requests_total{code="200",upstream="mercadopago"} 1.0' in metrics
    assert 'mpwh_events{status="success"} 1.0' in metrics
    assert "mpwh_processing_duration_seconds_bucket" in metrics
    assert httpx.get(f"http://127.0.0.1:{worker.metrics_port}/healthz").status_code == 200
    livez = httpx.get(f"http://127.0.0.1:{worker.metrics_port}/livez")
    assert livez.status_code == 200 and livez.json()["status"] == "ok"


def test_scheduler_process_moves_retries_and_reports_them(worker_env, sandbox, start_worker):
    state, _ = sandbox
    state.put_payment("3004", "approved")
    state.fail_next("mp", "GET", "/v1/payments/3004", 500)
    env = worker_env(RETRY_DELAYS="2", SCHEDULER_INTERVAL_SECONDS="0.5")
    store = _store(env)
    worker = start_worker(env)
    event_id = _notify(store, "3004")
    wait_until(
        lambda: store.get(event_id).attempts == 1 and store.get(event_id).status == "pending",
        message="the first attempt to fail",
    )

    port = free_port()
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "services.cli.main", "scheduler"],
        env={**os.environ, **env, "METRICS_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert "mpwh_scheduled_retries 1.0" in metrics
        assert "mpwh_scheduler_lag_seconds" in metrics
        assert httpx.get(f"http://127.0.0.1:{port}/livez").json()["status"] == "ok"  # its poll loop beats
        event = wait_until(lambda: (e := store.get(event_id)).status == "success" and e, message="the retry to succeed")
        assert event.attempts == 2
        # The retry ran no earlier than its delay and no more than a few seconds late.
        started = event.history[1]["started_at"]
        ended_first = event.history[0]["ended_at"]
        assert 2.0 <= started - ended_first <= 2.0 * 1.1 + 3
        scheduler.send_signal(signal.SIGTERM)
        assert scheduler.wait(timeout=15) == 0
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
        worker.stop()
