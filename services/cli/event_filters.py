"""What the operator commands (`events`, `retry`) share to select events: the store,
the filter options and following the pages of a selection."""

from __future__ import annotations

import argparse

from services.core.events import Event, EventStatus
from services.core.redis_client import checked_settings, sync_redis
from services.core.store import EventCalls, EventStore
from services.core.store.model import MAX_PAGE, EventQuery
from services.core.timestamps import parse_instant

from .arguments import positive_int


def open_store() -> EventStore:
    settings = checked_settings()
    return EventStore(sync_redis(settings), EventCalls(settings))


def instant(value: str) -> float:
    try:
        return parse_instant(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_filters(parser: argparse.ArgumentParser, *, default_status: EventStatus | None, default_limit: int) -> None:
    parser.add_argument(
        "--status",
        type=EventStatus,
        choices=list(EventStatus),
        default=default_status,
        help=f"default: {default_status or 'any'}",
    )
    parser.add_argument("--type", help="notification type, e.g. payment")
    parser.add_argument("--since", type=instant, help="ISO-8601, inclusive")
    parser.add_argument("--until", type=instant, help="ISO-8601, inclusive")
    parser.add_argument(
        "--limit", type=positive_int, default=default_limit, help=f"at most this many (default {default_limit})"
    )


def select(store: EventStore, args: argparse.Namespace) -> list[Event]:
    """Newest first, following cursors until --limit events are found."""
    events: list[Event] = []
    cursor = None
    while len(events) < args.limit:
        query = EventQuery(
            status=args.status,
            type=args.type,
            since=args.since,
            until=args.until,
            cursor=cursor,
            limit=min(MAX_PAGE, args.limit - len(events)),
        )
        page = store.page(query)
        events.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return events
