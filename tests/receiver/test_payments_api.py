"""/api/payments: payment states written by the real worker against the sandbox, read
through their indexes: newest update first, filters, cursor, a payment moving between
status indexes when it changes, one payment with its tags and events."""

from __future__ import annotations

import time

import pytest

from tests.conftest import TEST_API_TOKEN

from .conftest import Receiver


@pytest.fixture
def processed(pipeline, sandbox, start_receiver) -> tuple[Receiver, object, object]:
    state, _ = sandbox
    return start_receiver(API_READ_TOKEN="read-token"), pipeline(), state


def _list(receiver: Receiver, **params) -> dict:
    response = receiver.http.get("/api/payments", params=params, headers=receiver.api_headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_payments_newest_update_first_with_filters_and_cursor(processed):
    receiver, run, state = processed
    now = time.time()
    for n, status in enumerate(["approved", "pending", "approved", "rejected", "approved"]):
        state.put_payment(f"70{n}", status, updated=now - 3600 + n * 60)
        run.notify(f"70{n}")
    run.drain()

    body = _list(receiver)
    assert [p["id"] for p in body["items"]] == ["704", "703", "702", "701", "700"]
    assert body["total"] == 5 and body["next_cursor"] is None
    first = body["items"][0]
    assert first["status"] == "approved" and first["amount"] == "100.0" and first["currency"] == "BRL"
    assert first["payer_email"] == "buyer@example.com" and first["external_reference"] == "order-704"
    assert first["contact_id"] and first["tags_applied"][0]["tags"] == ["mp-payment-approved"]

    approved = _list(receiver, status="approved", limit=2)
    assert [p["id"] for p in approved["items"]] == ["704", "702"] and approved["total"] == 3
    rest = _list(receiver, status="approved", limit=2, cursor=approved["next_cursor"])
    assert [p["id"] for p in rest["items"]] == ["700"] and rest["next_cursor"] is None

    window = _list(receiver, since=_iso(now - 3600 + 60), until=_iso(now - 3600 + 180))
    assert [p["id"] for p in window["items"]] == ["703", "702", "701"] and window["total"] == 3


def test_a_payment_moves_to_its_new_status_and_keeps_its_history(processed):
    receiver, run, state = processed
    now = time.time()
    state.put_payment("800", "pending", updated=now - 60)
    first = run.notify("800")
    run.drain()
    state.put_payment("800", "approved", updated=now)
    second = run.notify("800")
    run.drain()

    assert _list(receiver, status="pending")["items"] == []
    assert [p["id"] for p in _list(receiver, status="approved")["items"]] == ["800"]
    assert _list(receiver)["total"] == 1

    response = receiver.http.get("/api/payments/800", headers={"Authorization": "Bearer read-token"})
    assert response.status_code == 200
    payment = response.json()
    assert payment["status"] == "approved" and payment["event_ids"] == [second, first]
    assert [t["status"] for t in payment["tags_applied"]] == ["pending", "approved"]
    assert all(t["at"].endswith("Z") for t in payment["tags_applied"])


def test_tags_applied_are_the_tags_added_then_not_the_configured_ones(pipeline, sandbox, start_receiver):
    state, _ = sandbox
    # The worker tagged with the tags configured then; the receiver runs with others.
    run = pipeline(GHL_STATUS_TAGS='{"approved": ["paid", "vip"]}')
    receiver = start_receiver(GHL_STATUS_TAGS='{"approved": ["renamed"]}')
    state.put_payment("900", "approved")
    run.notify("900")
    run.drain()
    response = receiver.http.get("/api/payments/900", headers=receiver.api_headers)
    assert [(t["status"], t["tags"]) for t in response.json()["tags_applied"]] == [("approved", ["paid", "vip"])]


def test_unknown_payment_bad_filter_and_auth(processed):
    receiver, _, _ = processed
    missing = receiver.http.get("/api/payments/nope", headers=receiver.api_headers)
    assert missing.status_code == 404 and missing.json() == {"error": "no payment nope"}
    bad = receiver.http.get("/api/payments", params={"since": "yesterday"}, headers=receiver.api_headers)
    assert bad.status_code == 400 and bad.json()["error"].startswith("since:")
    assert receiver.http.get("/api/payments").status_code == 401
    assert receiver.http.get("/api/payments", headers={"Authorization": "Bearer x" + TEST_API_TOKEN}).status_code == 401


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp)) + f".{int(timestamp * 1000) % 1000:03d}Z"
