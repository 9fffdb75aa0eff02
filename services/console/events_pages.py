"""The events pages: the list with its counts, filters and retry controls, one event's
detail, and retrying (the selected events, or every failed one matching a filter)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from services.core.auth import Scope
from services.core.events import Event, EventStatus
from services.core.store.model import MAX_PAGE, EventQuery, Requester, RequeueMode, RequeueResult

from . import filters as filtering
from .guard import posted, signed_in
from .metrics import RETRIES
from .pages import not_found, safe_back
from .sessions import Flash, Session, with_flash
from .state import console_state
from .views import render, set_session

log = logging.getLogger("mpwh.console")
router = APIRouter(prefix="/console/events")

PAGE_SIZE = 50
# The most one "retry all failed matching" click queues; the confirmation says so.
RETRY_ALL_LIMIT = 1000
# Per-event results kept in the flash, at most this many and this many characters of
# JSON: the flash travels in the session cookie, which a browser drops whole past 4096
# bytes (the retry done, its answer lost). Fifty event ids fit; ids from a forged form
# may not.
FLASH_ITEMS = 50
FLASH_ITEMS_CHARS = 2400
SAID = {
    RequeueResult.QUEUED: "queued",
    RequeueResult.PROCESSING: "already running",
    RequeueResult.MISSING: "unknown",
    RequeueResult.CHANGED: "changed",
}


def _query(filters: filtering.Filters, **changes: Any) -> EventQuery:
    base = EventQuery(
        status=EventStatus(filters.status) if filters.status else None,
        type=filters.type,
        since=filters.since,
        until=filters.until,
        cursor=filters.cursor,
        limit=PAGE_SIZE,
    )
    return replace(base, **changes)


@router.get("", name="events")
async def events_list(request: Request) -> Response:
    session = signed_in(request)
    store = console_state(request).store
    filters = filtering.parse(request.query_params, filtering.EVENT_STATUSES)
    stats = await store.stats()
    if filters.q:
        # An event id, else the events of a resource (a payment id is one): both direct lookups.
        found = await store.get(filters.q)
        if found is not None:
            items, next_cursor, total = [found], None, 1
        else:
            page = await store.page(_query(filters, resource_id=filters.q, limit=MAX_PAGE))
            items = [e for e in page.items if _matches(e, filters)]
            next_cursor, total = None, len(items)
    else:
        page = await store.page(_query(filters))
        items, next_cursor, total = page.items, page.next_cursor, page.total
    failed_matching = 0
    if session.may_retry and not filters.q:
        if filters.status == EventStatus.FAILED:
            failed_matching = total  # a page's total counts its whole selection, whatever the cursor
        elif filters.status is None:
            failed_matching = (await store.page(_query(filters, status=EventStatus.FAILED, cursor=None, limit=1))).total
    return render(
        request,
        "events.html",
        session,
        status=400 if filters.errors else 200,
        filters=filters,
        stats=stats,
        statuses=list(EventStatus),
        types=sorted(stats.by_type),
        events=items,
        total=total,
        next_cursor=next_cursor,
        failed_matching=failed_matching,
        retry_all_limit=RETRY_ALL_LIMIT,
        pipeline=await store.pipeline(),
    )


def _matches(event: Event, filters: filtering.Filters) -> bool:
    return (
        (filters.status is None or event.status == filters.status)
        and (filters.type is None or event.type == filters.type)
        and (filters.since is None or event.received_at >= filters.since)
        and (filters.until is None or event.received_at <= filters.until)
    )


@router.get("/{event_id}", name="event")
async def event_detail(request: Request, event_id: str) -> Response:
    session = signed_in(request)
    event = await console_state(request).store.get(event_id)
    if event is None:
        return not_found(request, session, f"No event {event_id}.", "/console/events", "Back to the events")
    return render(request, "event.html", session, event=event, view=event.to_api())


@router.post("/retry", name="retry")
async def retry_selected(request: Request) -> Response:
    session, form = await posted(request, Scope.OPERATE)
    back = safe_back(form.first("back"), "/console/events")
    ids = list(dict.fromkeys(i for i in form.all("event_id") if i))
    if not ids:
        flash = Flash("Nothing selected: tick the events to retry first.", error=True)
        return _back(request, session, flash, back)
    if form.first("confirmed") != "yes":
        return render(request, "confirm.html", session, ids=ids, back=back, action="/console/events/retry")
    results = [(event_id, await _retry(request, event_id)) for event_id in ids]
    return _back(request, session, _summary(f"Retry of {len(ids)} selected event(s)", results), back)


@router.post("/retry-matching", name="retry_matching")
async def retry_matching(request: Request) -> Response:
    """Every failed event matching the list's filter (type, since, until), newest first,
    up to RETRY_ALL_LIMIT."""
    session, form = await posted(request, Scope.OPERATE)
    filters = filtering.parse({name: form.first(name) for name in ("type", "since", "until")}, None)
    back = safe_back(form.first("back"), "/console/events")
    store = console_state(request).store
    query = _query(filters, status=EventStatus.FAILED, cursor=None, limit=MAX_PAGE)
    if form.first("confirmed") != "yes":
        count = (await store.page(_query(filters, status=EventStatus.FAILED, cursor=None, limit=1))).total
        return render(
            request, "confirm.html", session, ids=[], count=count, filters=filters, back=back, limit=RETRY_ALL_LIMIT,
            action="/console/events/retry-matching",
        )  # fmt: skip
    results: list[tuple[str, str]] = []
    while len(results) < RETRY_ALL_LIMIT:
        page = await store.page(query)
        for event in page.items[: RETRY_ALL_LIMIT - len(results)]:
            results.append((event.id, await _retry(request, event.id)))
        if page.next_cursor is None:
            break
        query = _query(filters, status=EventStatus.FAILED, cursor=page.next_cursor, limit=MAX_PAGE)
    return _back(request, session, _summary("Retry of all failed events matching the filter", results), back)


async def _retry(request: Request, event_id: str) -> str:
    result = await console_state(request).store.requeue(event_id, RequeueMode.MANUAL, Requester.CONSOLE)
    said = SAID[result]
    RETRIES.labels(said.replace(" ", "_")).inc()
    log.info("console retry of event %s: %s", event_id, said)
    return said


def _summary(what: str, results: list[tuple[str, str]]) -> Flash:
    counts: dict[str, int] = {}
    for _, said in results:
        counts[said] = counts.get(said, 0) + 1
    text = f"{what}: " + (", ".join(f"{n} {said}" for said, n in counts.items()) or "no events matched") + "."
    shown: list[tuple[str, str]] = []
    size = 0
    for item in results[:FLASH_ITEMS]:
        size += len(json.dumps(item))
        if size > FLASH_ITEMS_CHARS:
            break
        shown.append(item)
    return Flash(text, tuple(shown), error="queued" not in counts and bool(results))


def _back(request: Request, session: Session, flash: Flash, back: str) -> Response:
    response = RedirectResponse(back, status_code=303)
    set_session(response, request, with_flash(session, flash))
    return response
