"""x-signature vectors: manifest `id:<data.id>;request-id:<x-request-id>;ts:<ts>;`,
HMAC-SHA256 hex with any configured secret, parts with no value left out."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from tests.conftest import TEST_SECRET

from .conftest import Receiver, signature, unique, webhook_body


def _received(response) -> str:
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "received"
    return response.json()["event_id"]


def _refused(receiver: Receiver, response, reason: str) -> None:
    assert response.status_code == 401, response.text
    assert reason in response.json()["error"]
    receiver.assert_nothing_stored()


def test_valid_signature_stores_and_queues_the_event(receiver: Receiver):
    body = webhook_body("123456", webhook_id=98765, live_mode=True)
    response = receiver.post_webhook(body)
    event_id = _received(response)
    stored = receiver.assert_stored_and_queued(
        event_id,
        source="webhook",
        type="payment",
        resource_id="123456",
        webhook_id="98765",
        action="payment.updated",
        live_mode="true",
        attempts="0",
        duplicates="0",
    )
    assert json.loads(stored["payload"]) == body
    assert receiver.event_ids() == [event_id]


def test_wrong_secret_is_refused(receiver: Receiver):
    response = receiver.post_webhook(webhook_body("123"), secret="not-the-secret")
    _refused(receiver, response, "does not match")


def test_rotated_secrets_are_all_accepted(start_receiver):
    receiver = start_receiver(MP_WEBHOOK_SECRET="old-secret, new-secret")
    old = _received(receiver.post_webhook(webhook_body("1001"), secret="old-secret"))
    new = _received(receiver.post_webhook(webhook_body("1002"), secret="new-secret"))
    assert old != new
    refused = receiver.post_webhook(webhook_body("1003"), secret=TEST_SECRET)
    assert refused.status_code == 401
    assert sorted(receiver.event_ids()) == sorted([old, new])
    assert {receiver.event(old)["resource_id"], receiver.event(new)["resource_id"]} == {"1001", "1002"}


def test_missing_signature_header_is_refused(receiver: Receiver):
    body = json.dumps(webhook_body("123")).encode()
    response = receiver.http.post("/webhooks/mp", content=body, headers={"x-request-id": "req-1"})
    _refused(receiver, response, "missing x-signature")


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        "ts=1700000000",
        "v1=" + "a" * 64,
        "ts=soon,v1=" + "a" * 64,
        "ts=,v1=",
        "ts=1700000000;v1=" + "a" * 64,
    ],
)
def test_malformed_signature_header_is_refused(receiver: Receiver, header: str):
    response = receiver.post_webhook(webhook_body("123"), headers={"x-signature": header})
    assert response.status_code == 401, response.text
    receiver.assert_nothing_stored()


def test_a_non_ascii_signature_is_refused_not_an_error(receiver: Receiver):
    # Found by tests/fuzz/test_signature.py: hmac.compare_digest raised TypeError (a 500).
    header = ("ts=1700000000,v1=" + "\u00e9" * 64).encode("latin-1")
    response = receiver.post_webhook(webhook_body("123"), headers={"x-signature": header})
    assert response.status_code == 401, response.text
    receiver.assert_nothing_stored()


def test_header_spelling_variants_are_accepted(receiver: Receiver):
    """Spaces after the comma, upper-case hex and the parts in another order."""
    ts = str(int(time.time()))
    ids = []
    for index, build in enumerate(
        [
            lambda sig: sig.replace(",", ", "),
            lambda sig: sig.split(",")[0] + "," + sig.split(",")[1].upper().replace("V1=", "v1="),
            lambda sig: sig.split(",")[1] + "," + sig.split(",")[0],
        ]
    ):
        data_id = f"77{index}"
        header = build(signature(TEST_SECRET, data_id, "req-1", ts))
        response = receiver.post_webhook(webhook_body(data_id), headers={"x-signature": header})
        ids.append(_received(response))
    assert sorted(receiver.event_ids()) == sorted(ids)


@pytest.mark.parametrize("signed_as", ["abc123xyz", "ABC123XYZ"])
def test_upper_case_data_id_accepted_signed_lower_case_or_as_sent(receiver: Receiver, signed_as: str):
    response = receiver.post_webhook(webhook_body("ABC123XYZ"), sign_id=signed_as)
    event_id = _received(response)
    # Stored as sent: the worker asks Mercado Pago for exactly that resource.
    receiver.assert_stored_and_queued(event_id, resource_id="ABC123XYZ")


def test_upper_case_data_id_other_spelling_is_refused(receiver: Receiver):
    response = receiver.post_webhook(webhook_body("ABC123XYZ"), sign_id="Abc123xyz")
    _refused(receiver, response, "does not match")


def test_upper_case_data_id_in_query(receiver: Receiver):
    body = webhook_body("ABCDEF42")
    params = {"data.id": "ABCDEF42", "type": "payment"}
    lower = _received(receiver.post_webhook(body, params=params, sign_id="abcdef42"))
    body2 = webhook_body("ABCDEF42")
    as_sent = _received(receiver.post_webhook(body2, params=params, sign_id="ABCDEF42"))
    assert lower != as_sent
    receiver.assert_stored_and_queued(lower, resource_id="ABCDEF42")
    receiver.assert_stored_and_queued(as_sent, resource_id="ABCDEF42")


def test_query_data_id_is_the_one_signed(receiver: Receiver):
    body = webhook_body("111")
    params = {"data.id": "222", "type": "payment"}
    _refused(receiver, receiver.post_webhook(body, params=params, sign_id="111"), "does not match")
    event_id = _received(receiver.post_webhook(body, params=params, sign_id="222"))
    receiver.assert_stored_and_queued(event_id, resource_id="222")


def test_missing_request_id_is_left_out_of_the_manifest(receiver: Receiver):
    ts = str(int(time.time()))
    digest = hmac.new(TEST_SECRET.encode(), f"id:555;ts:{ts};".encode(), hashlib.sha256).hexdigest()
    body = json.dumps(webhook_body("555")).encode()
    response = receiver.http.post("/webhooks/mp", content=body, headers={"x-signature": f"ts={ts},v1={digest}"})
    event_id = _received(response)
    receiver.assert_stored_and_queued(event_id, resource_id="555")


def test_request_id_signed_but_not_sent_is_refused(receiver: Receiver):
    ts = str(int(time.time()))
    header = signature(TEST_SECRET, "556", "req-9", ts)
    body = json.dumps(webhook_body("556")).encode()
    response = receiver.http.post("/webhooks/mp", content=body, headers={"x-signature": header})
    _refused(receiver, response, "does not match")


def test_request_id_sent_but_left_out_of_the_signature_is_refused(receiver: Receiver):
    ts = str(int(time.time()))
    header = signature(TEST_SECRET, "557", None, ts)
    response = receiver.post_webhook(webhook_body("557"), headers={"x-signature": header, "x-request-id": "req-9"})
    _refused(receiver, response, "does not match")


def test_ts_is_part_of_the_signature(receiver: Receiver):
    ts = int(time.time())
    good = signature(TEST_SECRET, "558", "req-1", str(ts))
    tampered = good.replace(f"ts={ts}", f"ts={ts + 1}")
    response = receiver.post_webhook(webhook_body("558"), headers={"x-signature": tampered})
    _refused(receiver, response, "does not match")


@pytest.mark.parametrize(
    ("offset", "unit", "accepted"),
    [
        (0, "s", True),
        (-200, "s", True),
        (-3600, "s", False),
        (3600, "s", False),
        (0, "ms", True),
        (-200, "ms", True),
        (-3600, "ms", False),
    ],
)
def test_ts_tolerance_in_seconds_and_milliseconds(start_receiver, offset: int, unit: str, accepted: bool):
    receiver = start_receiver(MP_SIGNATURE_TOLERANCE_SECONDS="300")
    when = time.time() + offset
    ts = str(int(when)) if unit == "s" else str(int(when * 1000))
    response = receiver.post_webhook(webhook_body("9001"), ts=ts)
    if accepted:
        receiver.assert_stored_and_queued(_received(response))
    else:
        _refused(receiver, response, "away from now")


def test_no_tolerance_by_default_accepts_old_ts(receiver: Receiver):
    response = receiver.post_webhook(webhook_body("9002"), ts="1577836800")  # 2020-01-01
    receiver.assert_stored_and_queued(_received(response))


def test_signature_failures_never_reach_redis_even_for_valid_looking_requests(receiver: Receiver):
    """A signed duplicate of a stored notification with a bad signature is not counted."""
    body = webhook_body("9100", webhook_id=unique())
    event_id = _received(receiver.post_webhook(body))
    refused = receiver.post_webhook(body, secret="wrong")
    assert refused.status_code == 401
    assert receiver.event(event_id)["duplicates"] == "0"
