"""The baseline's job and the baseline's worker.

`noop` is the job the baseline drains: RQ's whole per-job cycle (dequeue, started
registry, perform, result, finished registry) around nothing.

`python -m benchmarks.worker.noop --queue NAME` runs the baseline worker: the same
class as `mp-webhooks worker` (RQ's SimpleWorker, jobs in the worker process), on
REDIS_URL, logging at LOG_LEVEL (WARNING in the benchmark, as the product worker
there). Like the product worker in the benchmark it waits on the queue until stopped
(SIGTERM): the script holds the run's jobs until every worker is up (the start barrier,
benchmarks/worker_bench.py).
"""

from __future__ import annotations

import argparse
import os


def noop() -> None:
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description="RQ SimpleWorker (the benchmark's baseline)")
    parser.add_argument("--queue", required=True)
    args = parser.parse_args()

    from redis import Redis
    from rq import Queue, SimpleWorker

    redis = Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/10"))
    worker = SimpleWorker([Queue(args.queue, connection=redis)], connection=redis)
    worker.work(logging_level=os.environ.get("LOG_LEVEL", "WARNING"))


if __name__ == "__main__":
    main()
