"""The asyncio store stores the notifications of one event-loop turn with one script
call: every caller still gets its own answer, duplicates inside one batch are found,
a failed call fails every caller of its batch, and a Redis that lost its script cache
is handled."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.core.batching import MAX_BATCH, Coalescer
from services.core.events import NewEvent
from services.core.store import AsyncEventStore, EventCalls


def _run(coro):
    return asyncio.run(coro)


def test_concurrent_receives_share_pipelines_and_each_gets_its_answer(redis_url, settings):
    async def go():
        client = Redis.from_url(redis_url)
        store = AsyncEventStore(client, EventCalls(settings))
        events = [
            NewEvent(source="webhook", type="payment", resource_id=str(n % 60), webhook_id=f"w{n % 60}")
            for n in range(120)
        ]
        answers = await asyncio.gather(*(store.receive(e) for e in events))
        await client.aclose()
        return answers

    answers = _run(go())
    first = {event_id for _, event_id in answers[:60]}
    assert [status for status, _ in answers[:60]] == ["received"] * 60
    assert [status for status, _ in answers[60:]] == ["already_received"] * 60
    # The repeat of notification n got the event id of notification n.
    assert [event_id for _, event_id in answers[60:]] == [event_id for _, event_id in answers[:60]]
    assert len(first) == 60


def test_coalescer_gives_each_caller_its_result_or_the_batch_error():
    sent: list[list[int]] = []

    async def send(items):
        sent.append(items)
        if 13 in items:
            raise RuntimeError("boom")
        return [item * 10 for item in items]

    async def go():
        coalescer = Coalescer(send)
        first = await asyncio.gather(*(coalescer.call(n) for n in range(5)))
        second = await asyncio.gather(*(coalescer.call(n) for n in (11, 12, 13)), return_exceptions=True)
        third = await asyncio.gather(*(coalescer.call(n) for n in range(100, 100 + MAX_BATCH + 3)))
        return first, second, third

    first, second, third = _run(go())
    assert first == [0, 10, 20, 30, 40]
    assert all(isinstance(r, RuntimeError) for r in second)
    assert third == [n * 10 for n in range(100, 100 + MAX_BATCH + 3)]
    assert [len(batch) for batch in sent] == [5, 3, MAX_BATCH, 3]


def test_scripts_are_loaded_again_after_redis_forgot_them(redis_url, settings):
    async def go():
        client = Redis.from_url(redis_url)
        store = AsyncEventStore(client, EventCalls(settings))
        await store.receive(NewEvent(source="ipn", type="payment", resource_id="1"))
        await client.script_flush()
        answer = await store.receive(NewEvent(source="ipn", type="payment", resource_id="2"))
        stats = await store.stats()
        await client.aclose()
        return answer, stats

    (status, _), stats = _run(go())
    assert status == "received" and stats.by_status["pending"] == 2


def test_a_dead_redis_fails_every_caller_of_the_batch(private_redis, make_settings):
    settings = make_settings(REDIS_URL=private_redis.url)

    async def go():
        client = Redis.from_url(private_redis.url, socket_connect_timeout=0.5)
        store = AsyncEventStore(client, EventCalls(settings))
        private_redis.stop()
        results = await asyncio.gather(
            *(store.receive(NewEvent(source="ipn", type="payment", resource_id=str(n))) for n in range(5)),
            return_exceptions=True,
        )
        await client.aclose()
        return results

    results = _run(go())
    assert len(results) == 5 and all(isinstance(r, RedisError) for r in results)
