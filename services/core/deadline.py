"""An attempt's deadline: the moment by which everything the attempt waits for or calls
must be over, so that it ends inside JOB_TIMEOUT_SECONDS however slow its upstreams are.
It is made at the claim and passed down to every wait (the GoHighLevel limiter, a 429's
interval, the payment's lock) and every HTTP call, each of which takes no longer than
the time left."""

from __future__ import annotations

import time
from dataclasses import dataclass

# What an attempt keeps back from JOB_TIMEOUT_SECONDS to record its end: a fifth of it,
# at most 5 s.
END_RESERVE_FRACTION = 0.2
END_RESERVE_MAX_SECONDS = 5.0


@dataclass(frozen=True)
class Deadline:
    at: float  # time.monotonic()

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    @classmethod
    def for_attempt(cls, job_timeout_seconds: float) -> Deadline:
        reserve = min(END_RESERVE_MAX_SECONDS, job_timeout_seconds * END_RESERVE_FRACTION)
        return cls.after(job_timeout_seconds - reserve)

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def allows(self, seconds: float) -> bool:
        """Whether waiting `seconds` still ends before the deadline."""
        return seconds < self.remaining()

    def clamp(self, seconds: float) -> float:
        return min(seconds, self.remaining())
