"""How the operator commands print events: an aligned table, or JSON.

Tables (and send-test's progress line) are written here rather than with a library
(rich, tabulate, tqdm): operators read them through `kubectl exec` without a terminal
and pipe them to grep, where plain aligned columns with whole ids are what works, and a
library would add dependencies to the image every component runs for a dozen lines."""

from __future__ import annotations

import json
from typing import Any

from services.core.events import Event
from services.core.timestamps import iso

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
    return rows_table(COLUMNS, [[_cell(event, column) for column in COLUMNS] for event in events])


def rows_table(columns: tuple[str, ...], cells: list[list[str]]) -> str:
    rows = [list(columns), *cells]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = ("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)


def dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False)
