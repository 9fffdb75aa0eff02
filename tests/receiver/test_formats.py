"""Both notification formats, and what the receiver refuses: malformed and oversized
bodies (413 whatever Content-Length says, or without one)."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlparse

import pytest

from services.receiver.notifications import MAX_BODY_BYTES

from .conftest import Receiver, signed_headers, unique, webhook_body


def test_webhooks_format_json_body(receiver: Receiver):
    body = webhook_body("2001", webhook_id=5551, event_type="merchant_order")
    response = receiver.post_webhook(body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "received"
    stored = receiver.assert_stored_and_queued(
        answer["event_id"],
        source="webhook",
        type="merchant_order",
        resource_id="2001",
        webhook_id="5551",
        action="merchant_order.updated",
    )
    assert stored["max_attempts"] == str(receiver.settings.max_attempts)
    assert receiver.redis.zscore(receiver.keys.by_type("merchant_order"), answer["event_id"]) is not None


def test_webhooks_format_with_data_id_and_type_in_the_query(receiver: Receiver):
    """Mercado Pago also sends `?data.id=..&type=..`; the query wins over the body."""
    body = {"id": 777001, "action": "payment.created", "data": {"id": "ignored"}}
    response = receiver.post_webhook(body, params={"data.id": "3001", "type": "payment"})
    assert response.status_code == 200, response.text
    receiver.assert_stored_and_queued(
        response.json()["event_id"], source="webhook", type="payment", resource_id="3001", webhook_id="777001"
    )


def test_webhooks_format_with_only_a_query_and_no_body(receiver: Receiver):
    response = receiver.post_webhook(None, params={"data.id": "3002", "type": "payment"})
    assert response.status_code == 200, response.text
    stored = receiver.assert_stored_and_queued(response.json()["event_id"], type="payment", resource_id="3002")
    assert json.loads(stored["payload"]) == {"query": {"data.id": "3002", "type": "payment"}}


def test_legacy_ipn_needs_no_signature(receiver: Receiver):
    response = receiver.post_ipn("123")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "received"
    stored = receiver.assert_stored_and_queued(
        response.json()["event_id"], source="ipn", type="payment", resource_id="123", webhook_id=""
    )
    assert json.loads(stored["payload"]) == {"query": {"topic": "payment", "id": "123"}}


def test_legacy_ipn_resource_from_the_body_url(receiver: Receiver):
    response = receiver.http.post(
        "/webhooks/mp",
        params={"topic": "merchant_order"},
        json={"resource": "https://api.mercadolibre.com/merchant_orders/4242", "topic": "merchant_order"},
    )
    assert response.status_code == 200, response.text
    receiver.assert_stored_and_queued(
        response.json()["event_id"], source="ipn", type="merchant_order", resource_id="4242"
    )


def test_ipn_refused_when_not_accepted(start_receiver):
    receiver = start_receiver(MP_ACCEPT_IPN="false")
    response = receiver.post_ipn("123")
    assert response.status_code == 400
    assert "MP_ACCEPT_IPN" in response.json()["error"]
    receiver.assert_nothing_stored()
    # The Webhooks format still works.
    accepted = receiver.post_webhook(webhook_body("124"))
    assert accepted.status_code == 200
    receiver.assert_stored_and_queued(accepted.json()["event_id"])


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b'[{"type": "payment", "data": {"id": "1"}}]', "JSON object"),
        (b'"payment"', "JSON object"),
        (json.dumps({"id": 1, "type": "payment", "data": {}}).encode(), "resource id"),
        (json.dumps({"id": 1, "type": "payment"}).encode(), "resource id"),
        (json.dumps({"id": 1, "type": "payment", "data": {"id": ""}}).encode(), "resource id"),
        (json.dumps({"id": 1, "type": "payment", "data": {"id": {"nested": 1}}}).encode(), "resource id"),
        (json.dumps({"id": 1, "data": {"id": "5"}}).encode(), "type"),
        (b"", "type"),
        # Valid JSON Python refuses to read (a 500 once, found by tests/fuzz).
        (b'{"type": "payment", "data": {"id": ' + b"7" * 5000 + b"}}", "number too long"),
        (b"[" * 30_000 + b"]" * 30_000, "nests too deep"),
    ],
)
def test_malformed_bodies_are_400_and_store_nothing(receiver: Receiver, content: bytes, reason: str):
    headers = {"content-type": "application/json", **signed_headers("1")}
    response = receiver.http.post("/webhooks/mp", content=content, headers=headers)
    assert response.status_code == 400, response.text
    assert reason in response.json()["error"]
    receiver.assert_nothing_stored()


def test_the_document_declares_what_a_webhooks_format_body_needs(start_receiver):
    receiver = start_receiver(RECEIVER_DOCS_ENABLED="true")
    operation = receiver.http.get("/openapi.json").json()["paths"]["/webhooks/mp"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["type", "data"]
    assert body["properties"]["type"]["pattern"] == r"\S"
    assert body["properties"]["data"]["required"] == ["id"]
    assert set(operation["responses"]) >= {"200", "400", "401", "413", "503"}


def test_ipn_without_resource_id_is_400(receiver: Receiver):
    response = receiver.http.post("/webhooks/mp", params={"topic": "payment"})
    assert response.status_code == 400
    assert "resource id" in response.json()["error"]
    receiver.assert_nothing_stored()


def _padded_body(size: int) -> bytes:
    """A valid signed-format body of exactly `size` bytes."""
    base = webhook_body("6001", webhook_id=unique(), padding="")
    empty = len(json.dumps(base).encode())
    base["padding"] = "x" * (size - empty)
    encoded = json.dumps(base).encode()
    assert len(encoded) == size
    return encoded


def test_body_of_exactly_64_kib_is_accepted(receiver: Receiver):
    content = _padded_body(MAX_BODY_BYTES)
    response = receiver.http.post("/webhooks/mp", content=content, headers=signed_headers("6001"))
    assert response.status_code == 200, response.text
    receiver.assert_stored_and_queued(response.json()["event_id"])


def test_body_over_64_kib_is_413(receiver: Receiver):
    content = _padded_body(MAX_BODY_BYTES + 1)
    response = receiver.http.post("/webhooks/mp", content=content, headers=signed_headers("6001"))
    assert response.status_code == 413
    assert str(MAX_BODY_BYTES) in response.json()["error"]
    receiver.assert_nothing_stored()


def test_body_over_64_kib_without_content_length_is_413(receiver: Receiver):
    """Chunked transfer: no Content-Length to trust, the receiver counts as it reads."""
    content = _padded_body(MAX_BODY_BYTES + 4096)

    def chunks():
        for start in range(0, len(content), 8192):
            yield content[start : start + 8192]

    response = receiver.http.post("/webhooks/mp", content=chunks(), headers=signed_headers("6001"))
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    receiver.assert_nothing_stored()


def test_small_chunked_body_is_accepted(receiver: Receiver):
    content = _padded_body(1000)
    response = receiver.http.post(
        "/webhooks/mp", content=iter([content[:500], content[500:]]), headers=signed_headers("6001")
    )
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 200, response.text
    receiver.assert_stored_and_queued(response.json()["event_id"])


def _raw_exchange(url: str, request: bytes) -> bytes:
    """Sends raw bytes and reads until the server closes or one response is complete."""
    parsed = urlparse(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return head + b"\r\n\r\n" + rest


def _status(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1])


def test_content_length_claiming_too_much_is_413_before_the_body_arrives(receiver: Receiver):
    """A sender announcing a huge body is refused at once; it never gets to send it."""
    headers = signed_headers("6001")
    request = (
        b"POST /webhooks/mp HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        + b"".join(f"{name}: {value}\r\n".encode() for name, value in headers.items())
        + f"Content-Length: {MAX_BODY_BYTES * 100}\r\n\r\n".encode()
        + b'{"type": "payment"'
    )
    raw = _raw_exchange(receiver.url, request)
    assert _status(raw) == 413, raw[:200]
    receiver.assert_nothing_stored()


def test_content_length_smaller_than_the_body_never_stores_more_than_it_declared(receiver: Receiver):
    """HTTP framing trusts Content-Length: a sender that declares 40 bytes and sends
    100 KiB gets its 40 bytes parsed (not JSON here -> 400); the rest is not a
    notification and nothing is stored."""
    headers = signed_headers("6001")
    content = _padded_body(MAX_BODY_BYTES + 40_000)
    request = (
        b"POST /webhooks/mp HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        + b"".join(f"{name}: {value}\r\n".encode() for name, value in headers.items())
        + b"Content-Length: 40\r\n\r\n"
        + content
    )
    raw = _raw_exchange(receiver.url, request)
    assert _status(raw) == 400, raw[:200]
    receiver.assert_nothing_stored()
