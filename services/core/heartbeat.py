"""Liveness from the work loop itself: the loop beats on every turn, and `/livez` fails
once it has been silent for longer than a turn can take, so a hung worker or scheduler
is restarted while an HTTP thread that merely answers would not tell."""

from __future__ import annotations

import time


class Heartbeat:
    def __init__(self, max_silence_seconds: float) -> None:
        self.max_silence_seconds = max_silence_seconds
        self._last = time.monotonic()

    def beat(self) -> None:
        self._last = time.monotonic()

    def silence(self) -> float:
        return time.monotonic() - self._last

    def alive(self) -> bool:
        return self.silence() <= self.max_silence_seconds
