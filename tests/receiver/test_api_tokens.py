"""Bearer tokens on every /api route (SPEC "Tokens and scopes"): each operator token
(API_TOKEN) and each read-only token (API_READ_TOKEN) of a rotation's pair, a wrong
token and none at all, against every route the receiver serves under /api. A route
added under /api without a row here fails the inventory test."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.receiver.app import create_app

from .conftest import Receiver
from .test_events_api import BASE, _finish, _seed

OPERATOR, OPERATOR_NEXT, READER, READER_NEXT = "op-1", "op-2", "read-1", "read-2"
UNKNOWN_PAYMENT = "404404"


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # as FastAPI declares it
    operates: bool  # needs an operator token; reading needs either kind
    allowed: int  # the status of a request the token may make

    def path(self, event_id: str) -> str:
        return self.template.replace("{event_id}", event_id).replace("{payment_id}", UNKNOWN_PAYMENT)


ROUTES = [
    Route("GET", "/api/webhook-events", operates=False, allowed=200),
    Route("GET", "/api/webhook-events/stats", operates=False, allowed=200),
    Route("GET", "/api/webhook-events/{event_id}", operates=False, allowed=200),
    Route("POST", "/api/webhook-events/{event_id}/retry", operates=True, allowed=202),
    Route("GET", "/api/payments", operates=False, allowed=200),
    # No payment is stored: a token that may read gets the payment's 404, the others 401.
    Route("GET", "/api/payments/{payment_id}", operates=False, allowed=404),
]
# name -> Authorization header (None: no header)
CREDENTIALS = {
    "operator": f"Bearer {OPERATOR}",
    "operator-rotated": f"Bearer {OPERATOR_NEXT}",
    "read-only": f"Bearer {READER}",
    "read-only-rotated": f"Bearer {READER_NEXT}",
    "wrong": "Bearer wrong-token",
    "near-miss": f"Bearer {OPERATOR}x",
    "other-scheme": f"Basic {OPERATOR}",
    "no-scheme": OPERATOR,
    "missing": None,
}


def expected_status(route: Route, credential: str) -> int:
    if credential.startswith("operator"):
        return route.allowed
    if credential.startswith("read-only"):
        return 403 if route.operates else route.allowed
    return 401


@pytest.fixture
def scoped(start_receiver) -> Receiver:
    """Two operator and two read-only tokens, as during a rotation of each (the space
    after a comma is allowed)."""
    return start_receiver(API_TOKEN=f"{OPERATOR}, {OPERATOR_NEXT}", API_READ_TOKEN=f"{READER},{READER_NEXT}")


def test_the_table_names_every_api_route(make_settings):
    # The OpenAPI document lists every route the app declares (none is left out of it).
    document = create_app(make_settings()).openapi()
    served = {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}
    assert {route for route in served if route[1].startswith("/api")} == {(r.method, r.template) for r in ROUTES}


@pytest.mark.parametrize("credential", sorted(CREDENTIALS))
@pytest.mark.parametrize("route", ROUTES, ids=lambda route: f"{route.method} {route.template}")
def test_each_token_on_each_route(scoped: Receiver, route: Route, credential: str):
    event_id = _seed(scoped, BASE)
    _finish(scoped, event_id, "permanent", "boom")
    queued = scoped.queued_job_ids()
    authorization = CREDENTIALS[credential]
    headers = {"Authorization": authorization} if authorization is not None else {}

    response = scoped.http.request(route.method, route.path(event_id), headers=headers)

    status = expected_status(route, credential)
    assert response.status_code == status, response.text
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
        assert "bearer token" in response.json()["error"]
    if status == 403:
        assert "operator token" in response.json()["error"]
    if status in (401, 403):
        # Refused: no token echoed back, nothing changed, nothing queued.
        assert OPERATOR not in response.text and READER not in response.text
        assert scoped.event(event_id)["status"] == "failed"
        assert scoped.queued_job_ids() == queued
    elif route.operates:
        assert scoped.event(event_id)["status"] == "pending"
        assert scoped.event(event_id)["job_id"] in scoped.queued_job_ids()
    elif "{event_id}" in route.template:
        assert response.json()["id"] == event_id


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: f"{route.method} {route.template}")
def test_without_any_token_configured_every_route_is_off(start_receiver, route: Route):
    receiver = start_receiver(API_TOKEN=None, API_READ_TOKEN=None)
    headers = {"Authorization": "Bearer x"}
    response = receiver.http.request(route.method, route.path("0000000000000abc"), headers=headers)
    assert response.status_code == 503
    assert "API_TOKEN" in response.json()["error"]


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: f"{route.method} {route.template}")
def test_read_tokens_alone_read_but_never_operate(start_receiver, route: Route):
    receiver = start_receiver(API_TOKEN=None, API_READ_TOKEN=READER)
    event_id = _seed(receiver, BASE)
    _finish(receiver, event_id, "permanent", "boom")
    response = receiver.http.request(route.method, route.path(event_id), headers={"Authorization": f"Bearer {READER}"})
    assert response.status_code == (403 if route.operates else route.allowed)


@pytest.mark.parametrize("token", ["op-", "op-1x", "read-1x", "OP-1", "read-3", ","])
def test_near_misses_of_a_token_are_refused(scoped: Receiver, token: str):
    response = scoped.http.get("/api/webhook-events", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
