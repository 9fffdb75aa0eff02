"""The event store on an asyncio client: the receiver and the console. Notifications
received in one turn of the event loop are stored by one script call
(services/core/batching.py)."""

from __future__ import annotations

from typing import TypeVar

from redis.asyncio import Redis

from ..batching import Coalescer
from ..events import Event, NewEvent
from ..payments import Payment
from .calls import EventCalls, ReceiveItem, ScriptCall
from .model import (
    EventQuery,
    Page,
    PaymentPage,
    PaymentQuery,
    PipelineSnapshot,
    Receipt,
    Requester,
    RequeueMode,
    RequeueResult,
    Stats,
)

T = TypeVar("T")


class AsyncEventStore:
    def __init__(self, redis: Redis, calls: EventCalls) -> None:
        self.redis, self.calls, self.keys = redis, calls, calls.keys
        self._scripts = calls.register(redis.register_script)
        self._receiver: Coalescer[ReceiveItem, Receipt] = Coalescer(self._receive_batch)

    async def _run(self, call: ScriptCall[T]) -> T:
        return call.parse(await self._scripts[call.script](keys=call.keys, args=call.args))

    async def _receive_batch(self, items: list[ReceiveItem]) -> list[Receipt]:
        return await self._run(self.calls.receive(items))

    async def receive(self, event: NewEvent, now: float | None = None) -> Receipt:
        return await self._receiver.call(self.calls.receive_item(event, now))

    async def get(self, event_id: str) -> Event | None:
        return await self._run(self.calls.get(event_id))

    async def page(self, query: EventQuery) -> Page:
        return await self._run(self.calls.page(query))

    async def stats(self) -> Stats:
        return await self._run(self.calls.stats())

    async def requeue(self, event_id: str, mode: RequeueMode, requested_by: Requester | None = None) -> RequeueResult:
        return await self._run(self.calls.requeue(event_id, mode, requested_by=requested_by))

    async def payments_page(self, query: PaymentQuery) -> PaymentPage:
        return await self._run(self.calls.payments_page(query))

    async def payment(self, payment_id: str) -> Payment | None:
        return await self._run(self.calls.payment(payment_id))

    async def pipeline(self) -> PipelineSnapshot:
        return await self._run(self.calls.pipeline())
