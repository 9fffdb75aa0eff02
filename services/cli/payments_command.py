"""`mp-webhooks payments list|show [--json]`: the stored payment states, read through
the same store methods as /api/payments."""

from __future__ import annotations

import argparse
from typing import Any

from services.core.store.model import MAX_PAGE, PaymentQuery

from .event_filters import instant, open_store
from .tables import dump, rows_table

COLUMNS = ("id", "status", "amount", "currency", "payer_email", "contact_id", "date_last_updated")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="payments, latest update first")
    listing.add_argument("--status", help="Mercado Pago's status, e.g. approved")
    listing.add_argument("--since", type=instant, help="date_last_updated from, ISO-8601, inclusive")
    listing.add_argument("--until", type=instant, help="date_last_updated to, ISO-8601, inclusive")
    listing.add_argument("--limit", type=int, default=50, help=f"at most this many (default 50, max {MAX_PAGE})")
    show = actions.add_parser("show", help="one payment with its tags and the events that touched it")
    show.add_argument("payment_id")
    for action in (listing, show):
        action.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    store = open_store()
    if args.action == "list":
        query = PaymentQuery(status=args.status, since=args.since, until=args.until, limit=min(args.limit, MAX_PAGE))
        payments = [p.to_api(with_events=False) for p in store.payments_page(query).items]
        print(dump(payments) if args.json else rows_table(COLUMNS, [[_cell(p[c]) for c in COLUMNS] for p in payments]))
        return 0
    payment = store.payment(args.payment_id)
    if payment is None:
        print(f"no payment {args.payment_id}")
        return 1
    body = payment.to_api()
    print(dump(body) if args.json else _details(body))
    return 0


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _details(payment: dict[str, Any]) -> str:
    lines = [f"{key:>18}: {_cell(value)}" for key, value in payment.items() if key not in ("tags_applied", "event_ids")]
    lines.append("      tags applied:")
    lines += [f"  {t['at']} {t['status']}: {', '.join(t['tags'])}" for t in payment["tags_applied"]]
    lines.append("            events: " + (", ".join(payment["event_ids"]) or "none"))
    return "\n".join(lines)
