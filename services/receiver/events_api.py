"""/api/webhook-events: what operators and tools read and retry."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from services.core.auth import Scope
from services.core.events import EventStatus
from services.core.store.model import EventQuery, Requester, RequeueMode, RequeueResult

from .api_auth import AUTH_RESPONSES, require
from .params import PageCursor, PageSize, instant, instant_query
from .state import receiver_state

router = APIRouter(
    prefix="/api/webhook-events",
    tags=["events"],
    dependencies=[Depends(require(Scope.READ))],
    responses=AUTH_RESPONSES,
)


@router.get("", summary="List events, newest first", responses={400: {"description": "Bad filter value."}})
async def list_events(
    request: Request,
    status: Annotated[EventStatus | None, Query(description="the events' status")] = None,
    type: Annotated[str | None, Query(description="notification type, e.g. payment")] = None,
    since: Annotated[str | None, instant_query("inclusive lower bound")] = None,
    until: Annotated[str | None, instant_query("inclusive upper bound")] = None,
    limit: PageSize = 50,
    cursor: PageCursor = None,
) -> dict[str, Any]:
    query = EventQuery(
        status=status,
        type=type,
        since=instant(since, "since"),
        until=instant(until, "until"),
        cursor=cursor,
        limit=limit,
    )
    page = await receiver_state(request).store.page(query)
    return {"items": [event.to_api(with_history=False) for event in page.items], "next_cursor": page.next_cursor}


@router.get("/stats", summary="Counts by status and by type, and the upstreams' breakers")
async def event_stats(request: Request) -> dict[str, Any]:
    return (await receiver_state(request).store.stats()).to_api()


@router.get(
    "/{event_id}", summary="One event with its attempt history", responses={404: {"description": "No such event."}}
)
async def get_event(request: Request, event_id: str) -> dict[str, Any]:
    event = await receiver_state(request).store.get(event_id)
    if event is None:
        raise HTTPException(404, f"no event {event_id}")
    return event.to_api()


@router.post(
    "/{event_id}/retry",
    summary="Queue an event now, with a fresh retry budget",
    status_code=202,
    dependencies=[Depends(require(Scope.OPERATE))],
    responses={
        403: {"description": "A read-only token (API_READ_TOKEN)."},
        404: {"description": "No such event."},
        409: {"description": "The event is being processed right now."},
    },
)
async def retry_event(request: Request, event_id: str) -> JSONResponse:
    requeued = await receiver_state(request).store.requeue(event_id, RequeueMode.MANUAL, Requester.API)
    if requeued == RequeueResult.MISSING:
        raise HTTPException(404, f"no event {event_id}")
    if requeued == RequeueResult.PROCESSING:
        raise HTTPException(409, f"event {event_id} is being processed; retry it once that attempt ends")
    return JSONResponse({"status": "queued", "event_id": event_id}, status_code=202)
