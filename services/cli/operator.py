"""What the operator commands (`events`, `retry`) share: the store, filter options and
table output."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from services.core.events import STATUSES, Event, iso
from services.core.redis_client import sync_redis
from services.core.settings import load_settings
from services.core.store import MAX_PAGE, EventStore


def open_store() -> EventStore:
    settings = load_settings()
    return EventStore(sync_redis(settings), settings)


def timestamp(value: str) -> float:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO-8601 date or time, got {value!r}") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"include a time zone (e.g. 2026-11-29T10:00Z), got {value!r}")
    return parsed.timestamp()


def add_filters(parser: argparse.ArgumentParser, *, default_status: str | None, default_limit: int) -> None:
    parser.add_argument(
        "--status", choices=STATUSES, default=default_status, help=f"default: {default_status or 'any'}"
    )
    parser.add_argument("--type", help="notification type, e.g. payment")
    parser.add_argument("--since", type=timestamp, help="ISO-8601, inclusive")
    parser.add_argument("--until", type=timestamp, help="ISO-8601, inclusive")
    parser.add_argument("--limit", type=int, default=default_limit, help=f"at most this many (default {default_limit})")


def select(store: EventStore, args: argparse.Namespace) -> list[Event]:
    """Newest first, following cursors until --limit events are found."""
    events: list[Event] = []
    cursor = None
    while len(events) < args.limit:
        page = store.page(
            status=args.status,
            event_type=args.type,
            since=args.since,
            until=args.until,
            cursor=cursor,
            limit=min(MAX_PAGE, args.limit - len(events)),
        )
        events.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return events


COLUMNS = ("id", "type", "resource_id", "status", "attempts", "received_at", "last_error")


def _cell(event: Event, column: str) -> str:
    if column == "attempts":
        return f"{event.attempts}/{event.max_attempts}"
    if column == "received_at":
        return iso(event.received_at) or ""
    value = getattr(event, column)
    text = "" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def table(events: list[Event]) -> str:
    rows = [list(COLUMNS)] + [[_cell(event, column) for column in COLUMNS] for event in events]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False)
