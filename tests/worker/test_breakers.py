"""Upstream breakers (SPEC "Upstream outages"): shared by every worker through Redis, an
outage longer than the retry schedule ends with every event `success` and no attempt
spent on it past the failures that opened the breaker."""

from __future__ import annotations

import threading

from prometheus_client import REGISTRY

from services.core.breakers import BreakerState
from services.core.keys import Keys
from services.core.store import EventCalls, EventStore
from services.sandbox.state import Chaos
from services.upstream.breaker import UpstreamUnavailableError, breaker_for, breaker_states
from services.upstream.errors import RetryableError
from services.upstream.metrics import BreakerCollector
from tests.support.waiting import wait_until


def test_an_outage_longer_than_the_retries_ends_with_every_event_success(pipeline, sandbox):
    state, _ = sandbox
    contacts = [state.add_contact(f"b{n}@example.com") for n in range(3)]
    for n, contact in enumerate(contacts):
        state.put_payment(str(6000 + n), "approved", metadata={"ghl_contact_id": contact})
    state.chaos["ghl"] = Chaos(outage=True)
    run = pipeline(RETRY_DELAYS="1,1,1", BREAKER_FAILURES="2", BREAKER_PROBE_SECONDS="1")
    events = [run.notify(str(6000 + n)) for n in range(3)]
    keys = run.store.keys

    # GoHighLevel stays down for many probes: far longer than the 3 s of retries.
    def outage_over() -> bool:
        run.work()
        run.move_due_retries()
        return len(state.calls_to("ghl")) >= 8

    wait_until(outage_over, timeout=60, message="the outage to outlast several probes")
    assert breaker_states(run.store.redis, keys)["highlevel"] == BreakerState.OPEN
    assert all(run.store.get(e).status in ("pending", "processing") for e in events)
    del state.chaos["ghl"]
    run.drain(timeout=30)

    finished = [run.store.get(e) for e in events]
    assert all(e.status == "success" for e in finished), [(e.status, e.last_error) for e in finished]
    # Only the first failure (before the breaker opened) spent an attempt.
    assert sum(e.attempts for e in finished) <= len(events) + 1
    assert any(h["outcome"] == "waiting" for e in finished for h in e.history)
    assert breaker_states(run.store.redis, keys)["highlevel"] == BreakerState.CLOSED
    assert all(state.contacts[c]["tags"] == ["mp-payment-approved"] for c in contacts)


def test_permanent_errors_never_open_a_breaker(pipeline, sandbox):
    run = pipeline(BREAKER_FAILURES="2")
    events = [run.notify(f"40440{n}") for n in range(4)]  # the sandbox knows none of them: 404
    run.drain()
    assert all(run.store.get(e).status == "failed" for e in events)
    assert breaker_states(run.store.redis, run.store.keys)["mercadopago"] == BreakerState.CLOSED


def test_one_probe_per_interval_across_workers(make_settings, redis_client):
    settings = make_settings(BREAKER_FAILURES="2", BREAKER_PROBE_SECONDS="30")
    client = redis_client
    store = EventStore(client, EventCalls(settings))
    workers = [breaker_for(store, "highlevel") for _ in range(2)]
    failure = RetryableError("highlevel POST /contacts/c/tags", "503")
    assert not isinstance(workers[0].failed(failure), UpstreamUnavailableError)
    assert isinstance(workers[1].failed(failure), UpstreamUnavailableError)  # the second failure opens it
    # Both workers, many events each, once the probe is due: exactly one call goes out.
    client.hset(store.keys.breaker("highlevel"), "probe_at", "0")
    admitted, start = [], threading.Barrier(2)

    def try_calls(breaker) -> None:
        start.wait()
        for _ in range(20):
            try:
                breaker.admit("highlevel POST /contacts/c/tags")
                admitted.append(breaker)
            except UpstreamUnavailableError:
                pass

    threads = [threading.Thread(target=try_calls, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 1
    collector = BreakerCollector(client, Keys(settings.key_prefix))
    REGISTRY.register(collector)
    try:
        assert REGISTRY.get_sample_value("mpwh_upstream_breaker_open", {"upstream": "highlevel"}) == 1
        assert REGISTRY.get_sample_value("mpwh_upstream_breaker_open", {"upstream": "mercadopago"}) == 0
    finally:
        REGISTRY.unregister(collector)
    admitted[0].succeeded()  # the probe's success closes it for everyone
    assert breaker_states(client, Keys(settings.key_prefix))["highlevel"] == BreakerState.CLOSED


def test_closing_releases_the_waiting_events_at_once_in_receipt_order(pipeline, sandbox):
    state, _ = sandbox
    contacts = [state.add_contact(f"w{n}@example.com") for n in range(4)]
    for n, contact in enumerate(contacts):
        state.put_payment(str(6100 + n), "approved", metadata={"ghl_contact_id": contact})
    state.chaos["ghl"] = Chaos(outage=True)
    # Probes an hour apart: without the release the events would wait that long.
    run = pipeline(RETRY_DELAYS="1,1,1", BREAKER_FAILURES="1", BREAKER_PROBE_SECONDS="3600")
    events = [run.notify(str(6100 + n)) for n in range(4)]
    run.work()
    keys, redis = run.store.keys, run.store.redis
    assert breaker_states(redis, keys)["highlevel"] == BreakerState.OPEN
    assert all(run.store.get(e).status == "pending" for e in events)
    assert redis.llen(keys.queue) == 0 and redis.zcard(keys.scheduler.jobs) == len(events)

    del state.chaos["ghl"]
    redis.hset(keys.breaker("highlevel"), "probe_at", "0")  # the probe is due: one goes out
    probe = breaker_for(run.store, "highlevel")
    probe.admit("highlevel POST /contacts/c/tags")
    probe.succeeded()

    queued = [job.decode() for job in redis.lrange(keys.queue, 0, -1)]
    assert queued == [run.store.job_of(e) for e in events]  # receipt order, none left scheduled
    assert redis.zcard(keys.scheduler.jobs) == 0 and redis.zcard(keys.breaker_waiting("highlevel")) == 0
    run.work()  # no scheduler step: nothing waits for its probe time
    assert [run.store.get(e).status for e in events] == ["success"] * len(events)
    assert all(state.contacts[c]["tags"] == ["mp-payment-approved"] for c in contacts)
