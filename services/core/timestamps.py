"""Times as people and APIs write them: ISO-8601 with a zone, epoch seconds inside."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_instant(value: str) -> float:
    """Epoch seconds of an ISO-8601 date or time that names its zone; ValueError saying
    what is wrong otherwise (the API answers it as 400, the CLI as a usage error)."""
    try:
        # RFC 3339 (OpenAPI's date-time) allows a lower-case `t` and `z`.
        parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"expected an ISO-8601 date or time, got {value!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"include a time zone (e.g. 2026-11-29T10:00Z), got {value!r}")
    return parsed.timestamp()
