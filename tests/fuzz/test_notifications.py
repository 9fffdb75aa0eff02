"""Notification parsing (body, query), fuzzed: any request is a Notification or a
BadNotificationError saying why; what is parsed is what was sent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.core.events import Source
from services.receiver.notifications import BadNotificationError, Notification, parse

NAMES = ["type", "data.id", "topic", "id", "action", "live_mode", ""]
query = st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=8), st.text(max_size=20), max_size=5)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
)
payloads = st.fixed_dictionaries(
    {},
    optional={
        "type": scalars,
        "data": json_values | st.fixed_dictionaries({}, optional={"id": scalars}),
        "id": scalars,
        "action": scalars,
        "live_mode": scalars,
        "resource": scalars,
    },
)
bodies = (
    st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | payloads.map(lambda v: json.dumps(v).encode())
)


def _parse_or_refuse(query: dict[str, str], body: bytes, accept_ipn: bool) -> Notification | None:
    try:
        return parse(query, body, accept_ipn=accept_ipn)
    except BadNotificationError as error:
        assert str(error)
        return None


@given(query=query, body=bodies, accept_ipn=st.booleans())
def test_any_request_is_parsed_or_refused_with_a_reason(query: dict[str, str], body: bytes, accept_ipn: bool) -> None:
    notification = _parse_or_refuse(query, body, accept_ipn)
    if notification is not None:
        event = notification.event
        assert event.type.strip() and event.type == event.type.strip()
        assert event.resource_id.strip() and event.resource_id == event.resource_id.strip()
        assert notification.signed_format == (event.source == Source.WEBHOOK)
        assert accept_ipn or event.source == Source.WEBHOOK


blank = st.text(" \t\n", max_size=3)
words = st.text(st.characters(exclude_categories=["Cs", "Zs", "Cc"]), min_size=1, max_size=20)


@given(event_type=words, data_id=words | st.integers(0, 2**63), pad=blank, in_query=st.booleans())
def test_a_webhook_notification_keeps_its_type_and_resource(
    event_type: str, data_id: str | int, pad: str, in_query: bool
) -> None:
    body: dict[str, Any] = {"type": pad + event_type + pad, "data": {"id": data_id}}
    params = {"data.id": str(data_id), "type": event_type} if in_query else {}
    notification = parse(params, json.dumps(body).encode(), accept_ipn=False)
    assert notification.event.source == Source.WEBHOOK
    assert notification.event.type == event_type.strip()
    assert notification.event.resource_id == str(data_id).strip()
    assert notification.signed_data_id == notification.event.resource_id


@given(topic=words, resource_id=words)
def test_an_ipn_keeps_its_topic_and_resource_or_is_refused_when_off(topic: str, resource_id: str) -> None:
    params = {"topic": topic, "id": resource_id}
    notification = parse(params, b"", accept_ipn=True)
    assert (notification.event.source, notification.event.type, notification.event.resource_id) == (
        Source.IPN,
        topic.strip(),
        resource_id.strip(),
    )
    with pytest.raises(BadNotificationError, match="IPN"):
        parse(params, b"", accept_ipn=False)


@pytest.mark.parametrize(
    "body",
    [
        # Regressions: valid JSON that json.loads turns into ValueError / RecursionError
        # (a 500 before); both fit in the 64 KiB limit.
        b'{"type": "payment", "data": {"id": ' + b"9" * 5000 + b"}}",
        b"[" * 30_000 + b"]" * 30_000,
    ],
    ids=["integer-over-4300-digits", "nested-30000-deep"],
)
def test_json_python_cannot_hold_is_a_bad_notification(body: bytes) -> None:
    with pytest.raises(BadNotificationError, match="too deep or holds a number too long"):
        parse({}, body, accept_ipn=True)
