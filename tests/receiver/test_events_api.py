"""/api/webhook-events: bearer auth, listing with filters and a cursor that stays
stable while events keep arriving, one event with its history, retry, stats."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from services.core.attempts import FailureKind
from services.core.events import NewEvent
from services.core.timestamps import parse_instant
from services.upstream.breaker import breaker_for
from services.upstream.errors import RetryableError
from tests.support.store import end_attempt, start_attempt

from .conftest import Receiver, signed_headers, unique, webhook_body

# 2024-05-01T00:00:00Z: seeded events get exact, known receive times.
BASE = datetime(2024, 5, 1, tzinfo=UTC).timestamp()


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _seed(receiver: Receiver, now: float, event_type: str = "payment", resource_id: str | None = None) -> str:
    status, event_id = receiver.store.receive(
        NewEvent(
            source="webhook",
            type=event_type,
            resource_id=resource_id or unique("r"),
            webhook_id=unique("w"),
            action=f"{event_type}.updated",
        ),
        now=now,
    )
    assert status == "received"
    return event_id


def _claim(receiver: Receiver, event_id: str) -> int:
    return start_attempt(receiver.store, event_id, receiver.event(event_id)["job_id"], "test-worker.1")


def _finish(receiver: Receiver, event_id: str, outcome: str, error: str = "") -> str:
    """`outcome`: "success", or the failure kind ("retryable", "permanent")."""
    attempt = _claim(receiver, event_id)
    return end_attempt(
        receiver.store,
        event_id,
        attempt,
        None if outcome == "success" else FailureKind(outcome),
        error=error,
        result={"done": outcome} if outcome == "success" else None,
    )


def _all_pages(receiver: Receiver, **params) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        response = receiver.api("GET", "", params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert cursor == body["items"][-1]["id"]


# Tokens on every route: test_api_tokens.py.


# Listing.


def test_list_newest_first_with_default_page_size_and_cursor(receiver: Receiver):
    seeded = [_seed(receiver, BASE + index) for index in range(60)]
    first = receiver.api("GET", "")
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"items", "next_cursor"}
    assert [item["id"] for item in body["items"]] == seeded[::-1][:50]
    assert body["next_cursor"] == seeded[10]
    second = receiver.api("GET", "", params={"cursor": body["next_cursor"]}).json()
    assert [item["id"] for item in second["items"]] == seeded[::-1][50:]
    assert second["next_cursor"] is None

    item = body["items"][0]
    assert set(item) >= {
        "id",
        "webhook_id",
        "source",
        "type",
        "action",
        "resource_id",
        "live_mode",
        "status",
        "attempts",
        "max_attempts",
        "next_retry_at",
        "received_at",
        "updated_at",
        "last_error",
        "duplicates",
        "payload",
    }
    assert item["received_at"] == _iso(BASE + 59)
    assert item["status"] == "pending"
    assert "history" not in item


def test_list_reflects_what_the_receiver_stored(receiver: Receiver):
    body = webhook_body("4711", webhook_id=31337, live_mode=True)
    event_id = receiver.post_webhook(body).json()["event_id"]
    receiver.post_webhook(body)  # a duplicate
    (item,) = receiver.api("GET", "").json()["items"]
    assert item["id"] == event_id
    assert item["webhook_id"] == "31337"
    assert item["source"] == "webhook"
    assert item["type"] == "payment"
    assert item["action"] == "payment.updated"
    assert item["resource_id"] == "4711"
    assert item["live_mode"] is True
    assert item["duplicates"] == 1
    assert item["attempts"] == 0
    assert item["max_attempts"] == receiver.settings.max_attempts
    assert item["payload"] == body


def test_filters_by_status_and_type(receiver: Receiver):
    payments = [_seed(receiver, BASE + index, "payment") for index in range(6)]
    orders = [_seed(receiver, BASE + 10 + index, "merchant_order") for index in range(3)]
    assert _finish(receiver, payments[0], "success") == "success"
    assert _finish(receiver, payments[1], "permanent", "400 from upstream") == "failed"
    _claim(receiver, payments[2])
    assert _finish(receiver, orders[0], "success") == "success"

    def ids(**params) -> list[str]:
        return [item["id"] for page in _all_pages(receiver, **params) for item in page]

    assert ids(status="success") == [orders[0], payments[0]]
    assert ids(status="failed") == [payments[1]]
    assert ids(status="processing") == [payments[2]]
    assert ids(status="pending") == [orders[2], orders[1], payments[5], payments[4], payments[3]]
    assert ids(type="merchant_order") == orders[::-1]
    assert ids(type="payment") == payments[::-1]
    assert ids(status="success", type="payment") == [payments[0]]
    assert ids(status="pending", type="merchant_order") == [orders[2], orders[1]]
    assert ids(type="plan") == []
    failed = receiver.api("GET", "", params={"status": "failed"}).json()["items"][0]
    assert failed["status"] == "failed"
    assert failed["last_error"] == "400 from upstream"


def test_since_and_until_are_inclusive(receiver: Receiver):
    times = [BASE + offset for offset in (0.0, 59.999, 60.0, 120.0, 180.123, 180.124, 240.0)]
    seeded = dict(zip(times, (_seed(receiver, t) for t in times), strict=False))

    def ids(**params) -> set[str]:
        return {item["id"] for page in _all_pages(receiver, **params) for item in page}

    since, until = BASE + 60.0, BASE + 180.123
    expected = {seeded[t] for t in times if since <= t <= until}
    assert len(expected) == 3
    assert ids(since=_iso(since), until=_iso(until)) == expected
    assert ids(since=_iso(since)) == {seeded[t] for t in times if t >= since}
    assert ids(until=_iso(until)) == {seeded[t] for t in times if t <= until}
    # Any ISO-8601 offset means the same instant.
    assert ids(since="2024-05-01T02:01:00+02:00", until="2024-05-01T00:03:00.123+00:00") == expected
    # RFC 3339 (the document's date-time) also allows a lower-case t and z: once a 400.
    assert ids(since=_iso(since).lower(), until=_iso(until).lower()) == expected
    # since after until: nothing.
    assert ids(since=_iso(until), until=_iso(since)) == set()


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"status": "done"}, "status"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2024-13-01T00:00:00Z"}, "until"),
        ({"since": "2024-05-01T00:00:00"}, "time zone"),
    ],
)
def test_bad_filter_values_are_400(receiver: Receiver, params: dict, reason: str):
    response = receiver.api("GET", "", params=params)
    assert response.status_code == 400
    assert reason in response.json()["error"]


def test_pages_hold_at_most_500(receiver: Receiver):
    seeded = [_seed(receiver, BASE + index / 1000) for index in range(510)]
    page = receiver.api("GET", "", params={"limit": 500}).json()
    assert len(page["items"]) == 500
    assert [item["id"] for item in page["items"]] == seeded[::-1][:500]
    assert page["next_cursor"] == seeded[10]
    rest = receiver.api("GET", "", params={"limit": 500, "cursor": page["next_cursor"]}).json()
    assert [item["id"] for item in rest["items"]] == seeded[9::-1]
    assert rest["next_cursor"] is None
    small = receiver.api("GET", "", params={"limit": 3}).json()
    assert len(small["items"]) == 3


def test_cursor_is_stable_under_concurrent_inserts(receiver: Receiver):
    """Events keep arriving over HTTP while a client pages through: every event that
    existed before paging started is listed exactly once, in order."""
    original = [receiver.post_webhook(webhook_body(unique("orig"))).json()["event_id"] for _ in range(40)]
    stop = threading.Event()
    inserted: list[str] = []
    failures: list[str] = []

    def keep_inserting() -> None:
        with httpx.Client(base_url=receiver.url, timeout=30) as client:
            while not stop.is_set() and len(inserted) < 500:
                data_id = unique("new")
                response = client.post("/webhooks/mp", json=webhook_body(data_id), headers=signed_headers(data_id))
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text}")
                    return
                inserted.append(response.json()["event_id"])

    thread = threading.Thread(target=keep_inserting)
    thread.start()
    try:
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            # Make sure inserts really happen between page fetches.
            target = len(inserted) + 2
            while len(inserted) < target and thread.is_alive():
                stop.wait(0.005)
            params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
            body = receiver.api("GET", "", params=params).json()
            seen.extend(item["id"] for item in body["items"])
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                break
    finally:
        stop.set()
        thread.join()

    assert failures == []
    assert pages >= 6
    assert len(seen) == len(set(seen)), "an event was listed twice"
    assert seen == sorted(seen, reverse=True)
    assert [event_id for event_id in seen if event_id in set(original)] == original[::-1]
    assert set(seen) - set(original) <= set(inserted)
    assert len(inserted) > 10
    # Everything inserted during paging is really stored.
    assert set(receiver.event_ids()) == set(original) | set(inserted)


# One event, retry, stats.


def test_get_one_event_with_its_attempt_history(receiver: Receiver):
    event_id = receiver.post_webhook(webhook_body("5150", webhook_id=4242)).json()["event_id"]
    first_job = receiver.event(event_id)["job_id"]
    attempt = _claim(receiver, event_id)
    assert (
        end_attempt(receiver.store, event_id, attempt, FailureKind.RETRYABLE, error="mercadopago: 503", retry_at=BASE)
        == "retry"
    )
    second_job = receiver.event(event_id)["job_id"]
    attempt = _claim(receiver, event_id)
    assert end_attempt(receiver.store, event_id, attempt, result={"payment_status": "approved"}) == "success"

    response = receiver.api("GET", f"/{event_id}")
    assert response.status_code == 200
    event = response.json()
    assert event["id"] == event_id
    assert event["status"] == "success"
    assert event["attempts"] == 2
    assert event["resource_id"] == "5150"
    assert event["webhook_id"] == "4242"
    history = event["history"]
    assert [entry["attempt"] for entry in history] == [1, 2]
    assert [entry["outcome"] for entry in history] == ["retry", "success"]
    assert history[0]["error"] == "mercadopago: 503"
    assert history[1]["error"] is None
    assert [entry["job_id"] for entry in history] == [first_job, second_job]
    for entry in history:
        assert entry["worker"] == "test-worker.1"
        assert entry["start"] <= entry["end"]
        assert entry["start"].endswith("Z")


def test_get_unknown_event_is_404(receiver: Receiver):
    response = receiver.api("GET", "/0000000000000ffffffffff")
    assert response.status_code == 404
    assert "0000000000000ffffffffff" in response.json()["error"]


def test_retry_unknown_event_is_404(receiver: Receiver):
    response = receiver.api("POST", "/0000000000000ffffffffff/retry")
    assert response.status_code == 404
    assert receiver.product_keys() == set()


def test_retry_while_processing_is_409(receiver: Receiver):
    event_id = _seed(receiver, BASE)
    _claim(receiver, event_id)
    queued_before = receiver.queued_job_ids()
    response = receiver.api("POST", f"/{event_id}/retry")
    assert response.status_code == 409
    assert "processed" in response.json()["error"]
    assert receiver.event(event_id)["status"] == "processing"
    assert receiver.queued_job_ids() == queued_before


@pytest.mark.parametrize("outcome", ["permanent", "success"])
def test_retry_queues_a_new_job(receiver: Receiver, outcome: str):
    event_id = _seed(receiver, BASE)
    old_job = receiver.event(event_id)["job_id"]
    receiver.raw.lrem(receiver.queue_key, 0, old_job)  # as if a worker had taken it
    assert _finish(receiver, event_id, outcome, "gone") in ("failed", "success")

    response = receiver.api("POST", f"/{event_id}/retry")
    assert response.status_code == 202
    assert response.json() == {"status": "queued", "event_id": event_id}
    stored = receiver.event(event_id)
    assert stored["status"] == "pending"
    assert stored["job_id"] != old_job
    assert receiver.queued_job_ids() == [stored["job_id"]]
    job = receiver.job(stored["job_id"])
    assert job.args == [event_id]
    assert job.get_status() == "queued"
    # A fresh retry budget on top of the attempt already made.
    assert int(stored["max_attempts"]) == 1 + receiver.settings.max_attempts
    assert receiver.redis.zscore(receiver.keys.by_status("pending"), event_id) is not None
    assert receiver.api("GET", f"/{event_id}").json()["status"] == "pending"


def test_retry_of_a_pending_event_queues_it_now(receiver: Receiver):
    event_id = _seed(receiver, BASE)
    old_job = receiver.event(event_id)["job_id"]
    response = receiver.api("POST", f"/{event_id}/retry")
    assert response.status_code == 202
    new_job = receiver.event(event_id)["job_id"]
    assert new_job != old_job
    assert new_job in receiver.queued_job_ids()


def test_stats_counts_by_status_and_type(receiver: Receiver):
    payments = [_seed(receiver, BASE + index, "payment") for index in range(5)]
    orders = [_seed(receiver, BASE + 10 + index, "merchant_order") for index in range(2)]
    _finish(receiver, payments[0], "success")
    _finish(receiver, payments[1], "permanent", "nope")
    _claim(receiver, orders[0])
    receiver.post_ipn("123456")

    response = receiver.api("GET", "/stats")
    assert response.status_code == 200
    stats = response.json()
    assert stats["by_status"] == {"pending": 5, "processing": 1, "success": 1, "failed": 1}
    assert stats["by_type"] == {"merchant_order": 2, "payment": 6}
    closed = {"state": "closed", "failures": 0, "opened_at": None, "next_probe_at": None}
    assert stats["breakers"] == {"mercadopago": closed, "highlevel": closed}


def test_stats_show_an_open_breaker(receiver: Receiver):
    breaker = breaker_for(receiver.store, "highlevel")
    for _ in range(receiver.settings.breaker_failures):
        breaker.failed(RetryableError("highlevel POST /contacts/c/tags", "503"))
    stats = receiver.api("GET", "/stats").json()
    assert stats["breakers"]["mercadopago"]["state"] == "closed"
    shown = stats["breakers"]["highlevel"]
    assert shown["state"] == "open" and shown["failures"] == receiver.settings.breaker_failures
    opened, probe = parse_instant(shown["opened_at"]), parse_instant(shown["next_probe_at"])
    assert probe - opened == pytest.approx(receiver.settings.breaker_probe_seconds, abs=0.01)


def test_the_document_declares_the_filters_rules(start_receiver: Callable[..., Receiver]):
    receiver = start_receiver(RECEIVER_DOCS_ENABLED="true")
    parameters = {
        p["name"]: p["schema"]
        for p in receiver.http.get("/openapi.json").json()["paths"]["/api/webhook-events"]["get"]["parameters"]
    }
    assert (parameters["limit"]["minimum"], parameters["limit"]["maximum"]) == (1, 500)
    assert parameters["since"]["format"] == parameters["until"]["format"] == "date-time"
    assert "EventStatus" in parameters["status"]["anyOf"][0]["$ref"]


def test_stats_of_an_empty_install(receiver: Receiver):
    assert receiver.api("GET", "/stats").json() == {
        "by_status": {"pending": 0, "processing": 0, "success": 0, "failed": 0},
        "by_type": {},
        "breakers": {
            upstream: {"state": "closed", "failures": 0, "opened_at": None, "next_probe_at": None}
            for upstream in ("mercadopago", "highlevel")
        },
    }


# 501: the document says 1..500 (a capped page was a schema-violating request accepted).
@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": "many"}, {"limit": 501}])
def test_bad_parameters_answer_400_with_an_error_body(receiver: Receiver, params):
    answer = receiver.api("GET", "", params=params)
    assert answer.status_code == 400
    assert "limit" in answer.json()["error"]
