"""Duplicates: the same Webhooks notification is stored once however many times (and
however concurrently) it arrives; IPN for one resource folds into the pending event."""

from __future__ import annotations

import asyncio
import json

import httpx
from rq import Queue

from tests.support.store import end_attempt, start_attempt

from .conftest import Receiver, signed_headers, unique, webhook_body


async def _post_concurrently(url: str, content: bytes, headers: dict[str, str], count: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        # Open every connection first, so the notifications really arrive together.
        await asyncio.gather(*(client.get("/healthz") for _ in range(count)))
        start = asyncio.Event()

        async def one() -> httpx.Response:
            await start.wait()
            return await client.post("/webhooks/mp", content=content, headers=headers)

        tasks = [asyncio.create_task(one()) for _ in range(count)]
        await asyncio.sleep(0)
        start.set()
        return await asyncio.gather(*tasks)


def test_fifty_identical_notifications_in_parallel_make_one_event(receiver: Receiver):
    body = webhook_body("8001", webhook_id=unique("dup"))
    headers = {"content-type": "application/json", **signed_headers("8001")}
    responses = asyncio.run(_post_concurrently(receiver.url, json.dumps(body).encode(), headers, 50))

    assert [r.status_code for r in responses] == [200] * 50
    answers = [r.json() for r in responses]
    event_ids = {a["event_id"] for a in answers}
    assert len(event_ids) == 1
    (event_id,) = event_ids
    assert sorted(a["status"] for a in answers) == ["already_received"] * 49 + ["received"]

    assert receiver.event_ids() == [event_id]
    stored = receiver.assert_stored_and_queued(event_id)
    assert stored["duplicates"] == "49"
    # Exactly one RQ job, on this install's queue.
    assert receiver.queued_job_ids() == [stored["job_id"]]
    assert Queue(receiver.keys.queue_name, connection=receiver.raw).count == 1
    jobs = list(receiver.raw.scan_iter(receiver.keys.job(f"{event_id}-*")))
    assert jobs == [receiver.keys.job(stored["job_id"]).encode()]


def test_duplicate_is_counted_even_after_processing_started(receiver: Receiver):
    """Webhooks-format duplicates are the same notification whatever state its event is in."""
    body = webhook_body("8002", webhook_id=unique("dup"))
    event_id = receiver.post_webhook(body).json()["event_id"]
    job_id = receiver.event(event_id)["job_id"]
    assert start_attempt(receiver.store, event_id, job_id, "test-worker") == 1
    again = receiver.post_webhook(body)
    assert again.json() == {"status": "already_received", "event_id": event_id}
    assert receiver.event(event_id)["duplicates"] == "1"
    assert receiver.event(event_id)["status"] == "processing"
    assert receiver.event_ids() == [event_id]


def test_same_notification_id_of_another_type_is_another_event(receiver: Receiver):
    notification_id = unique("dup")
    first = receiver.post_webhook(webhook_body("8003", webhook_id=notification_id, event_type="payment")).json()
    second = receiver.post_webhook(webhook_body("8003", webhook_id=notification_id, event_type="merchant_order")).json()
    assert first["status"] == second["status"] == "received"
    assert first["event_id"] != second["event_id"]


def test_ipn_for_the_same_resource_folds_into_the_pending_event(receiver: Receiver):
    first = receiver.post_ipn("9001").json()
    assert first["status"] == "received"
    event_id = first["event_id"]
    second = receiver.post_ipn("9001").json()
    assert second == {"status": "already_received", "event_id": event_id}
    stored = receiver.assert_stored_and_queued(event_id, duplicates="1")
    assert receiver.queued_job_ids() == [stored["job_id"]]

    # Another resource, or another topic for the same id, is another event.
    other = receiver.post_ipn("9002").json()
    order = receiver.post_ipn("9001", topic="merchant_order").json()
    assert other["status"] == order["status"] == "received"
    assert len({event_id, other["event_id"], order["event_id"]}) == 3


def test_ipn_after_processing_started_makes_a_new_event(receiver: Receiver):
    event_id = receiver.post_ipn("9100").json()["event_id"]
    job_id = receiver.event(event_id)["job_id"]
    attempt = start_attempt(receiver.store, event_id, job_id, "test-worker")
    assert attempt == 1
    assert receiver.event(event_id)["status"] == "processing"

    newer = receiver.post_ipn("9100").json()
    assert newer["status"] == "received"
    assert newer["event_id"] != event_id
    assert receiver.event(event_id)["duplicates"] == "0"
    new_stored = receiver.assert_stored_and_queued(newer["event_id"], source="ipn", resource_id="9100")

    # Further IPNs fold into the newer, pending event.
    third = receiver.post_ipn("9100").json()
    assert third == {"status": "already_received", "event_id": newer["event_id"]}
    assert receiver.event(newer["event_id"])["duplicates"] == "1"
    assert receiver.queued_job_ids() == [job_id, new_stored["job_id"]]


def test_ipn_after_the_event_finished_makes_a_new_event(receiver: Receiver):
    event_id = receiver.post_ipn("9200").json()["event_id"]
    job_id = receiver.event(event_id)["job_id"]
    attempt = start_attempt(receiver.store, event_id, job_id, "test-worker")
    assert end_attempt(receiver.store, event_id, attempt, result={"ok": True}) == "success"
    newer = receiver.post_ipn("9200").json()
    assert newer["status"] == "received"
    assert newer["event_id"] != event_id
    assert receiver.event(event_id)["status"] == "success"


def test_ipn_burst_for_one_resource_in_parallel_makes_one_event(receiver: Receiver):
    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=receiver.url, timeout=30) as client:
            return await asyncio.gather(
                *(client.post("/webhooks/mp", params={"topic": "payment", "id": "9300"}) for _ in range(20))
            )

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses] == [200] * 20
    (event_id,) = {r.json()["event_id"] for r in responses}
    assert receiver.event_ids() == [event_id]
    assert receiver.event(event_id)["duplicates"] == "19"
    assert len(receiver.queued_job_ids()) == 1
