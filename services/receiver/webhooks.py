"""POST /webhooks/mp: store and queue, then answer. Never 200 without a stored event."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from services.core.events import metric_type
from services.core.store.model import ReceiptStatus

from . import notifications
from .metrics import RECEIVE_DURATION, WEBHOOKS_RECEIVED
from .signature import SignatureError
from .state import receiver_state

log = logging.getLogger("mpwh.receiver")
router = APIRouter()


def _documented(description: str, example: dict[str, str]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"example": example}}}


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _documented(
        "Stored and queued (`received`), or a repeat of a stored notification (`already_received`).",
        {"status": "received", "event_id": "18c1f2a3b4c5d1a2b3c4d5e"},
    ),
    400: _documented("Malformed body, unknown format or no resource id.", {"error": "body is not valid JSON"}),
    401: _documented("Missing or invalid `x-signature`.", {"error": "x-signature does not match"}),
    413: _documented("Body larger than 64 KiB.", {"error": "body larger than 65536 bytes"}),
    503: _documented(
        "Storage unavailable: nothing was stored; Mercado Pago will retry.",
        {"error": "storage unavailable, retry later"},
    ),
}
# What parse() needs, spelled in JSON Schema so a request valid by the document is
# accepted: a `type` and a `data.id` that are not blank.
_NOT_BLANK = {"type": "string", "pattern": r"\S"}
_NOTIFICATION_SCHEMA = {
    "requestBody": {
        "description": (
            "A Mercado Pago notification in the Webhooks format. The legacy IPN format posts"
            " `?topic=payment&id=123` with an empty body instead; a request with neither is answered 400."
        ),
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["type", "data"],
                    "properties": {
                        "id": {"type": ["integer", "string"]},
                        "type": _NOT_BLANK,
                        "action": {"type": "string"},
                        "live_mode": {"type": "boolean"},
                        "date_created": {"type": "string"},
                        "user_id": {"type": ["integer", "string"]},
                        "data": {
                            "type": "object",
                            "required": ["id"],
                            "properties": {"id": {"anyOf": [{"type": "integer"}, _NOT_BLANK]}},
                        },
                    },
                },
                "example": {
                    "id": 12345,
                    "type": "payment",
                    "action": "payment.updated",
                    "live_mode": True,
                    "data": {"id": "999"},
                },
            }
        },
    },
    "parameters": [
        {"name": "data.id", "in": "query", "required": False, "schema": {"type": "string"}},
        {"name": "type", "in": "query", "required": False, "schema": {"type": "string"}},
        {"name": "topic", "in": "query", "required": False, "schema": {"type": "string"}, "description": "IPN format"},
        {"name": "id", "in": "query", "required": False, "schema": {"type": "string"}, "description": "IPN format"},
        {"name": "x-signature", "in": "header", "required": False, "schema": {"type": "string"}},
        {"name": "x-request-id", "in": "header", "required": False, "schema": {"type": "string"}},
    ],
}


class _TooLargeError(Exception):
    pass


async def _read_body(request: Request) -> bytes:
    """Reads at most MAX_BODY_BYTES, without trusting Content-Length alone."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > notifications.MAX_BODY_BYTES:
        raise _TooLargeError
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > notifications.MAX_BODY_BYTES:
            raise _TooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(status_code: int, body: dict[str, str], event_type: str, outcome: str, started: float) -> JSONResponse:
    WEBHOOKS_RECEIVED.labels(event_type, outcome).inc()
    RECEIVE_DURATION.observe(time.perf_counter() - started)
    return JSONResponse(body, status_code=status_code)


@router.post(
    "/webhooks/mp",
    summary="Receive a Mercado Pago notification",
    responses=_RESPONSES,
    openapi_extra=_NOTIFICATION_SCHEMA,
    tags=["webhooks"],
)
async def receive_notification(request: Request) -> JSONResponse:
    started = time.perf_counter()
    state = receiver_state(request)
    try:
        body = await _read_body(request)
    except _TooLargeError:
        return _answer(
            413, {"error": f"body larger than {notifications.MAX_BODY_BYTES} bytes"}, "unknown", "too_large", started
        )
    try:
        notification = notifications.parse(request.query_params, body, accept_ipn=state.settings.mp_accept_ipn)
    except notifications.BadNotificationError as error:
        return _answer(400, {"error": str(error)}, "unknown", "bad_request", started)

    event = notification.event
    label = metric_type(event.type)
    if notification.signed_format and state.verifier is not None:
        try:
            state.verifier.verify(
                request.headers.get("x-signature"),
                request.headers.get("x-request-id"),
                notification.signed_data_id,
                time.time(),
            )
        except SignatureError as error:
            log.warning(
                "signature refused", extra={"reason": str(error), "type": event.type, "resource_id": event.resource_id}
            )
            return _answer(401, {"error": str(error)}, label, "invalid_signature", started)

    try:
        receipt = await state.store.receive(event)
    except RedisError as error:
        log.error(
            "storage unavailable", extra={"error": repr(error), "type": event.type, "resource_id": event.resource_id}
        )
        return _answer(503, {"error": "storage unavailable, retry later"}, label, "unavailable", started)

    outcome = "received" if receipt.status == ReceiptStatus.RECEIVED else "duplicate"
    log.info(
        f"notification {receipt.status}",
        extra={
            "event_id": receipt.event_id,
            "type": event.type,
            "resource_id": event.resource_id,
            "source": event.source,
        },
    )
    return _answer(200, {"status": receipt.status, "event_id": receipt.event_id}, label, outcome, started)
