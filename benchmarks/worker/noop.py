"""The baseline's job, the start barrier, and the baseline's worker.

`noop` is the job the baseline drains: RQ's whole per-job cycle (dequeue, started
registry, perform, result, finished registry) around nothing.

`barrier` is queued K times at the head of the queue before a measured run of K
workers (the product's `mp-webhooks worker` and the baseline alike). Each worker takes
one and blocks in it until all K have taken theirs; the last one records the release
time and wakes the others. So the measured window starts when every worker has
finished starting up (imports, Redis connection, worker registration), at the same
instant for all of them, and the run's figures exclude process start-up.

`python -m benchmarks.worker.noop --queue NAME` runs the baseline worker: the same
class as `mp-webhooks worker` (RQ's SimpleWorker, jobs in the worker process), burst
mode, on REDIS_URL, logging at LOG_LEVEL (WARNING in the benchmark, as the product
worker there).
"""

from __future__ import annotations

import argparse
import os
import time

BARRIER_KEY = "bench:barrier"


def noop() -> None:
    return None


def barrier(parties: int, key: str = BARRIER_KEY, timeout: float = 120.0) -> float:
    """Blocks until `parties` workers have entered; returns the release time (epoch)."""
    from rq import get_current_job

    job = get_current_job()
    redis = job.connection
    arrived = redis.incr(f"{key}:arrived")
    if arrived >= parties:
        released = time.time()
        redis.set(f"{key}:released_at", repr(released))
        if parties > 1:
            redis.rpush(f"{key}:go", *["go"] * (parties - 1))
        return released
    deadline = time.monotonic() + timeout
    # Short blocking pops: the product's Redis client has a 2 s socket timeout.
    while redis.blpop([f"{key}:go"], timeout=1) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"barrier: only {redis.get(f'{key}:arrived')} of {parties} workers arrived")
    return time.time()


def main() -> None:
    parser = argparse.ArgumentParser(description="RQ SimpleWorker in burst mode (the benchmark's baseline)")
    parser.add_argument("--queue", required=True)
    args = parser.parse_args()

    from redis import Redis
    from rq import Queue, SimpleWorker

    redis = Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/10"))
    worker = SimpleWorker([Queue(args.queue, connection=redis)], connection=redis)
    worker.work(burst=True, logging_level=os.environ.get("LOG_LEVEL", "WARNING"))


if __name__ == "__main__":
    main()
