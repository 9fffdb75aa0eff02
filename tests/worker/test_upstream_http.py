"""The upstream client's direct path (an httpx transport of its own) sends what
httpx.Client would, and steps aside when proxy variables are set."""

from __future__ import annotations

import pytest

from services.worker.errors import PermanentError
from services.worker.upstream.http import Upstream, new_client


def test_direct_path_sends_the_client_headers_query_and_json(sandbox):
    state, url = sandbox
    state.put_payment("3001", "approved")
    api = Upstream("mercadopago", new_client(f"{url}/mp", {"Authorization": "Bearer APP_USR-test-token"}))
    assert api._transport is not None
    try:
        assert api.call("GET", "/v1/payments/3001")["id"] == 3001
        ghl = Upstream("highlevel", new_client(f"{url}/ghl", {"Authorization": "Bearer pit-test-token", "Version": "2021-07-28"}))
        body = ghl.call("GET", "/contacts/search/duplicate", params={"locationId": "loc-test", "email": "a+b@example.com"})
        assert body == {"contact": None}
        created = ghl.call("POST", "/contacts/upsert", json={"locationId": "loc-test", "email": "a+b@example.com"})
        assert created["new"] is True
        ghl.close()
    finally:
        api.close()
    [payment_call] = state.calls_to("mp", "GET", "/v1/payments/3001")
    assert payment_call.headers["authorization"] == "Bearer APP_USR-test-token"
    assert payment_call.headers["user-agent"].startswith("python-httpx/")
    [search] = state.calls_to("ghl", "GET", "/contacts/search/duplicate")
    assert search.query == {"locationId": "loc-test", "email": "a+b@example.com"}
    assert search.headers["version"] == "2021-07-28"
    [upsert] = state.calls_to("ghl", "POST", "/contacts/upsert")
    assert upsert.body == {"locationId": "loc-test", "email": "a+b@example.com"}
    assert upsert.headers["content-type"] == "application/json"


def test_proxy_variables_send_through_the_client(sandbox, monkeypatch):
    state, url = sandbox
    state.put_payment("3002", "approved")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")  # an https proxy: the sandbox is plain http
    api = Upstream("mercadopago", new_client(f"{url}/mp", {"Authorization": "Bearer APP_USR-test-token"}))
    try:
        assert api._transport is None
        assert api.call("GET", "/v1/payments/3002")["id"] == 3002
        with pytest.raises(PermanentError, match="404"):
            api.call("GET", "/v1/payments/404404")
    finally:
        api.close()
