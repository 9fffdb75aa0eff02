"""Every attempt has a deadline inside JOB_TIMEOUT_SECONDS that bounds each wait and call
in it, and only the current attempt may take, keep or release a payment's lock."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from rq.timeouts import JobTimeoutException

from services.core.attempts import Failure, FailureKind
from services.core.deadline import Deadline
from services.upstream.errors import RetryableError
from services.upstream.ratelimit import SlidingWindowLimiter
from services.worker.payments import Begun, GoHighLevelCalls, PaymentStore
from services.worker.runner import build_processor
from tests.support.store import start_attempt


def _tag_calls(state):
    return [c for c in state.calls_to("ghl", "POST", "/contacts/") if c.path.endswith("/tags")]


def test_slow_highlevel_attempt_ends_by_its_deadline_and_the_next_status_goes_first(pipeline, sandbox):
    state, _ = sandbox
    contact = state.add_contact("slow@example.com")
    state.put_payment("5001", "approved", metadata={"ghl_contact_id": contact})
    state.slow_next("ghl", "POST", "/contacts/", 20)  # GoHighLevel answers after 20 s
    run = pipeline(JOB_TIMEOUT_SECONDS="6", RETRY_DELAYS="1,1,1")
    first = run.notify("5001")
    run.work()

    event = run.store.get(first)
    [attempt] = event.history
    assert event.status == "pending" and attempt["outcome"] == "retry"
    assert attempt["ended_at"] - attempt["started_at"] < 6
    assert "highlevel POST" in attempt["error"]
    assert not run.store.redis.exists(run.store.keys.payment_lock("5001"))

    state.put_payment("5001", "refunded", metadata={"ghl_contact_id": contact}, updated=time.time() + 5)
    second = run.notify("5001")
    run.work()
    event = run.store.get(second)
    assert event.status == "success" and event.attempts == 1 and event.result["action"] == "tagged"


@pytest.fixture
def trickling_mercadopago():
    """A Mercado Pago on 127.0.0.1 whose payment answer arrives a byte every 0.5 s for
    20 s: each read is quick, the whole answer is not."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    requests: list[bytes] = []

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                requests.append(connection.recv(65536))
                body = b'{"id": 5003, "status": "approved"}'.ljust(40)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
                connection.sendall(b"Content-Length: %d\r\n\r\n" % len(body))
                try:
                    for byte in body:
                        if stop.wait(0.5):
                            break
                        connection.sendall(bytes([byte]))
                except OSError:
                    pass  # the client gave up: what the test expects

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", requests
    stop.set()
    thread.join()
    listener.close()


def test_an_answer_trickling_past_the_deadline_ends_the_attempt_by_it(pipeline, trickling_mercadopago):
    url, requests = trickling_mercadopago
    run = pipeline(JOB_TIMEOUT_SECONDS="6", RETRY_DELAYS="1,1,1", MP_API_BASE_URL=url)
    event_id = run.notify("5003")
    run.work()

    event = run.store.get(event_id)
    [attempt] = event.history
    assert event.status == "pending" and attempt["outcome"] == "retry"
    assert attempt["ended_at"] - attempt["started_at"] < 6
    assert "mercadopago GET /v1/payments/5003: timeout" in attempt["error"]
    [request] = requests
    assert request.startswith(b"GET /v1/payments/5003 ") and b"authorization: bearer " in request.lower()


def test_rq_job_timeout_is_not_an_ordinary_retry(pipeline):
    run = pipeline()
    event_id = run.notify("5002")
    processor = build_processor(run.settings, "w.deadline")

    def killed_by_rq(*_args):
        raise JobTimeoutException("Task exceeded maximum timeout value")

    processor.handlers.handle = killed_by_rq  # type: ignore[method-assign] - a handler RQ times out
    with pytest.raises(JobTimeoutException):
        processor.process(event_id, run.store.get(event_id).job_id)
    # Left for the reconciler, which recovers it once its worker stops showing signs of life.
    event = run.store.get(event_id)
    assert event.status == "processing" and event.attempts == 1


def test_limiter_wait_is_bounded_by_the_deadline(pipeline):
    run = pipeline()
    limiter = SlidingWindowLimiter(run.store.redis, run.store.keys.rate_limit("deadline"), 1, 3600)
    limiter.acquire(Deadline.after(5))
    started = time.monotonic()
    with pytest.raises(RetryableError) as raised:
        limiter.acquire(Deadline.after(0.5))
    assert time.monotonic() - started < 0.5
    assert raised.value.retry_after is not None and raised.value.retry_after > 3000


def _begin(payments, limiter, event_id, attempt, deadline):
    return payments.begin(
        "5003",
        "approved",
        time.time(),
        {"status": "approved"},
        event_id=event_id,
        attempt=attempt,
        deadline=deadline,
        limiter=limiter,
        calls=GoHighLevelCalls(if_remembered=False, otherwise=False),
    )


def test_a_late_begin_after_its_attempt_ended_leaves_nothing_held(pipeline):
    run = pipeline()
    redis, keys = run.store.redis, run.store.keys
    payments = PaymentStore(redis, keys)
    limiter = SlidingWindowLimiter(redis, keys.rate_limit("test"), 100, 10)
    event_id = run.notify("5003")
    first = start_attempt(run.store, event_id, run.store.get(event_id).job_id, "w.x")
    abandoned = Failure(FailureKind.RETRYABLE, "attempt abandoned", time.time())
    assert run.store.abandon(event_id, first, abandoned, now=time.time() + 60) == "retry"

    step = _begin(payments, limiter, event_id, first, Deadline.after(5))
    assert step.begun == Begun.STALE
    assert not redis.exists(keys.payment_lock("5003")) and not redis.exists(keys.payment("5003"))
    assert not redis.hexists(keys.event(event_id), "held_lock")


def test_the_lock_wait_is_bounded_by_the_deadline(pipeline):
    run = pipeline()
    redis, keys = run.store.redis, run.store.keys
    payments = PaymentStore(redis, keys)
    limiter = SlidingWindowLimiter(redis, keys.rate_limit("test"), 100, 10)
    redis.set(keys.payment_lock("5003"), "someone-else", ex=60)
    event_id = run.notify("5003")
    attempt = start_attempt(run.store, event_id, run.store.get(event_id).job_id, "w.x")
    started = time.monotonic()
    with pytest.raises(RetryableError, match="being processed by another event"):
        _begin(payments, limiter, event_id, attempt, Deadline.after(0.3))
    assert time.monotonic() - started < 1.0


def test_the_payment_lock_lives_no_longer_than_the_attempt_deadline(pipeline):
    run = pipeline(JOB_TIMEOUT_SECONDS="300")
    redis, keys = run.store.redis, run.store.keys
    payments = PaymentStore(redis, keys)
    limiter = SlidingWindowLimiter(redis, keys.rate_limit("test"), 100, 10)
    event_id = run.notify("5003")
    attempt = start_attempt(run.store, event_id, run.store.get(event_id).job_id, "w.x")
    assert _begin(payments, limiter, event_id, attempt, Deadline.after(4)).begun == Begun.STORED
    assert 0 < redis.pttl(keys.payment_lock("5003")) <= 4000 + 1000
