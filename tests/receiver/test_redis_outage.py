"""Redis going away under a running receiver: 503 (never 200 without a stored event),
readiness fails, nothing is half-written, and the same process recovers once Redis
is back."""

from __future__ import annotations

import os
import signal

import pytest

from tests.support.waiting import wait_until

from .conftest import Receiver, webhook_body


def _snapshot(receiver: Receiver) -> dict[str, object]:
    """Every key of this install with its content, to compare before and after."""
    state: dict[str, object] = {}
    for key in sorted(receiver.product_keys()):
        kind = receiver.redis.type(key)
        if kind == "hash":
            state[key] = receiver.redis.hgetall(key)
        elif kind == "zset":
            state[key] = receiver.redis.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            state[key] = receiver.redis.lrange(key, 0, -1)
        elif kind == "set":
            state[key] = sorted(receiver.redis.smembers(key))
        else:
            state[key] = receiver.redis.get(key)
    return state


def _rq_job_keys(receiver: Receiver) -> set[bytes]:
    return set(receiver.raw.scan_iter(receiver.keys.job("*")))


@pytest.fixture
def outage_receiver(start_receiver, private_redis) -> Receiver:
    return start_receiver(REDIS_URL=private_redis.url)


def test_redis_stopped_gives_503_then_recovers_without_restart(outage_receiver: Receiver, private_redis):
    receiver = outage_receiver
    before_body = webhook_body("7001")
    stored_id = receiver.post_webhook(before_body).json()["event_id"]
    assert receiver.http.get("/readyz").status_code == 200
    # Keep what was stored across the restart (the private server has no persistence
    # of its own), so "nothing half-written" can be checked key by key afterwards.
    receiver.raw.save()
    before = _snapshot(receiver)
    jobs_before = _rq_job_keys(receiver)

    private_redis.stop()

    lost_body = webhook_body("7002")
    response = receiver.post_webhook(lost_body)
    assert response.status_code == 503
    assert response.json() == {"error": "storage unavailable, retry later"}
    ipn = receiver.post_ipn("7003")
    assert ipn.status_code == 503
    duplicate = receiver.post_webhook(before_body)
    assert duplicate.status_code == 503

    ready = receiver.http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert receiver.http.get("/healthz").status_code == 200
    api = receiver.api("GET", "")
    assert api.status_code == 503
    assert "storage unavailable" in api.json()["error"]
    # A scrape still answers with the receiver's own counters.
    metrics = receiver.http.get("/metrics")
    assert metrics.status_code == 200
    assert 'outcome="unavailable"' in metrics.text

    private_redis.start()

    # Exactly what was there before: the refused notifications wrote nothing, and the
    # duplicate refused during the outage was not counted.
    assert _snapshot(receiver) == before
    assert _rq_job_keys(receiver) == jobs_before
    assert receiver.event(stored_id)["duplicates"] == "0"

    # The same receiver process serves again: its stale connections are replaced and
    # its Lua scripts reloaded into the restarted server.
    assert receiver.http.get("/readyz").status_code == 200
    retried = receiver.post_webhook(lost_body)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "received"
    receiver.assert_stored_and_queued(retried.json()["event_id"], resource_id="7002")
    again = receiver.post_webhook(before_body)
    assert again.json() == {"status": "already_received", "event_id": stored_id}
    ipn_again = receiver.post_ipn("7003").json()
    assert ipn_again["status"] == "received"
    assert sorted(receiver.event_ids()) == sorted([stored_id, retried.json()["event_id"], ipn_again["event_id"]])
    assert len(receiver.queued_job_ids()) == 3


def test_redis_hanging_gives_503_not_a_hang(outage_receiver: Receiver, private_redis):
    """A Redis that accepts connections but never answers (stopped process): the
    receiver's socket timeouts turn it into 503. The script may still run once Redis
    wakes up (its bytes were already sent), so afterwards the notification is either
    absent or stored whole, and Mercado Pago's retry is recognised as a duplicate."""
    receiver = outage_receiver
    receiver.post_webhook(webhook_body("7100"))  # connections and scripts are warm
    body = webhook_body("7101")
    os.kill(private_redis.process.pid, signal.SIGSTOP)
    try:
        response = receiver.post_webhook(body)
        ready = receiver.http.get("/readyz")
    finally:
        os.kill(private_redis.process.pid, signal.SIGCONT)
    assert response.status_code == 503
    assert ready.status_code == 503

    wait_until(lambda: receiver.http.get("/readyz").status_code == 200, message="readyz after SIGCONT")
    retried = receiver.post_webhook(body)
    assert retried.status_code == 200
    event_id = retried.json()["event_id"]
    ids = receiver.event_ids()
    assert len(ids) == 2
    assert event_id in ids
    stored = receiver.assert_stored_and_queued(event_id, resource_id="7101")
    if retried.json()["status"] == "already_received":
        assert int(stored["duplicates"]) >= 1
    assert len(receiver.queued_job_ids()) == 2


def test_redis_never_reachable_at_start(start_receiver):
    """A receiver whose Redis is down from the start still starts (Kubernetes keeps it
    out of the Service by /readyz) and answers 503, not 200 or a crash."""
    from tests.support.servers import free_port

    receiver = start_receiver(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert receiver.http.get("/healthz").status_code == 200
    assert receiver.http.get("/readyz").status_code == 503
    response = receiver.post_webhook(webhook_body("7200"))
    assert response.status_code == 503
    assert receiver.post_ipn("7201").status_code == 503
