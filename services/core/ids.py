"""Event ids: time-ordered, so the Redis indexes can page by id alone.

An id is 13 hex digits of milliseconds since the epoch followed by 10 random hex digits
(like a ULID, but readable in `redis-cli`). Lexicographic order is time order until the
year 10889, which is what cursor pagination relies on.
"""

from __future__ import annotations

import secrets
import time

_TIME_DIGITS = 13


def new_event_id(now: float | None = None) -> str:
    millis = int((time.time() if now is None else now) * 1000)
    return f"{millis:0{_TIME_DIGITS}x}{secrets.token_hex(5)}"


def id_floor(timestamp: float) -> str:
    """The smallest id that can be created at or after `timestamp` (for since/until)."""
    # Whole microseconds first: a float like `until + 0.001` times 1000 can land just
    # below the millisecond it means (…780123.9999), and truncating it would drop the
    # events of that millisecond from an inclusive `until`.
    return f"{round(timestamp * 1_000_000) // 1000:0{_TIME_DIGITS}x}"
