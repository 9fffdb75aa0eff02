"""`/livez` follows the work loop, not the HTTP thread: it fails once the loop stops
beating, and a loop that keeps retrying a lost Redis still beats."""

from __future__ import annotations

import time

import httpx
import pytest
import redis

from services.core.heartbeat import Heartbeat
from services.core.metrics_server import start_metrics_server
from services.core.settings import load_settings
from services.worker.runner import build_processor, build_worker, liveness
from tests.support.servers import free_port, wait_for_port
from tests.support.waiting import wait_until


class StoppedClock:
    """Time that moves only when the test moves it: a loaded machine's pauses between
    two requests cannot count as the loop's silence."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_livez_fails_once_the_loop_is_silent_for_longer_than_allowed():
    clock = StoppedClock()
    beat = Heartbeat(max_silence_seconds=30, clock=clock)
    port = free_port()
    server = start_metrics_server(port, beat, host="127.0.0.1")
    try:
        wait_for_port(port)
        url = f"http://127.0.0.1:{port}/livez"
        clock.now += 30  # silent exactly as long as allowed: still alive
        assert httpx.get(url).status_code == 200
        # The HTTP thread still answers, but nothing beats: a hung loop.
        clock.now += 0.5
        answer = httpx.get(url)
        assert answer.status_code == 503
        assert answer.json()["status"] == "stalled" and answer.json()["silent_seconds"] == pytest.approx(30.5)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        beat.beat()
        assert httpx.get(url).status_code == 200
    finally:
        server.shutdown()


def test_by_default_silence_is_real_time():
    beat = Heartbeat(max_silence_seconds=0.5)
    wait_until(lambda: not beat.alive(), timeout=10)
    silent = beat.silence()
    assert silent > 0.5
    beat.beat()
    assert beat.silence() < silent


def test_the_worker_loop_beats_even_when_redis_refuses_it(worker_env, private_redis):
    settings = load_settings(worker_env(REDIS_URL=private_redis.url))
    beat = liveness(settings)
    worker = build_worker(settings, build_processor(settings, "beat.abc123"), beat)
    time.sleep(0.2)
    silent_before = beat.silence()
    private_redis.stop()
    with pytest.raises(redis.ConnectionError):
        worker.heartbeat()
    assert beat.silence() < silent_before  # the turn counted: the loop is alive, Redis is not


def test_the_worker_allows_its_longest_turn_before_failing_liveness(make_settings):
    settings = make_settings(JOB_TIMEOUT_SECONDS="120")
    # RQ kills a job 30 s after JOB_TIMEOUT_SECONDS; an idle dequeue beats at least every minute.
    assert liveness(settings).max_silence_seconds >= 120 + 30 + 45
