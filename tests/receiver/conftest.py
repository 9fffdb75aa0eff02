"""Receiver fixtures: the real app (`create_app`) served over HTTP on 127.0.0.1, talking
to a real Redis, plus helpers that sign requests the way Mercado Pago does and read
back what the receiver stored.

The signing helper here is written from the contract (SPEC.md), not imported from
`services.receiver.signature`, so a mistake in the product's manifest cannot cancel
out against the same mistake in the tests.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis

from services.core.jobguard import ProductJob
from services.core.keys import Keys
from services.core.settings import Settings
from services.core.store import EventCalls, EventStore
from services.receiver.app import create_app
from tests.conftest import TEST_API_TOKEN, TEST_SECRET
from tests.support.servers import serve_app

_counter = itertools.count(1)


def unique(prefix: str = "") -> str:
    """A notification or resource id no other test uses."""
    return f"{prefix}{next(_counter)}{uuid.uuid4().hex[:8]}"


def manifest(data_id: str | None, request_id: str | None, ts: str | None) -> str:
    parts = [("id", data_id), ("request-id", request_id), ("ts", ts)]
    return "".join(f"{name}:{value};" for name, value in parts if value)


def signature(secret: str, data_id: str | None, request_id: str | None, ts: str) -> str:
    digest = hmac.new(secret.encode(), manifest(data_id, request_id, ts).encode(), hashlib.sha256).hexdigest()
    return f"ts={ts},v1={digest}"


def signed_headers(
    data_id: str | None,
    *,
    secret: str = TEST_SECRET,
    request_id: str | None = "req-1",
    ts: str | None = None,
) -> dict[str, str]:
    ts = ts or str(int(time.time()))
    headers = {"x-signature": signature(secret, data_id, request_id, ts)}
    if request_id is not None:
        headers["x-request-id"] = request_id
    return headers


def webhook_body(
    data_id: str, *, webhook_id: str | int | None = None, event_type: str = "payment", **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": webhook_id if webhook_id is not None else unique("n"),
        "type": event_type,
        "action": f"{event_type}.updated",
        "live_mode": False,
        "date_created": "2024-05-01T12:00:00Z",
        "user_id": 44444,
        "data": {"id": data_id},
    }
    body.update(extra)
    return body


@dataclass
class Receiver:
    """A served receiver and what a test needs to check its effects in Redis."""

    url: str
    settings: Settings
    http: httpx.Client
    raw: redis.Redis  # bytes, as RQ needs
    redis: redis.Redis  # decoded, for reading the product's own keys
    store: EventStore
    api_headers: dict[str, str] = field(default_factory=lambda: {"Authorization": f"Bearer {TEST_API_TOKEN}"})

    @property
    def prefix(self) -> str:
        return self.settings.key_prefix

    @property
    def keys(self) -> Keys:
        return self.store.keys

    @property
    def queue_key(self) -> str:
        return self.keys.queue

    # Sending.

    def post_webhook(
        self,
        body: dict[str, Any] | None = None,
        *,
        params: dict[str, str] | None = None,
        sign_id: str | None = None,
        secret: str = TEST_SECRET,
        request_id: str | None = "req-1",
        ts: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST a Webhooks-format notification signed over `sign_id` (default: the
        query's data.id, else the body's)."""
        if sign_id is None:
            data = (body or {}).get("data")
            body_id = str(data["id"]) if isinstance(data, dict) and "id" in data else None
            sign_id = (params or {}).get("data.id") or body_id
        all_headers = signed_headers(sign_id, secret=secret, request_id=request_id, ts=ts)
        all_headers.update(headers or {})
        content = json.dumps(body).encode() if body is not None else b""
        return self.http.post(
            "/webhooks/mp", params=params, content=content, headers={"content-type": "application/json", **all_headers}
        )

    def post_ipn(self, resource_id: str, topic: str = "payment", **kwargs: Any) -> httpx.Response:
        return self.http.post("/webhooks/mp", params={"topic": topic, "id": resource_id}, **kwargs)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.api_headers, **kwargs.pop("headers", {})}
        return self.http.request(method, f"/api/webhook-events{path}", headers=headers, **kwargs)

    # Reading what was stored.

    def event(self, event_id: str) -> dict[str, str]:
        return self.redis.hgetall(self.keys.event(event_id))

    def event_ids(self) -> list[str]:
        return self.redis.zrange(self.keys.all_events, 0, -1)

    def queued_job_ids(self) -> list[str]:
        return self.redis.lrange(self.queue_key, 0, -1)

    def product_keys(self) -> set[str]:
        return set(self.redis.scan_iter(f"{self.prefix}:*", count=1000)) | (
            {self.queue_key} if self.redis.exists(self.queue_key) else set()
        )

    def job(self, job_id: str) -> ProductJob:
        return ProductJob.fetch(job_id, connection=self.raw)

    def assert_nothing_stored(self) -> None:
        assert self.product_keys() == set(), "a refused notification left keys behind"

    def assert_stored_and_queued(self, event_id: str, **expected: str) -> dict[str, str]:
        """The event exists, is pending, indexed, and its RQ job is on the queue."""
        stored = self.event(event_id)
        assert stored, f"event {event_id} is not stored"
        assert stored["id"] == event_id
        assert stored["status"] == "pending"
        for name, value in expected.items():
            assert stored[name] == value, (name, stored[name], value)
        assert self.redis.zscore(self.keys.all_events, event_id) is not None
        assert self.redis.zscore(self.keys.by_status("pending"), event_id) is not None
        job_id = stored["job_id"]
        assert job_id in self.queued_job_ids()
        job = self.job(job_id)
        assert job.args == [event_id]
        assert job.get_status() == "queued"
        return stored


@pytest.fixture
def start_receiver(make_settings: Callable[..., Settings], redis_url: str) -> Iterator[Callable[..., Receiver]]:
    """Starts a receiver over real HTTP; keyword arguments are environment overrides
    (None removes a variable). Everything started is stopped after the test."""
    with ExitStack() as stack:

        def start(**env: str | None) -> Receiver:
            settings = make_settings(**env)
            url = stack.enter_context(serve_app(create_app(settings)))
            http = stack.enter_context(httpx.Client(base_url=url, timeout=30))
            raw = redis.Redis.from_url(settings.redis_url)
            decoded = redis.Redis.from_url(settings.redis_url, decode_responses=True)
            stack.callback(raw.close)
            stack.callback(decoded.close)
            return Receiver(url, settings, http, raw, decoded, EventStore(raw, EventCalls(settings)))

        yield start


@pytest.fixture
def receiver(start_receiver: Callable[..., Receiver]) -> Receiver:
    return start_receiver()
