#!/usr/bin/env python3
"""Server time of the console's list pages with a large store against a small one
(issue #12): the events list and the payments list with 100,000 events and 50,000
payments in Redis, against the same pages with 100 events and 200 payments. Like is
compared with like: the small set fills a whole page (50 rows) for every page and filter
measured (100 pending events; 50 payments of each status), and the script checks that
both answers hold the same number of rows.

Both data sets live in one private redis-server (its own port, nothing shared), under
two key prefixes, and are written through the product's own paths: the event store's
receive script (in batches) and the worker's payment step (PaymentStore.begin). One
console app per prefix is served by uvicorn on 127.0.0.1; a signed-in client asks each
page in alternating rounds (small, large, small, ...), so a noisy neighbour on the
machine weighs on both alike, and the time is the request's, to the full answer on a
kept-alive connection: the median of each round, then the median of the rounds. Prints
both, the rows compared and the ratio.

Usage: .venv/bin/python benchmarks/console_bench.py [--events 100000] [--payments 50000] [--requests 200]
Goal: every ratio within 1.5x (reads cost O(page), never a scan). Exit 0 when met.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import redis

from services.console.app import create_app
from services.core.events import NewEvent, Source
from services.core.settings import load_settings
from services.core.store import EventCalls, EventStore
from services.upstream.ratelimit import SlidingWindowLimiter
from services.worker.payments import GoHighLevelCalls, PaymentStore
from tests.support.servers import PrivateRedis, serve_app

TOKEN = "bench-token"
SECRET = "bench-console-session-secret-0123456789"
STATUSES = ("approved", "pending", "rejected", "refunded")
PAGE_ROWS = 50
SMALL_EVENTS = 100
# Enough that every status filter of the payments list fills a whole page too.
SMALL_PAYMENTS = PAGE_ROWS * len(STATUSES)
ROUNDS = 10
PAGES = ("/console/events", "/console/events?status=pending", "/console/payments", "/console/payments?status=approved")


def fill(url: str, prefix: str, events: int, payments: int) -> None:
    settings = load_settings({"REDIS_URL": url, "MPWH_KEY_PREFIX": prefix, "API_TOKEN": TOKEN})
    client = redis.Redis.from_url(url)
    store = EventStore(client, EventCalls(settings))
    now = time.time() - events * 0.01
    for start in range(0, events, 500):
        items = [
            store.calls.receive_item(
                NewEvent(Source.WEBHOOK, "payment", str(n % max(payments, 1)), webhook_id=f"w{n}"), now + n * 0.01
            )
            for n in range(start, min(start + 500, events))
        ]
        store._run(store.calls.receive(items))
    limiter = SlidingWindowLimiter(client, store.keys.rate_limit("bench"), 10**9, 10)
    step = PaymentStore(client, store.keys, 60)
    for n in range(payments):
        state = {"status": STATUSES[n % 4], "amount": "10.0", "currency": "BRL", "payer_email": f"p{n}@example.com"}
        step.begin(
            str(n), state["status"], now + n, state, event_id=f"bench-{n}", limiter=limiter,
            calls=GoHighLevelCalls(False, False),
        )  # fmt: skip
    client.close()


def median_ms(http: httpx.Client, path: str, requests: int) -> float:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = http.get(path)
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200, (path, answer.status_code)
    return statistics.median(times) * 1000


def rows(http: httpx.Client, path: str) -> int:
    page = http.get(path).text
    return page.count("<tr data-event-id=") + page.count("<tr data-payment-id=")


def signed_in(url: str) -> httpx.Client:
    http = httpx.Client(base_url=url, timeout=30)
    page = http.get("/console/sign-in").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    assert http.post("/console/sign-in", data={"csrf": csrf, "token": TOKEN}).status_code == 303
    return http


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--payments", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    server = PrivateRedis()
    server.start()
    try:
        started = time.perf_counter()
        fill(server.url, "small", SMALL_EVENTS, SMALL_PAYMENTS)
        fill(server.url, "large", args.events, args.payments)
        print(f"filled Redis in {time.perf_counter() - started:.0f} s: {SMALL_EVENTS} events/{SMALL_PAYMENTS} "
              f"payments and {args.events} events/{args.payments} payments")  # fmt: skip
        apps = {}
        for prefix in ("small", "large"):
            env = {"REDIS_URL": server.url, "MPWH_KEY_PREFIX": prefix, "API_TOKEN": TOKEN}
            apps[prefix] = create_app(load_settings({**env, "CONSOLE_SESSION_SECRET": SECRET}))
        met = True
        with serve_app(apps["small"]) as small_url, serve_app(apps["large"]) as large_url:
            clients = {"small": signed_in(small_url), "large": signed_in(large_url)}
            for page in PAGES:
                counted = {name: rows(client, page) for name, client in clients.items()}
                assert counted["small"] == counted["large"] == PAGE_ROWS, (page, counted)
                for client in clients.values():
                    median_ms(client, page, 10)  # warm up
                rounds: dict[str, list[float]] = {"small": [], "large": []}
                for _ in range(ROUNDS):
                    for name, client in clients.items():
                        rounds[name].append(median_ms(client, page, max(1, args.requests // ROUNDS)))
                small, large = statistics.median(rounds["small"]), statistics.median(rounds["large"])
                ratio = large / small
                met &= ratio <= 1.5
                print(
                    f"{page:36} {PAGE_ROWS} rows each  small {small:6.2f} ms  large {large:6.2f} ms  ratio {ratio:.2f}x"
                )
        print("goal (every ratio <= 1.5x):", "met" if met else "MISSED")
        return 0 if met else 1
    finally:
        server.cleanup()


if __name__ == "__main__":
    sys.exit(main())
