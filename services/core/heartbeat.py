"""Liveness from the work loop itself: the loop beats on every turn, and `/livez` fails
once it has been silent for longer than a turn can take, so a hung worker or scheduler
is restarted while an HTTP thread that merely answers would not tell."""

from __future__ import annotations

import time
from collections.abc import Callable


class Heartbeat:
    def __init__(self, max_silence_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_silence_seconds = max_silence_seconds
        # A clock of one's own lets a test stop time: silence is then exactly what it set.
        self._clock = clock
        self._last = clock()

    def beat(self) -> None:
        self._last = self._clock()

    def silence(self) -> float:
        return self._clock() - self._last

    def alive(self) -> bool:
        return self.silence() <= self.max_silence_seconds
