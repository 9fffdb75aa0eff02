"""Helpers of benchmarks/worker_bench.py: the no-op RQ job and its worker, the start
barrier, and the fake upstream server (the sandbox with a few benchmark routes)."""
