"""The pages' filters from their query parameters. A bad value is dropped and named; the
rest of the filter still applies (the page says which one was ignored and why)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from services.core.events import EventStatus
from services.core.timestamps import parse_instant

REFRESH_CHOICES = ("off", "5", "30")
PAYMENT_STATUSES = (
    "approved",
    "authorized",
    "pending",
    "in_process",
    "in_mediation",
    "rejected",
    "cancelled",
    "refunded",
    "charged_back",
)


@dataclass
class Filters:
    status: str | None = None
    type: str | None = None
    since: float | None = None
    until: float | None = None
    q: str | None = None
    cursor: str | None = None
    refresh: str = "off"
    # As typed, to show them back in the form.
    raw: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def params(self, **changes: str | None) -> dict[str, str | None]:
        """The filter as query parameters (without the cursor), with `changes`."""
        kept = {name: self.raw.get(name) for name in ("status", "type", "since", "until", "q")}
        if self.refresh != "off":
            kept["refresh"] = self.refresh
        return kept | changes


def _instant(value: str) -> float:
    """ISO-8601; a time without a zone is read as UTC, which the form's labels say."""
    try:
        return parse_instant(value)
    except ValueError:
        return parse_instant(value + "Z")


def parse(query: Mapping[str, str], statuses: tuple[str, ...] | None) -> Filters:
    """`statuses`: the values `status` may take (None: any non-empty text)."""
    raw = {name: query.get(name, "").strip() for name in ("status", "type", "since", "until", "q", "cursor")}
    filters = Filters(raw={name: value for name, value in raw.items() if value})
    if raw["status"]:
        if statuses is None or raw["status"] in statuses:
            filters.status = raw["status"]
        else:
            filters.errors.append(f"status: {raw['status']!r} is not one of {', '.join(statuses)}; ignored")
            del filters.raw["status"]
    for name in ("since", "until"):
        if raw[name]:
            try:
                setattr(filters, name, _instant(raw[name]))
            except ValueError:
                filters.errors.append(
                    f"{name}: {raw[name]!r} is not a date or time (e.g. 2026-11-29 or 2026-11-29T10:00Z); ignored"
                )
                del filters.raw[name]
    filters.type = raw["type"] or None
    filters.q = raw["q"] or None
    filters.cursor = raw["cursor"] or None
    refresh = query.get("refresh", "off")
    if refresh in REFRESH_CHOICES:
        filters.refresh = refresh
    else:
        filters.errors.append(f"refresh: {refresh!r} is not one of off, 5, 30; ignored")
    return filters


EVENT_STATUSES = tuple(EventStatus)
