"""One attempt while its worker runs it: its number, its deadline, and a keep-alive
thread that shows the reconciler the attempt is alive and learns when it is no longer
its event's current attempt (recovered by the reconciler), so that it stops before its
next upstream call."""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from redis.exceptions import RedisError

from services.core.attempts import KEEP_ALIVE_SECONDS
from services.core.deadline import Deadline
from services.core.store import EventStore
from services.upstream.errors import RetryableError

log = logging.getLogger("mpwh.worker")


class RunningAttempt:
    def __init__(self, store: EventStore, event_id: str, number: int, deadline: Deadline) -> None:
        self.event_id = event_id
        self.number = number
        self.deadline = deadline
        self._store = store
        self._stop = threading.Event()
        self._superseded = False
        self._thread = threading.Thread(target=self._keep_alive, name=f"keep-{event_id}", daemon=True)

    def __enter__(self) -> RunningAttempt:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def check(self) -> None:
        """Raises when the attempt is no longer its event's current one."""
        if self._superseded:
            raise RetryableError("attempt", "no longer the event's current attempt (the reconciler recovered it)")

    def _keep_alive(self) -> None:
        while not self._stop.wait(KEEP_ALIVE_SECONDS):
            try:
                current = self._store.keep(self.event_id, self.number)
            except RedisError as error:
                # A missed beat is harmless: the reconciler waits JOB_TIMEOUT_SECONDS of silence.
                log.warning("keep-alive failed", extra={"event_id": self.event_id, "error": str(error)})
                continue
            if not current:
                self._superseded = True
                return
