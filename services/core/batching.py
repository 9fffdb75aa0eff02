"""Notifications stored during one turn of the event loop, sent to Redis as one call.

With many notifications in flight, most of the receiver's Redis cost is redis-py's
per-command machinery (packing, the round trip, parsing), not Redis. The store's
receive script takes any number of notifications and handles each exactly as if it came
alone, so the receiver pays that cost once per batch. Every caller gets its own answer;
if the call fails, every caller of the batch gets the error (and answers 503: nothing of
a failed script is written)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

# Far below Lua's limit on script arguments (nine per notification).
MAX_BATCH = 256

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


class Coalescer(Generic[ItemT, ResultT]):
    def __init__(self, send: Callable[[list[ItemT]], Awaitable[Sequence[ResultT]]]) -> None:
        self.send = send
        self._pending: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    def call(self, item: ItemT) -> asyncio.Future[ResultT]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ResultT] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._send_pending)
        self._pending.append((item, future))
        if len(self._pending) >= MAX_BATCH:
            self._send_pending()
        return future

    def _send_pending(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return  # already sent because it was full
        task = asyncio.ensure_future(self._send(batch))
        self._sending.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[ItemT, asyncio.Future[ResultT]]]) -> None:
        try:
            results = await self.send([item for item, _ in batch])
        except Exception as error:  # noqa: BLE001 - every caller of the batch learns it failed
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # else the caller went away (client disconnected)
                future.set_result(result)
