"""Helpers of benchmarks/worker_bench.py: the no-op RQ job and its worker, and the
fake upstream servers (lean_upstream: a raw asyncio server, the
default; upstream: the sandbox with a few benchmark routes)."""
