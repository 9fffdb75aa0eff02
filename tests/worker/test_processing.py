"""Processing a payment event against the sandbox's Mercado Pago and GoHighLevel."""

from __future__ import annotations

import time

from prometheus_client import REGISTRY

from services.core.attempts import SILENT_AFTER_SECONDS, Claim, Failure, FailureKind, PaymentEffects, Skip, SkipReason
from services.core.deadline import Deadline
from services.core.payments import Tagging
from services.core.store.model import EventQuery, RequeueMode
from services.upstream.ratelimit import SlidingWindowLimiter
from services.worker.payments import Begun, GoHighLevelCalls, PaymentStore
from tests.support.servers import free_port
from tests.support.store import end_attempt, start_attempt


def _tag_calls(state, contact_id=None):
    prefix = f"/contacts/{contact_id}/tags" if contact_id else "/contacts/"
    return [c for c in state.calls_to("ghl", "POST", prefix) if c.path.endswith("/tags")]


def test_payment_with_metadata_contact_is_tagged_without_searching(pipeline, sandbox):
    state, _ = sandbox
    contact_id = state.add_contact("someone@example.com")
    state.put_payment("1001", "approved", metadata={"ghl_contact_id": contact_id})
    run = pipeline()
    event_id = run.notify("1001")
    run.drain()

    event = run.store.get(event_id)
    assert event.status == "success" and event.attempts == 1
    assert event.result["contact_route"] == "metadata"
    assert state.contacts[contact_id]["tags"] == ["mp-payment-approved"]
    assert state.calls_to("ghl", "GET", "/contacts/search") == []
    stored = run.store.redis.hgetall(run.store.keys.payment("1001"))
    assert stored[b"status"] == b"approved" and stored[b"contact_id"] == contact_id.encode()
    assert stored[b"amount"] == b"100.0" and stored[b"currency"] == b"BRL"
    # The real APIs' headers were sent.
    mp_call = state.calls_to("mp", "GET", "/v1/payments/1001")[0]
    assert mp_call.headers["authorization"] == "Bearer APP_USR-test-token"
    ghl_call = _tag_calls(state)[0]
    assert ghl_call.headers["version"] == "2021-07-28" and ghl_call.headers["authorization"] == "Bearer pit-test-token"


def test_payment_contact_found_by_email(pipeline, sandbox):
    state, _ = sandbox
    contact_id = state.add_contact("buyer@example.com")
    state.put_payment("1002", "approved", email="buyer@example.com")
    run = pipeline()
    event_id = run.notify("1002")
    run.drain()

    event = run.store.get(event_id)
    assert event.status == "success"
    assert event.result["contact_route"] == "search" and event.result["contact_id"] == contact_id
    [search] = state.calls_to("ghl", "GET", "/contacts/search/duplicate")
    assert search.query == {"locationId": "loc-test", "email": "buyer@example.com"}
    assert state.contacts[contact_id]["tags"] == ["mp-payment-approved"]
    assert state.calls_to("ghl", "POST", "/contacts/upsert") == []


def test_payment_contact_created_when_unknown(pipeline, sandbox):
    state, _ = sandbox
    state.put_payment("1003", "pending", email="new@example.com")
    run = pipeline(GHL_STATUS_TAGS='{"pending": ["awaiting-payment", "mp"]}')
    event_id = run.notify("1003")
    run.drain()

    event = run.store.get(event_id)
    assert event.status == "success" and event.result["contact_route"] == "created"
    upsert = state.calls_to("ghl", "POST", "/contacts/upsert")[0]
    assert upsert.body["email"] == "new@example.com" and upsert.body["locationId"] == "loc-test"
    contact = state.contacts[event.result["contact_id"]]
    assert contact["tags"] == ["awaiting-payment", "mp"]


def test_already_tagged_status_is_not_tagged_again(pipeline, sandbox):
    state, _ = sandbox
    state.put_payment("1004", "approved")
    run = pipeline()
    first = run.notify("1004")
    run.drain()
    second = run.notify("1004")
    run.drain()

    assert run.store.get(first).result["action"] == "tagged"
    assert run.store.get(second).result["action"] == "already_tagged"
    assert len(_tag_calls(state)) == 1
    # A new status of the same payment is tagged.
    state.put_payment("1004", "refunded", updated=time.time() + 5)
    third = run.notify("1004")
    run.drain()
    assert run.store.get(third).result["action"] == "tagged"
    assert len(_tag_calls(state)) == 2


def test_older_payment_state_never_overwrites_newer(pipeline, sandbox):
    state, _ = sandbox
    now = time.time()
    state.put_payment("1005", "approved", updated=now)
    run = pipeline()
    run.notify("1005")
    run.drain()
    # Mercado Pago answering with an older state (replica lag, a retried old event).
    state.put_payment("1005", "pending", updated=now - 60)
    late = run.notify("1005")
    run.drain()

    result = run.store.get(late).result
    assert result["action"] == "ignored_older_state"
    stored = run.store.redis.hgetall(run.store.keys.payment("1005"))
    assert stored[b"status"] == b"approved"
    assert len(_tag_calls(state)) == 1


def test_retry_then_success(pipeline, sandbox):
    state, _ = sandbox
    state.put_payment("1006", "approved")
    state.fail_next("mp", "GET", "/v1/payments/1006", 502)
    run = pipeline(RETRY_DELAYS="1,1,1")
    event_id = run.notify("1006")
    run.work()

    event = run.store.get(event_id)
    assert event.status == "pending" and event.attempts == 1
    assert "mercadopago GET /v1/payments/1006: 502" in event.last_error
    assert event.next_retry_at is not None and event.next_retry_at > time.time() - 0.5
    assert run.store.pipeline().scheduled == 1
    run.drain()

    event = run.store.get(event_id)
    assert event.status == "success" and event.attempts == 2
    assert [h["outcome"] for h in event.history] == ["retry", "success"]
    assert "502" in event.history[0]["error"]


def test_upstream_down_keeps_the_event_for_a_retry_that_succeeds(pipeline, sandbox):
    state, _ = sandbox
    state.put_payment("1010", "approved")
    down = pipeline(MP_API_BASE_URL=f"http://127.0.0.1:{free_port()}", RETRY_DELAYS="1,1")
    event_id = down.notify("1010")
    down.work()

    event = down.store.get(event_id)
    assert event.status == "pending" and event.attempts == 1
    assert event.last_error.startswith("mercadopago GET /v1/payments/1010: connection error (ConnectError")
    assert _tag_calls(state) == []
    pipeline(RETRY_DELAYS="1,1").drain()  # Mercado Pago is back

    event = down.store.get(event_id)
    assert event.status == "success" and event.attempts == 2
    assert [h["outcome"] for h in event.history] == ["retry", "success"]
    assert len(_tag_calls(state)) == 1


def test_exhausted_retries_end_failed(pipeline, sandbox):
    state, _ = sandbox
    state.put_payment("1007", "approved")
    state.fail_next("mp", "GET", "/v1/payments/1007", 503, times=10)
    run = pipeline(RETRY_DELAYS="1,1")
    event_id = run.notify("1007")
    run.drain()

    event = run.store.get(event_id)
    assert event.status == "failed" and event.attempts == 3 == event.max_attempts
    assert [h["outcome"] for h in event.history] == ["retry", "retry", "failed"]
    assert event.last_error.startswith("mercadopago GET /v1/payments/1007: 503")
    assert _tag_calls(state) == []


def test_permanent_client_error_fails_after_one_attempt(pipeline, sandbox):
    run = pipeline()
    event_id = run.notify("404404")  # the sandbox knows no such payment
    run.drain()

    event = run.store.get(event_id)
    assert event.status == "failed" and event.attempts == 1
    assert event.last_error == "mercadopago GET /v1/payments/404404: 404 Payment not found"


def test_wrong_access_token_is_permanent_and_says_so(pipeline, sandbox):
    state, _ = sandbox
    state.put_payment("1008", "approved")
    run = pipeline(MP_ACCESS_TOKEN="APP_USR-wrong")
    event_id = run.notify("1008")
    run.drain()
    event = run.store.get(event_id)
    assert event.status == "failed" and "401 invalid access token" in event.last_error


def test_rate_limited_429_is_waited_out_within_the_attempt(pipeline, sandbox):
    state, _ = sandbox
    state.put_payment("1009", "approved")
    state.fail_next("ghl", "POST", "/contacts/", 429, headers={"X-RateLimit-Interval-Milliseconds": "300"})
    waits_before = REGISTRY.get_sample_value("mpwh_ghl_rate_limit_waits_total") or 0
    run = pipeline()
    event_id = run.notify("1009")
    run.drain()

    event = run.store.get(event_id)
    assert event.status == "success" and event.attempts == 1
    assert REGISTRY.get_sample_value("mpwh_ghl_rate_limit_waits_total") == waits_before + 1
    assert REGISTRY.get_sample_value("mpwh_upstream_requests_total", {"upstream": "highlevel", "code": "429"}) >= 1


def test_long_retry_after_becomes_a_retry_no_earlier_than_asked(pipeline, sandbox):
    state, _ = sandbox
    state.put_payment("1010", "approved")
    state.fail_next("mp", "GET", "/v1/payments/1010", 429, headers={"Retry-After": "120"})
    run = pipeline(RETRY_DELAYS="1")
    event_id = run.notify("1010")
    run.work()
    event = run.store.get(event_id)
    assert event.status == "pending" and event.next_retry_at >= time.time() + 100


def test_highlevel_burst_stays_under_the_shared_limit(pipeline, sandbox):
    state, _ = sandbox
    for n in range(8):
        state.put_payment(str(2000 + n), "approved", email=f"buyer{n}@example.com")
    run = pipeline(GHL_RATE_LIMIT_REQUESTS="4", GHL_RATE_LIMIT_WINDOW_SECONDS="1")
    events = [run.notify(str(2000 + n)) for n in range(8)]
    run.drain(timeout=60)

    assert all(run.store.get(e).status == "success" for e in events)
    times = sorted(c.at for c in state.calls_to("ghl"))
    assert len(times) == 24  # search, upsert, tags for each payment
    # No 1-second window holds more than 4 calls. The sandbox sees a call when it arrives,
    # not when its token was taken, so 0.2 s is left for a loaded machine's scheduling;
    # without the limiter all 24 calls arrive within a fraction of that window.
    busiest = max(sum(1 for t in times if start <= t < start + 0.8) for start in times)
    assert busiest <= 4
    assert REGISTRY.get_sample_value("mpwh_ghl_rate_limit_waits_total") > 0


def test_every_highlevel_call_holds_exactly_one_limiter_token(pipeline, sandbox):
    # The payment step takes the first call's token itself; a token must never be taken
    # for a call that does not follow, nor a call go out without one.
    state, _ = sandbox
    known = state.add_contact("known@example.com")
    state.add_contact("found@example.com")
    state.put_payment("1101", "approved", email="new@example.com")  # search, upsert, tags
    state.put_payment("1102", "approved", email="found@example.com")  # search, tags
    state.put_payment("1103", "approved", metadata={"ghl_contact_id": known})  # tags
    state.put_payment("1104", "approved", email=None)  # nobody to tag: no call
    state.fail_next(
        "ghl", "POST", "/contacts/", 429, headers={"X-RateLimit-Interval-Milliseconds": "50"}
    )  # one call sent twice
    run = pipeline(GHL_RATE_LIMIT_WINDOW_SECONDS="3600", GHL_STATUS_TAGS='{"in_process": []}')
    for payment_id in ("1101", "1102", "1103", "1104"):
        run.notify(payment_id)
    run.drain()
    state.put_payment("1101", "refunded", email="new@example.com", updated=time.time() + 60)  # remembered contact: tags
    run.notify("1101")
    run.drain()
    state.put_payment("1101", "in_process", email="new@example.com", updated=time.time() + 120)  # no tags: no call
    run.notify("1101")
    run.drain()

    assert all(event.status == "success" for event in run.store.page(EventQuery(limit=10)).items)
    calls = state.calls_to("ghl")
    assert len(calls) == 3 + 2 + 1 + 0 + 1 + 0 + 1
    limiter_key = run.store.keys.rate_limit(run.settings.ghl_location_id)
    assert run.store.redis.zcard(limiter_key) == len(calls)


def test_same_event_queued_twice_is_processed_once(pipeline, sandbox):
    state, _ = sandbox
    state.put_payment("1011", "approved")
    run = pipeline()
    event_id = run.notify("1011")
    assert run.store.requeue(event_id, RequeueMode.MANUAL) == "queued"  # a second job for the same event
    assert run.store.pipeline().queue_depth == 2
    run.drain()

    event = run.store.get(event_id)
    assert event.status == "success" and event.attempts == 1 and len(event.history) == 1
    assert len(state.calls_to("mp", "GET", "/v1/payments/1011")) == 1
    assert len(_tag_calls(state)) == 1


def test_other_types_are_recorded_as_success(pipeline, sandbox):
    state, _ = sandbox
    state.merchant_orders["77"] = {
        "id": 77,
        "status": "closed",
        "order_status": "paid",
        "total_amount": 10,
        "paid_amount": 10,
        "last_updated": "2026-01-01T00:00:00.000-04:00",
    }
    run = pipeline()
    order = run.notify("77", event_type="merchant_order")
    plan = run.notify("p1", event_type="subscription_preapproval")
    run.drain()

    assert run.store.get(order).result == {"order_id": "77", "order_status": "paid", "action": "stored"}
    assert run.store.redis.hget(run.store.keys.merchant_order("77"), "order_status") == b"paid"
    other = run.store.get(plan)
    assert other.status == "success" and other.result["action"] == "none"
    assert "subscription_preapproval" in other.result["reason"]


def test_processed_counters_by_type_and_outcome(pipeline, sandbox):
    state, _ = sandbox
    state.put_payment("1012", "approved")
    before = REGISTRY.get_sample_value("mpwh_events_processed_total", {"type": "payment", "outcome": "success"}) or 0
    failed_before = (
        REGISTRY.get_sample_value("mpwh_events_processed_total", {"type": "payment", "outcome": "failed"}) or 0
    )
    run = pipeline()
    run.notify("1012")
    run.notify("999999")  # unknown payment: permanent failure
    run.drain()
    assert (
        REGISTRY.get_sample_value("mpwh_events_processed_total", {"type": "payment", "outcome": "success"})
        == before + 1
    )
    assert (
        REGISTRY.get_sample_value("mpwh_events_processed_total", {"type": "payment", "outcome": "failed"})
        == failed_before + 1
    )


def _completions(outcome: str, le: str = "+Inf") -> float:
    labels = {"type": "payment", "outcome": outcome, "le": le}
    return REGISTRY.get_sample_value("mpwh_event_completion_seconds_bucket", labels) or 0


def test_completion_histogram_observes_the_attempt_that_ends_the_event(pipeline, sandbox):
    """Receipt to ending: once per event (not per attempt), by outcome; a person's retry
    of an event that already ended is not observed a second time."""
    state, _ = sandbox
    state.put_payment("1013", "approved")
    state.fail_next("mp", "GET", "/v1/payments/1013", 500)
    success, failed = _completions("success"), _completions("failed")
    quick = _completions("success", "5.0")
    run = pipeline(RETRY_DELAYS="0")
    ok = run.notify("1013")  # a retry, then success: one observation
    bad = run.notify("999998")  # unknown payment: failed at once
    run.drain()
    assert run.store.get(ok).status == "success" and run.store.get(bad).status == "failed"
    assert _completions("success") == success + 1
    assert _completions("success", "5.0") == quick + 1  # within seconds of its receipt
    assert _completions("failed") == failed + 1

    state.put_payment("999998", "approved")
    assert run.store.requeue(bad, RequeueMode.MANUAL).value == "queued"
    run.drain()
    assert run.store.get(bad).status == "success"
    assert _completions("success") == success + 1, "a person's retry was observed as a second ending"


def test_every_type_and_outcome_series_exists_from_start_up():
    """MpwhEventsFailed reads a plain increase(): a failed series born at 1 would hide
    the first failure of a type after a worker start."""
    import services.worker.metrics  # noqa: F401 - registers the worker's series
    from services.core.events import KNOWN_TYPES

    for event_type in (*KNOWN_TYPES, "other", "unknown"):
        for outcome in ("success", "retry", "failed"):
            labels = {"type": event_type, "outcome": outcome}
            assert REGISTRY.get_sample_value("mpwh_events_processed_total", labels) is not None, labels
    for code in ("401", "403", "429"):
        for upstream in ("mercadopago", "highlevel"):
            labels = {"upstream": upstream, "code": code}
            assert REGISTRY.get_sample_value("mpwh_upstream_requests_total", labels) is not None, labels


def test_failed_tag_call_releases_the_lock_and_remembers_the_contact(pipeline, sandbox):
    state, _ = sandbox
    state.put_payment("1020", "approved", email="retry-tag@example.com")
    state.fail_next("ghl", "POST", "/contacts/upsert", 502)
    run = pipeline(RETRY_DELAYS="1,1,1")
    event_id = run.notify("1020")
    run.work()

    keys = run.store.keys
    event = run.store.get(event_id)
    assert event.status == "pending" and event.attempts == 1
    assert run.store.redis.exists(keys.payment_lock("1020")) == 0
    assert run.store.redis.smembers(keys.payment_tagged("1020")) == set()
    run.drain()
    event = run.store.get(event_id)
    assert event.status == "success" and event.result["action"] == "tagged"
    assert run.store.redis.smembers(keys.payment_tagged("1020")) == {b"approved"}
    assert run.store.redis.exists(keys.payment_lock("1020")) == 0


def test_contact_found_before_a_failed_tag_call_is_remembered(pipeline, sandbox):
    state, _ = sandbox
    contact_id = state.add_contact("known@example.com")
    state.put_payment("1021", "approved", email="known@example.com")
    state.fail_next("ghl", "POST", f"/contacts/{contact_id}/tags", 502)
    run = pipeline(RETRY_DELAYS="1,1,1")
    event_id = run.notify("1021")
    run.drain()

    event = run.store.get(event_id)
    assert event.status == "success" and event.attempts == 2
    assert event.result["contact_route"] == "remembered" and event.result["contact_id"] == contact_id
    assert len(state.calls_to("ghl", "GET", "/contacts/search/duplicate")) == 1
    assert state.contacts[contact_id]["tags"] == ["mp-payment-approved"]


def test_payment_held_by_another_event_waits_for_its_lock(pipeline, sandbox):
    import threading

    state, _ = sandbox
    state.put_payment("1022", "approved")
    run = pipeline()
    lock_key = run.store.keys.payment_lock("1022")
    run.store.redis.set(lock_key, "someone-else", ex=30)
    threading.Timer(0.5, run.store.redis.delete, args=[lock_key]).start()
    started = time.monotonic()
    event_id = run.notify("1022")
    run.drain()

    assert time.monotonic() - started >= 0.5
    event = run.store.get(event_id)
    assert event.status == "success" and event.result["action"] == "tagged"
    assert len(_tag_calls(state)) == 1


def test_claim_returns_the_claimed_event(pipeline, sandbox):
    run = pipeline()
    event_id = run.notify("1023")
    job_id = run.store.get(event_id).job_id
    claim = run.store.claim(event_id, job_id, "w.x")
    assert isinstance(claim, Claim) and claim.attempt == 1
    assert claim.event.id == event_id and claim.event.type == "payment" and claim.event.resource_id == "1023"
    assert claim.event.status == "processing" and claim.event.attempts == 1 and claim.event.worker == "w.x"
    assert run.store.claim(event_id, job_id, "w.x") == Skip(SkipReason.NOT_PENDING, "processing")


def test_a_recovered_attempt_releases_its_lock_and_a_late_worker_ends_stale(pipeline, sandbox):
    run = pipeline()
    redis, keys = run.store.redis, run.store.keys
    payments = PaymentStore(redis, keys)
    limiter = SlidingWindowLimiter(redis, keys.rate_limit("test"), 100, 10)
    lock, payment, tagged = keys.payment_lock("1024"), keys.payment("1024"), keys.payment_tagged("1024")

    def begin(event_id: str, attempt: int):
        return payments.begin(
            "1024",
            "approved",
            time.time(),
            {"status": "approved"},
            event_id=event_id,
            attempt=attempt,
            deadline=Deadline.after(30),
            limiter=limiter,
            calls=GoHighLevelCalls(if_remembered=False, otherwise=False),
        )

    event_id = run.notify("1024")
    first = start_attempt(run.store, event_id, run.store.get(event_id).job_id, "w.x")
    assert begin(event_id, first).begun == Begun.STORED and redis.exists(lock)
    # The reconciler recovers the attempt (its worker is gone, silent for a while): the
    # payment lock goes with it.
    abandoned = Failure(FailureKind.RETRYABLE, "attempt abandoned", time.time())
    assert run.store.abandon(event_id, first, abandoned, now=time.time() + SILENT_AFTER_SECONDS) == "retry"
    assert not redis.exists(lock) and not redis.hexists(keys.event(event_id), "held_lock")

    second = start_attempt(run.store, event_id, run.store.get(event_id).job_id, "w.y")
    assert second == 2 and begin(event_id, second).begun == Begun.STORED
    held_by_second = redis.get(lock)
    # The first worker comes back: its outcome is refused, but what it did upstream is
    # recorded, and the lock the second attempt holds is left alone.
    effects = PaymentEffects("1024", contact_id="c-9", tagged=Tagging("approved", 1.5, ("mp-payment-approved",)))
    assert end_attempt(run.store, event_id, first, effects=effects) == "stale"
    assert redis.hget(payment, "contact_id") == b"c-9" and redis.sismember(tagged, "approved")
    assert run.store.payment("1024").tagged == (Tagging("approved", 1.5, ("mp-payment-approved",)),)
    assert redis.get(lock) == held_by_second
    assert end_attempt(run.store, event_id, second) == "success"
    assert not redis.exists(lock)
    assert [h["outcome"] for h in run.store.get(event_id).history] == ["abandoned", "success"]
