"""`mp-webhooks retry`: what operators run (`kubectl exec deploy/<release>-worker --
mp-webhooks retry ...`) to queue events again, with a fresh retry budget and their
history kept."""

from __future__ import annotations

import argparse
import sys

from services.core.events import Event, EventStatus
from services.core.store.model import Requester, RequeueMode, RequeueResult

from .event_filters import add_filters, open_store, select
from .tables import table

CONFIRM_ABOVE = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--id", action="append", dest="ids", default=[], help="an event id (repeatable); overrides the filters"
    )
    add_filters(parser, default_status=EventStatus.FAILED, default_limit=100)
    parser.add_argument("--dry-run", action="store_true", help="print what would be retried, change nothing")
    parser.add_argument("--yes", action="store_true", help=f"do not ask for confirmation above {CONFIRM_ABOVE} events")


def run(args: argparse.Namespace) -> int:
    store = open_store()
    unknown: list[str] = []
    if args.ids:
        events: list[Event] = []
        for event_id in args.ids:
            event = store.get(event_id)
            if event is None:
                unknown.append(event_id)
            else:
                events.append(event)
    else:
        events = select(store, args)
    for event_id in unknown:
        print(f"unknown event id: {event_id}")
    print(f"selected {len(events)} event(s)" + (" (dry run: nothing changes)" if args.dry_run else ""))
    if events:
        print(table(events))
    if args.dry_run or not events:
        return 0
    if len(events) > CONFIRM_ABOVE and not args.yes:
        if not sys.stdin.isatty():
            print(f"more than {CONFIRM_ABOVE} events: pass --yes to retry them without a terminal to confirm on")
            return 1
        answer = input(f"Retry these {len(events)} events now? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing retried")
            return 1
    queued = 0
    for event in events:
        requeued = store.requeue(event.id, RequeueMode.MANUAL, requested_by=Requester.CLI)
        if requeued == RequeueResult.QUEUED:
            queued += 1
        else:
            print(f"{event.id}: not retried ({requeued})")
    print(f"queued {queued}, skipped {len(events) - queued}, unknown {len(unknown)}")
    return 0
