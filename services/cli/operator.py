"""What the operator commands (`events`, `retry`) share: the store, filter options and
table output.

Tables and the progress line are written here rather than with a library (rich,
tabulate, tqdm): operators read them through `kubectl exec` without a terminal and pipe
them to grep, where plain aligned columns with whole ids are what works, and a library
would add dependencies to the image every component runs for a dozen lines."""

from __future__ import annotations

import argparse
import json
from typing import Any

from services.core.events import Event, EventStatus
from services.core.redis_client import sync_redis
from services.core.settings import load_settings
from services.core.store import EventCalls, EventStore
from services.core.store.model import MAX_PAGE, EventQuery
from services.core.timestamps import iso, parse_instant


def open_store() -> EventStore:
    settings = load_settings()
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
    parser.add_argument("--limit", type=int, default=default_limit, help=f"at most this many (default {default_limit})")


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


COLUMNS = ("id", "type", "resource_id", "status", "attempts", "received_at", "last_error")
MAX_CELL = 60


def _cell(event: Event, column: str) -> str:
    if column == "attempts":
        return f"{event.attempts}/{event.max_attempts}"
    if column == "received_at":
        return iso(event.received_at) or ""
    value = getattr(event, column)
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 3] + "..."


def table(events: list[Event]) -> str:
    rows = [list(COLUMNS)] + [[_cell(event, column) for column in COLUMNS] for event in events]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)


def dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False)
