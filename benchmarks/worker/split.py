#!/usr/bin/env python3
"""Where a worker's time goes per event (the attribution in docs/benchmarks-worker.md).

Runs the product's worker side in THIS process (services.worker.runner's
build_processor and build_worker, as `mp-webhooks worker` builds them, in burst mode)
against the fake upstream (lean by default) in a subprocess with zero latency, with a
few functions wrapped to add up their CPU and wall time: RQ's dequeue and execute_job,
the product's Processor.process and its scripts, each upstream HTTP exchange
(Upstream._send). It also counts every Redis command and pipeline per event, and
finally times one bare GET of a payment with httpx.Client, the worker's Upstream (its
own httpx transport, metrics and classification included), urllib3 and http.client
against the same fake upstream.

Pinned like worker_bench.py: this process on CPU 0, the fake upstream on CPU 1.
Redis: db 10 of 127.0.0.1:6379, FLUSHED.

Usage: .venv/bin/python benchmarks/worker/split.py [--events 500] [--upstream lean|sandbox] [--profile N]
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.worker import setup  # noqa: E402 - importable once ROOT is on the path
from tests.support.servers import free_port  # noqa: E402 - as above

TOTALS: dict[str, list[float]] = {}
COMMANDS: Counter = Counter()


def timed(name, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            entry = TOTALS.setdefault(name, [0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += time.process_time() - cpu
            entry[2] += time.perf_counter() - wall

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description="per-event split of the worker's time")
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10", help="FLUSHED")
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument(
        "--upstream", choices=("lean", "sandbox"), default="lean", help="the fake upstreams (as worker_bench.py)"
    )
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="also print cProfile's N top functions by own time"
    )
    args = parser.parse_args()
    count = args.events

    if not args.no_pin:
        os.sched_setaffinity(0, {0})
    port = free_port()
    sandbox = subprocess.Popen(
        setup.upstream_command(args.upstream, port),
        cwd=ROOT,
        env={**setup.clean_env(), "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        preexec_fn=None if args.no_pin else (lambda: os.sched_setaffinity(0, {1})),
    )
    try:
        run(args, port, count)
    finally:
        sandbox.terminate()
        sandbox.wait()


def sandbox_request(port: int, method: str, path: str, body=None):
    deadline = time.monotonic() + 30
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request(method, path, body=json.dumps(body) if body is not None else None)
            return json.loads(connection.getresponse().read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def run(args: argparse.Namespace, port: int, count: int) -> None:
    import redis.client
    from rq import SimpleWorker

    from services.core.events import EventStatus, NewEvent, Source
    from services.core.logs import configure_logging
    from services.core.settings import load_settings
    from services.core.store import EventStore
    from services.upstream.http import Upstream
    from services.upstream.ratelimit import SlidingWindowLimiter
    from services.worker import tasks
    from services.worker.payments import PaymentStore
    from services.worker.processor import Processor
    from services.worker.runner import build_processor, build_worker, liveness

    first_id = 50_000_000
    sandbox_request(
        port, "POST", "/bench/reset", {"latency": 0, "prefix": "split", "count": count, "first_id": first_id}
    )
    env = {
        "REDIS_URL": args.redis_url,
        "MPWH_KEY_PREFIX": setup.PREFIX,
        "LOG_LEVEL": "WARNING",
        "MP_ACCESS_TOKEN": setup.MP_TOKEN,
        "GHL_API_TOKEN": setup.GHL_TOKEN,
        "GHL_LOCATION_ID": setup.GHL_LOCATION,
        "GHL_API_VERSION": setup.GHL_VERSION,
        "MP_API_BASE_URL": f"http://127.0.0.1:{port}/mp",
        "GHL_API_BASE_URL": f"http://127.0.0.1:{port}/ghl",
        "GHL_RATE_LIMIT_REQUESTS": "1000000",
    }
    settings = load_settings(env)
    configure_logging("WARNING")
    processor = build_processor(settings, "split.000000")
    tasks.install(processor)
    client = processor.store.redis
    client.flushdb()
    for index in range(count):
        resource = str(first_id + index)
        processor.store.receive(
            NewEvent(source=Source.WEBHOOK, type="payment", resource_id=resource, webhook_id=f"split-{resource}")
        )

    Upstream._send = timed("upstream HTTP exchange", Upstream._send)
    EventStore.claim = timed("  claim (script)", EventStore.claim)
    EventStore.finish = timed("  finish (script)", EventStore.finish)
    PaymentStore.begin = timed("  payment begin (script)", PaymentStore.begin)
    SlidingWindowLimiter.acquire = timed("  limiter acquire (script)", SlidingWindowLimiter.acquire)
    Processor.process = timed("Processor.process (the job)", Processor.process)
    SimpleWorker.execute_job = timed("RQ execute_job", SimpleWorker.execute_job)
    SimpleWorker.dequeue_job_and_maintain_ttl = timed("RQ dequeue", SimpleWorker.dequeue_job_and_maintain_ttl)
    command = redis.client.Redis.execute_command
    execute = redis.client.Pipeline.execute

    def count_command(self, *args, **kwargs):
        COMMANDS[str(args[0])] += 1
        return command(self, *args, **kwargs)

    def count_pipeline(self, *args, **kwargs):
        COMMANDS["pipeline [" + " ".join(str(c[0][0]) for c in self.command_stack) + "]"] += 1
        return execute(self, *args, **kwargs)

    redis.client.Redis.execute_command = count_command
    redis.client.Pipeline.execute = count_pipeline

    worker = build_worker(settings, processor, liveness(settings))
    profile = None
    if args.profile:
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    wall, cpu = time.perf_counter(), time.process_time()
    worker.work(burst=True, logging_level="WARNING")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if profile is not None:
        import pstats

        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile)
        if os.environ.get("SPLIT_PROFILE_OUT"):
            profile.dump_stats(os.environ["SPLIT_PROFILE_OUT"])
    redis.client.Redis.execute_command = command
    redis.client.Pipeline.execute = execute
    success = client.zcard(processor.store.keys.by_status(EventStatus.SUCCESS))

    print(
        f"{count} events in this process ({success} success): {1000 * wall / count:.2f} ms wall, "
        f"{1000 * cpu / count:.2f} ms CPU per event"
    )
    print(f"  {'':30s} {'calls/event':>11s} {'CPU ms/event':>12s} {'wall ms/event':>13s}")
    for name, (calls, spent_cpu, spent_wall) in TOTALS.items():
        print(f"  {name:30s} {calls / count:11.1f} {1000 * spent_cpu / count:12.2f} {1000 * spent_wall / count:13.2f}")
    round_trips = sum(COMMANDS.values()) / count
    print(f"  Redis round trips per event: {round_trips:.1f}")
    for name, calls in COMMANDS.most_common():
        if calls / count >= 0.5:
            print(f"    {calls / count:5.2f}  {name}")
    client.flushdb()
    compare_clients(port)


def compare_clients(port: int, count: int = 1000) -> None:
    import httpx
    import urllib3

    from services.upstream.http import Upstream

    headers = {"Authorization": f"Bearer {setup.MP_TOKEN}"}
    sandbox_request(port, "POST", "/bench/reset", {"latency": 0, "prefix": "cmp", "count": 1, "first_id": 1})
    with httpx.Client(base_url=f"http://127.0.0.1:{port}/mp", headers=headers) as hx:
        raw = http.client.HTTPConnection("127.0.0.1", port)
        pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1)

        def with_raw():
            raw.request("GET", "/mp/v1/payments/1", headers=headers)
            return json.loads(raw.getresponse().read())

        worker = Upstream("mercadopago", f"http://127.0.0.1:{port}/mp", headers)
        clients = {
            "httpx.Client": lambda: hx.get("/v1/payments/1").json(),
            "worker Upstream": lambda: worker.call("GET", "/v1/payments/1"),
            "urllib3 pool": lambda: json.loads(pool.request("GET", "/mp/v1/payments/1", headers=headers).data),
            "http.client": with_raw,
        }
        print(f"one GET of a payment from the fake upstream, {count} times per client (client CPU is this process's):")
        for name, call in clients.items():
            for _ in range(50):
                call()
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(count):
                call()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(f"  {name:16s} {1000 * wall / count:.2f} ms wall, {1000 * cpu / count:.2f} ms client CPU")


if __name__ == "__main__":
    main()
