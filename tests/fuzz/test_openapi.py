"""Schemathesis over each served app's own OpenAPI document: real uvicorn on a free
port, the real Redis. For every operation, schema-valid and schema-violating requests,
each with valid credentials (operator token, Mercado Pago signature), none, and wrong
ones. Every answer: no 500, no traceback, the status and body the document promises, a
schema-valid request accepted (unless only credentials refuse it), and a request
answered 4xx leaves the store exactly as it was.

Another app with an OpenAPI document is one more `Door` in DOORS. The console has none
(its pages read query and form by hand): test_console.py fuzzes it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum

import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection

from services.core.keys import Keys
from services.core.settings import Settings
from services.receiver import notifications
from services.receiver.app import create_app
from tests.conftest import TEST_API_TOKEN, TEST_SECRET
from tests.receiver.conftest import signature
from tests.support.servers import serve_app

WEBHOOK = "/webhooks/mp"


class Credentials(StrEnum):
    VALID = "valid"
    NONE = "none"
    WRONG = "wrong"


@dataclass(frozen=True)
class Door:
    name: str
    serve: Callable[[Settings], AbstractContextManager[str]]
    # Operations that knowingly accept more than their document describes, with why.
    lenient: frozenset[str] = frozenset()


def _serve_receiver(settings: Settings) -> AbstractContextManager[str]:
    return serve_app(create_app(settings))


DOORS = [
    # The webhook takes `type` and `data.id` from the query too, and reads the optional
    # fields loosely: refusing a notification Mercado Pago sends costs more than
    # storing a shape the document does not describe.
    Door("receiver", _serve_receiver, lenient=frozenset({f"POST {WEBHOOK}"})),
]


def _sign(case: schemathesis.Case, secret: str) -> None:
    """The x-signature Mercado Pago would send for this request (over the data.id the
    receiver reads; requests it cannot parse get none and must be answered 400)."""
    body = case.body if isinstance(case.body, bytes | str) else json.dumps(case.body)
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    query = {name: str(value) for name, value in (case.query or {}).items()}
    try:
        parsed = notifications.parse(query, raw, accept_ipn=True)
    except notifications.BadNotificationError:
        return
    request_id = str(case.headers.get("x-request-id") or "") or None
    case.headers["x-signature"] = signature(secret, parsed.signed_data_id, request_id, str(int(time.time())))


def _present(case: schemathesis.Case, credentials: Credentials) -> None:
    case.headers = dict(case.headers or {})
    for name in ("authorization", "x-signature"):
        case.headers.pop(name, None)
    if credentials == Credentials.NONE:
        return
    valid = credentials == Credentials.VALID
    case.headers["authorization"] = f"Bearer {TEST_API_TOKEN if valid else 'not-a-token'}"
    if case.operation.path == WEBHOOK:
        _sign(case, TEST_SECRET if valid else "not-the-secret")


def _stored(client: redis.Redis, keys: Keys) -> dict[str, object]:
    """Every product key with its size: any write a request makes shows here."""
    found = [*sorted(client.scan_iter(f"{keys.prefix}:*", count=1000)), keys.queue]
    with client.pipeline() as pipe:
        for key in found:
            pipe.memory_usage(key)
        return dict(zip(found, pipe.execute(), strict=True))


@pytest.fixture(params=DOORS, ids=lambda door: door.name)
def door(request: pytest.FixtureRequest) -> Door:
    door: Door = request.param
    return door


@pytest.fixture
def served(door: Door, make_settings: Callable[..., Settings]) -> Iterator[tuple[str, Settings]]:
    # The document is what is fuzzed: served here, off by default in production.
    settings = make_settings(RECEIVER_DOCS_ENABLED="true")
    with door.serve(settings) as url:
        yield url, settings


def _exercise(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    door: Door,
    url: str,
    credentials: Credentials,
    client: redis.Redis,
    keys: Keys,
) -> None:
    excluded = [negative_data_rejection] if operation.label in door.lenient else []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=25, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
    def answers(case: schemathesis.Case) -> None:
        _present(case, credentials)
        before = _stored(client, keys)
        response = case.call_and_validate(base_url=url, excluded_checks=excluded)
        assert "Traceback" not in response.text, response.text
        if 400 <= response.status_code < 500:
            assert _stored(client, keys) == before, f"{response.status_code} left a change behind"

    try:
        answers()
    except Unsatisfiable:
        # An operation without parameters or body has no schema-violating request.
        assert mode == GenerationMode.NEGATIVE


@pytest.mark.parametrize("credentials", list(Credentials))
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_every_operation_answers_as_documented(
    door: Door,
    served: tuple[str, Settings],
    redis_client: redis.Redis,
    credentials: Credentials,
    mode: GenerationMode,
) -> None:
    url, app_settings = served
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the document lists no operation"
    for operation in operations:
        _exercise(operation, mode, door, url, credentials, redis_client, Keys(app_settings.key_prefix))
