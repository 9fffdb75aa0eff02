"""/api/webhook-events: what operators and the CLI read (bearer API_TOKEN)."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from services.core.events import STATUSES
from services.core.store import MAX_PAGE


def require_token(request: Request) -> None:
    token = request.app.state.settings.api_token
    if not token:
        raise HTTPException(503, "the events API is disabled: set API_TOKEN to enable it")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise HTTPException(401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"})


_AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid bearer token."},
    503: {"description": "API_TOKEN is not set, or Redis is unavailable."},
}
router = APIRouter(
    prefix="/api/webhook-events", tags=["events"], dependencies=[Depends(require_token)], responses=_AUTH_RESPONSES
)


def _timestamp(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(400, f"{name}: expected an ISO-8601 date or time, got {value!r}") from None
    if parsed.tzinfo is None:
        raise HTTPException(400, f"{name}: include a time zone (e.g. Z), got {value!r}")
    return parsed.timestamp()


@router.get("", summary="List events, newest first", responses={400: {"description": "Bad filter value."}})
async def list_events(
    request: Request,
    status: Annotated[str | None, Query(description=f"one of {', '.join(STATUSES)}")] = None,
    type: Annotated[str | None, Query(description="notification type, e.g. payment")] = None,
    since: Annotated[str | None, Query(description="ISO-8601, inclusive")] = None,
    until: Annotated[str | None, Query(description="ISO-8601, inclusive")] = None,
    limit: Annotated[int, Query(ge=1, description=f"page size, capped at {MAX_PAGE}")] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    if status is not None and status not in STATUSES:
        raise HTTPException(400, f"status: expected one of {', '.join(STATUSES)}, got {status!r}")
    page = await request.app.state.store.page(
        status=status,
        event_type=type,
        since=_timestamp(since, "since"),
        until=_timestamp(until, "until"),
        cursor=cursor,
        limit=min(limit, MAX_PAGE),
    )
    return {"items": [event.to_api(with_history=False) for event in page.items], "next_cursor": page.next_cursor}


@router.get("/stats", summary="Counts by status and by type")
async def event_stats(request: Request) -> dict[str, Any]:
    return await request.app.state.store.stats()


@router.get(
    "/{event_id}", summary="One event with its attempt history", responses={404: {"description": "No such event."}}
)
async def get_event(request: Request, event_id: str) -> dict[str, Any]:
    event = await request.app.state.store.get(event_id)
    if event is None:
        raise HTTPException(404, f"no event {event_id}")
    return event.to_api()


@router.post(
    "/{event_id}/retry",
    summary="Queue an event now, with a fresh retry budget",
    status_code=202,
    responses={404: {"description": "No such event."}, 409: {"description": "The event is being processed right now."}},
)
async def retry_event(request: Request, event_id: str) -> JSONResponse:
    verdict = await request.app.state.store.requeue(event_id, mode="manual")
    if verdict == "missing":
        raise HTTPException(404, f"no event {event_id}")
    if verdict == "processing":
        raise HTTPException(409, f"event {event_id} is being processed; retry it once that attempt ends")
    return JSONResponse({"status": "queued", "event_id": event_id}, status_code=202)
