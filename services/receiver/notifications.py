"""Turns an HTTP request into a `NewEvent`: the Webhooks format (JSON body, `data.id`
and `type` possibly in the query) or the legacy IPN format (`?topic=...&id=...`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.core.events import NewEvent, Source

MAX_BODY_BYTES = 64 * 1024


class BadNotificationError(Exception):
    """The request is not a notification we can store; the message says why."""


@dataclass(frozen=True)
class Notification:
    event: NewEvent
    # IPN requests cannot be signed; Webhooks-format ones must be when a secret is set.
    signed_format: bool
    # The `data.id` Mercado Pago put in the signature manifest: the query's, else the body's.
    signed_data_id: str | None


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _resource_from_url(url: str | None) -> str | None:
    # IPN bodies carry e.g. {"resource": "https://api.mercadolibre.com/merchant_orders/123"}.
    return url.rstrip("/").rsplit("/", 1)[-1] if url else None


def _json_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        parsed = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadNotificationError("body is not valid JSON") from None
    except (ValueError, RecursionError):
        # Valid JSON Python refuses to hold: an integer over its 4300-digit limit, or
        # nesting deeper than the interpreter's recursion limit (both fit in 64 KiB).
        raise BadNotificationError("body nests too deep or holds a number too long to read") from None
    if not isinstance(parsed, dict):
        raise BadNotificationError("body must be a JSON object")
    return parsed


def parse(query: Mapping[str, str], body: bytes, *, accept_ipn: bool) -> Notification:
    payload = _json_body(body)
    if "topic" in query and "type" not in query and "type" not in payload:
        return _parse_ipn(query, payload, accept_ipn=accept_ipn)
    data = payload.get("data")
    body_data_id = _text(data.get("id")) if isinstance(data, dict) else None
    query_data_id = _text(query.get("data.id"))
    event_type = _text(query.get("type")) or _text(payload.get("type"))
    resource_id = query_data_id or body_data_id
    if not event_type:
        raise BadNotificationError("no notification type: expected `type` in the body or the query")
    if not resource_id:
        raise BadNotificationError("no resource id: expected `data.id` in the body or the query")
    live_mode = payload.get("live_mode")
    event = NewEvent(
        source=Source.WEBHOOK,
        type=event_type,
        resource_id=resource_id,
        webhook_id=_text(payload.get("id")),
        action=_text(payload.get("action")),
        live_mode=live_mode if isinstance(live_mode, bool) else None,
        payload=payload or {"query": dict(query)},
    )
    return Notification(event, signed_format=True, signed_data_id=resource_id)


def _parse_ipn(query: Mapping[str, str], payload: dict[str, Any], *, accept_ipn: bool) -> Notification:
    if not accept_ipn:
        raise BadNotificationError("IPN notifications are not accepted here (MP_ACCEPT_IPN=false)")
    topic = _text(query.get("topic"))
    resource_id = _text(query.get("id")) or _resource_from_url(_text(payload.get("resource")))
    if not topic:
        raise BadNotificationError("IPN without a topic")
    if not resource_id:
        raise BadNotificationError("no resource id: expected `id` in the query")
    event = NewEvent(
        source=Source.IPN,
        type=topic,
        resource_id=resource_id,
        payload={"query": dict(query), **({"body": payload} if payload else {})},
    )
    return Notification(event, signed_format=False, signed_data_id=None)
