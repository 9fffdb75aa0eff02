"""The upstream client against real servers: what it sends, the proxy the environment
names, compressed bodies, and an upstream that is down or silent."""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from prometheus_client import REGISTRY

from services.core.deadline import Deadline
from services.upstream.errors import RetryableError
from services.upstream.http import Upstream, proxy_for
from tests.conftest import TEST_GHL_LOCATION, TEST_GHL_TOKEN, TEST_MP_TOKEN
from tests.support.servers import free_port


@contextmanager
def forward_proxy() -> Iterator[tuple[str, list[tuple[str, dict[str, str]]]]]:
    """A plain-HTTP forward proxy that answers every request itself, with a gzipped
    JSON body, and records the request line's target and headers."""
    seen: list[tuple[str, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            body = gzip.compress(json.dumps({"id": 7, "status": "approved"}).encode())
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        for connection in accepted:
            connection.close()


def _requests(upstream: str, code: str) -> float:
    return REGISTRY.get_sample_value("mpwh_upstream_requests_total", {"upstream": upstream, "code": code}) or 0.0


def test_requests_carry_the_headers_query_and_json_the_apis_demand(sandbox):
    state, url = sandbox
    state.put_payment("3001", "approved")
    mp = Upstream("mercadopago", f"{url}/mp/", {"Authorization": f"Bearer {TEST_MP_TOKEN}"})
    ghl = Upstream("highlevel", f"{url}/ghl", {"Authorization": f"Bearer {TEST_GHL_TOKEN}", "Version": "2021-07-28"})
    try:
        assert mp.call("GET", "/v1/payments/3001", deadline=Deadline.after(30))["id"] == 3001
        query = {"locationId": TEST_GHL_LOCATION, "email": "a+b@example.com"}
        assert ghl.call("GET", "/contacts/search/duplicate", deadline=Deadline.after(30), params=query) == {
            "contact": None
        }
        created = ghl.call(
            "POST",
            "/contacts/upsert",
            deadline=Deadline.after(30),
            json={"locationId": TEST_GHL_LOCATION, "email": "a+b@example.com"},
        )
        assert created["new"] is True
    finally:
        mp.close()
        ghl.close()
    [payment] = state.calls_to("mp", "GET", "/v1/payments/3001")
    assert payment.headers["authorization"] == f"Bearer {TEST_MP_TOKEN}"
    assert payment.headers["user-agent"].startswith("mp-webhooks/")
    [search] = state.calls_to("ghl", "GET", "/contacts/search/duplicate")
    assert search.query == query  # the "+" survives encoding
    assert search.headers["version"] == "2021-07-28"
    assert search.headers["authorization"] == f"Bearer {TEST_GHL_TOKEN}"
    [upsert] = state.calls_to("ghl", "POST", "/contacts/upsert")
    assert upsert.body == {"locationId": TEST_GHL_LOCATION, "email": "a+b@example.com"}
    assert upsert.headers["content-type"] == "application/json"


def test_proxy_named_by_the_environment_carries_every_request(monkeypatch):
    with forward_proxy() as (proxy_url, seen):
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        # mp.invalid does not resolve: only the proxy can answer for it.
        api = Upstream("mercadopago", "http://mp.invalid", {"Authorization": "Bearer t"})
        try:
            assert api.call("GET", "/v1/payments/7", deadline=Deadline.after(30)) == {
                "id": 7,
                "status": "approved",
            }  # gzip decoded
        finally:
            api.close()
    [(target, headers)] = seen
    assert target == "http://mp.invalid/v1/payments/7"
    assert headers["authorization"] == "Bearer t" and "gzip" in headers["accept-encoding"]


def test_proxy_choice_follows_scheme_all_proxy_and_no_proxy(monkeypatch):
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    assert proxy_for("https://api.mercadopago.com") is None
    monkeypatch.setenv("ALL_PROXY", "http://all:3128")
    assert proxy_for("https://api.mercadopago.com") == "http://all:3128"
    monkeypatch.setenv("HTTPS_PROXY", "http://tls:3128")
    assert proxy_for("https://api.mercadopago.com") == "http://tls:3128"
    assert proxy_for("http://sandbox:8080") == "http://all:3128"
    monkeypatch.setenv("NO_PROXY", "mercadopago.com,sandbox")
    assert proxy_for("https://api.mercadopago.com") is None
    assert proxy_for("http://sandbox:8080") is None
    assert proxy_for("https://services.leadconnectorhq.com") == "http://tls:3128"


def test_upstream_down_is_a_retryable_connection_error():
    api = Upstream("mercadopago", f"http://127.0.0.1:{free_port()}", {"Authorization": "Bearer t"})
    before = _requests("mercadopago", "error")
    try:
        with pytest.raises(RetryableError) as raised:
            api.call("GET", "/v1/payments/9", deadline=Deadline.after(30))
    finally:
        api.close()
    assert str(raised.value).startswith("mercadopago GET /v1/payments/9: connection error (ConnectError")
    assert _requests("mercadopago", "error") == before + 1


def test_silent_upstream_is_a_retryable_timeout():
    with silent_server() as url:
        api = Upstream("highlevel", url, {"Authorization": "Bearer t"}, timeout=httpx.Timeout(0.3))
        before = _requests("highlevel", "timeout")
        try:
            with pytest.raises(RetryableError) as raised:
                api.call("POST", "/contacts/c1/tags", deadline=Deadline.after(30), json={"tags": ["paid"]})
        finally:
            api.close()
    assert str(raised.value) == "highlevel POST /contacts/c1/tags: timeout (ReadTimeout)"
    assert _requests("highlevel", "timeout") == before + 1
