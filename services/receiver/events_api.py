"""/api/webhook-events: what operators and the CLI read (bearer tokens: SPEC "Tokens and scopes")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from services.core.auth import Scope
from services.core.events import EventStatus
from services.core.store.model import MAX_PAGE, EventQuery, RequeueMode, RequeueResult
from services.core.timestamps import parse_instant

from .state import receiver_state


def _presented_token(request: Request) -> str:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" else ""


def require(needed: Scope) -> Callable[[Request], None]:
    """A dependency: 401 without a valid token, 403 for a token without `needed`, 503
    when no token is configured at all (the API is then off, and says how to turn it on)."""

    def check(request: Request) -> None:
        tokens = receiver_state(request).settings.tokens
        if not tokens.configured:
            raise HTTPException(503, "the events API is disabled: set API_TOKEN (or API_READ_TOKEN) to enable it")
        allowed = tokens.allows(_presented_token(request), needed)
        if allowed is None:
            raise HTTPException(401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
        if not allowed:
            raise HTTPException(403, "this token may only read; retrying needs an operator token (API_TOKEN)")

    return check


_AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid bearer token."},
    503: {"description": "Neither API_TOKEN nor API_READ_TOKEN is set, or Redis is unavailable."},
}
router = APIRouter(
    prefix="/api/webhook-events",
    tags=["events"],
    dependencies=[Depends(require(Scope.READ))],
    responses=_AUTH_RESPONSES,
)


def _INSTANT(bound: str) -> Any:  # noqa: N802 - reads as the type annotation it builds
    # The document says date-time (RFC 3339, what parse_instant reads) so clients built
    # from it send what is accepted; other ISO-8601 forms with a zone work too.
    return Query(description=f"ISO-8601 with a zone, {bound}", json_schema_extra={"format": "date-time"})


def _instant(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError as error:
        raise HTTPException(400, f"{name}: {error}") from None


@router.get("", summary="List events, newest first", responses={400: {"description": "Bad filter value."}})
async def list_events(
    request: Request,
    status: Annotated[EventStatus | None, Query(description="the events' status")] = None,
    type: Annotated[str | None, Query(description="notification type, e.g. payment")] = None,
    since: Annotated[str | None, _INSTANT("inclusive lower bound")] = None,
    until: Annotated[str | None, _INSTANT("inclusive upper bound")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="page size")] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    query = EventQuery(
        status=status,
        type=type,
        since=_instant(since, "since"),
        until=_instant(until, "until"),
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
    requeued = await receiver_state(request).store.requeue(event_id, RequeueMode.MANUAL)
    if requeued == RequeueResult.MISSING:
        raise HTTPException(404, f"no event {event_id}")
    if requeued == RequeueResult.PROCESSING:
        raise HTTPException(409, f"event {event_id} is being processed; retry it once that attempt ends")
    return JSONResponse({"status": "queued", "event_id": event_id}, status_code=202)
