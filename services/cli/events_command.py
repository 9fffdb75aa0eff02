"""`mp-webhooks events list|show|stats [--json]`."""

from __future__ import annotations

import argparse
from typing import Any

from .event_filters import add_filters, open_store, select
from .tables import dump, table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="events, newest first")
    add_filters(listing, default_status=None, default_limit=50)
    show = actions.add_parser("show", help="one event with its attempt history")
    show.add_argument("event_id")
    actions.add_parser("stats", help="counts by status and by type, and the upstreams' breakers")
    for action in (listing, show, actions.choices["stats"]):
        action.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    store = open_store()
    if args.action == "list":
        events = select(store, args)
        print(dump([e.to_api(with_history=False) for e in events]) if args.json else table(events))
        return 0
    if args.action == "show":
        event = store.get(args.event_id)
        if event is None:
            print(f"no event {args.event_id}")
            return 1
        print(dump(event.to_api()) if args.json else _details(event.to_api()))
        return 0
    stats = store.stats()
    if args.json:
        print(dump(stats.to_api()))
    else:
        print("by status: " + ", ".join(f"{k} {v}" for k, v in stats.by_status.items()))
        print("by type:   " + (", ".join(f"{k} {v}" for k, v in stats.by_type.items()) or "none yet"))
        print("breakers:  " + ", ".join(f"{k} {v.describe()}" for k, v in stats.breakers.items()))
    return 0


def _details(event: dict[str, Any]) -> str:
    lines = [f"{key:>14}: {value}" for key, value in event.items() if key not in ("history", "payload")]
    lines.append("       history:")
    for entry in event["history"] or []:
        end = entry["end"] or f"(running, alive at {entry['alive_at']})"
        outcome = entry["outcome"] or ""
        if outcome == "abandoned":
            outcome += f" (last alive at {entry['alive_at']})"
        lines.append(
            f"  #{entry['attempt']} {entry['start']} -> {end} {outcome}"
            f" on {entry['worker']}" + (f": {entry['error']}" if entry["error"] else "")
        )
    return "\n".join(lines)
