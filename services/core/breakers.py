"""An upstream breaker's state as operators see it (SPEC "Upstream outages"). The
transitions live with the callers (services/upstream/breaker.py); this is what the
stats, the CLI and the metrics read back from the breaker's hash (Keys.breaker)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .timestamps import iso

# The upstreams, by the name their calls, metrics and breakers carry.
UPSTREAMS = ("mercadopago", "highlevel")


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"


@dataclass(frozen=True)
class BreakerView:
    state: BreakerState
    failures: int  # consecutive retryable failures counted so far
    opened_at: float | None = None
    next_probe_at: float | None = None

    @classmethod
    def from_redis(cls, raw: dict[str, str]) -> BreakerView:
        state = BreakerState(raw.get("state") or BreakerState.CLOSED)
        is_open = state == BreakerState.OPEN
        return cls(
            state=state,
            failures=int(raw.get("failures") or 0),
            opened_at=float(raw["opened_at"]) if is_open and raw.get("opened_at") else None,
            next_probe_at=float(raw["probe_at"]) if is_open and raw.get("probe_at") else None,
        )

    def to_api(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "failures": self.failures,
            "opened_at": iso(self.opened_at),
            "next_probe_at": iso(self.next_probe_at),
        }

    def describe(self) -> str:
        if self.state == BreakerState.CLOSED:
            return f"closed ({self.failures} failures in a row)" if self.failures else "closed"
        return f"OPEN since {iso(self.opened_at)}, next probe {iso(self.next_probe_at)}"
