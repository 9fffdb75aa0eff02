"""Console fixtures: the real console app served over HTTP on 127.0.0.1 against the real
Redis, an httpx client that keeps its cookies like a browser, and ways to put events in
the states a page shows (through the store's own operations)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import pytest
import redis

from services.console.app import create_app
from services.core.attempts import FailureKind
from services.core.settings import Settings
from services.core.store import EventCalls, EventStore
from tests.conftest import TEST_API_TOKEN
from tests.support.servers import serve_app
from tests.support.store import end_attempt, notify, start_attempt

READ_TOKEN = "test-read-token"
SESSION_SECRET = "console-test-secret-0123456789abcdef"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


@dataclass
class Console:
    url: str
    settings: Settings
    http: httpx.Client
    store: EventStore

    def sign_in(self, token: str = TEST_API_TOKEN, next_url: str = "") -> httpx.Response:
        page = self.http.get("/console/sign-in")
        return self.http.post("/console/sign-in", data={"csrf": csrf_of(page.text), "token": token, "next": next_url})

    def failed(self, resource_id: str, error: str = "mercadopago GET /v1/payments: 500", **kwargs) -> str:
        event_id = notify(self.store, resource_id, **kwargs)
        attempt = start_attempt(self.store, event_id)
        assert end_attempt(self.store, event_id, attempt, FailureKind.PERMANENT, error=error) == "failed"
        return event_id

    def succeeded(self, resource_id: str) -> str:
        event_id = notify(self.store, resource_id)
        end_attempt(self.store, event_id, start_attempt(self.store, event_id), result={"action": "tagged"})
        return event_id


@pytest.fixture
def start_console(make_settings: Callable[..., Settings], redis_url: str) -> Iterator[Callable[..., Console]]:
    with ExitStack() as stack:

        def start(**env: str | None) -> Console:
            settings = make_settings(**{"CONSOLE_SESSION_SECRET": SESSION_SECRET, "API_READ_TOKEN": READ_TOKEN, **env})
            url = stack.enter_context(serve_app(create_app(settings)))
            http = stack.enter_context(httpx.Client(base_url=url, timeout=30))
            client = redis.Redis.from_url(settings.redis_url)
            stack.callback(client.close)
            return Console(url, settings, http, EventStore(client, EventCalls(settings)))

        yield start


@pytest.fixture
def console(start_console) -> Console:
    return start_console()
