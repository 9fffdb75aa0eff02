#!/usr/bin/env python3
"""Worker throughput against a no-op RQ job, and its scaling under upstream latency
(issue #3).

Runs, on this machine, against local fake upstreams only (127.0.0.1):

  A. zero latency: N payment events pre-stored (as the receiver stores them,
     `EventStore.receive`), drained by ONE real `mp-webhooks worker` process
     against fake Mercado Pago + GoHighLevel upstreams answering without delay (by
     default the lean asyncio fake, benchmarks/worker/lean_upstream.py; --upstream
     sandbox for the project's FastAPI sandbox);
  B. the baseline: N jobs of a no-op function (benchmarks/worker/noop.py, queued with
     RQ's own `Queue.enqueue`) drained by ONE RQ SimpleWorker, the
     worker class `mp-webhooks worker` uses, on the same Redis;
     A and B alternate for --rounds rounds; the ratio is best A / best B
     (target >= 0.5x);
  C. 100 ms of latency on every upstream answer: M events drained by 1, 2 and 4
     `mp-webhooks worker` processes (should scale near linearly).

Each event takes the full payment path: GET the payment from Mercado Pago, store its
state, search the GoHighLevel contact by the payer's email, create it (every payer
email is distinct, so none exists), add the status tag: 4 upstream calls per event,
counted by the fake upstream and printed as calls/event.

Timing excludes process start-up: a start barrier the script holds. The run's jobs
are queued, then the queue's list is renamed aside (`bench:held`); the K workers start
on an empty queue, and once RQ's worker registry lists all K for the queue, each
`idle` (blocked on the queue), the script renames the list back in one step, which
wakes them all, and records the release time. (The workers run only the product's job,
so the barrier cannot be a job of its own.) A run lasts from that release to the
latest `ended_at` RQ recorded for the run's jobs; the script waits until every event is
`success` (or every no-op job is finished) and checks it, then stops the workers
(SIGTERM, RQ's warm shutdown) and expects each to exit 0.

Memory: each worker's resident set (VmRSS from /proc/<pid>/status) sampled at the end
of its run (when the last event is done, before the worker is stopped).

Placement on the 2-core machine (defaults; --no-pin to let the kernel decide): every
worker process (product and baseline) on CPU 0; the fake upstream and this
script's polling on CPU 1. Redis is the shared server on 127.0.0.1:6379 and is left
unpinned.

Worker settings: REDIS_URL (db 10 by default, FLUSHED before every run),
MPWH_KEY_PREFIX=bench, LOG_LEVEL=WARNING, and GHL_RATE_LIMIT_REQUESTS=1000000: the
GoHighLevel limiter still takes a token in Redis for every GoHighLevel call (the first
call's in the payment step's script, the others in their own) but never makes a
worker wait (with the default 100 per 10 s it would cap the run at
3.3 events/s).

Usage: .venv/bin/python benchmarks/worker_bench.py [--events 1000] [--latency-events 120]
       [--rounds 3] [--latency 0.1] [--workers 1,2,4]
Exit status 0 when the zero-latency ratio meets --target (0.5), 1 when it does not.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.worker.setup import (  # noqa: E402 - importable once ROOT is on the path
    GHL_LOCATION,
    GHL_TOKEN,
    GHL_VERSION,
    MP_TOKEN,
    PREFIX,
    UPSTREAM_MODULES,
    clean_env,
    upstream_command,
)
from tests.support.servers import free_port  # noqa: E402 - as above

NOOP_QUEUE = "bench-noop"
# Where a run's queue waits until every worker is up (the start barrier).
HELD_QUEUE_KEY = "bench:held"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# Processes.


def proc_rss_kib(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) in KiB, or None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            name, value = line.split(":", 1)
            values[name] = int(value.split()[0])
    if "VmRSS" not in values:
        return None  # a zombie has no memory lines
    return values["VmRSS"], values.get("VmHWM", values["VmRSS"])


def proc_cpu_seconds(pid: int) -> float | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Process:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], cpus: set[int] | None, logdir: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = logdir / f"{name}.log"
        self.log = self.log_path.open("wb")

        def pin() -> None:
            if cpus:
                os.sched_setaffinity(0, cpus)

        self.started = time.time()
        self.popen = subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=pin, start_new_session=True
        )
        self.pid = self.popen.pid
        self.rss_kib: int | None = None
        self.hwm_kib: int | None = None
        self.cpu_at_release: float | None = None
        self.cpu_at_end: float | None = None

    def sample(self) -> None:
        memory = proc_rss_kib(self.pid)
        if memory is not None:
            self.rss_kib, self.hwm_kib = memory
        cpu = self.cpu()
        if cpu is not None:
            self.cpu_at_end = cpu

    def cpu(self) -> float | None:
        return proc_cpu_seconds(self.pid)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 15) -> str:
        if not self.log.closed:
            self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.log.close()


def worker_command() -> list[str]:
    # Not --burst: a burst worker leaves at once when the (held) queue is empty.
    script = ROOT / ".venv" / "bin" / "mp-webhooks"
    if script.exists():
        return [str(script), "worker"]
    return [sys.executable, "-m", "services.cli.main", "worker"]


# The fake upstreams.


class Upstream:
    def __init__(self, cpus: set[int] | None, logdir: Path, kind: str = "lean") -> None:
        self.port = free_port()
        self.kind = kind
        argv = upstream_command(kind, self.port)
        env = {**clean_env(), "PYTHONPATH": str(ROOT)}
        self.process = Process("sandbox", argv, env, cpus, logdir)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.request("GET", "/bench/calls")
                break
            except OSError:
                if not self.process.alive() or time.monotonic() > deadline:
                    raise SystemExit(f"the sandbox did not start:\n{self.process.tail()}") from None
                time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, body: Any = None) -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            connection.request(method, path, body=payload, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            data = response.read()
            if response.status != 200:
                raise RuntimeError(f"sandbox {method} {path}: {response.status} {data[:200]!r}")
            return json.loads(data)
        finally:
            connection.close()

    def reset(self, latency: float, prefix: str, count: int, first_id: int) -> None:
        self.request(
            "POST", "/bench/reset", {"latency": latency, "prefix": prefix, "count": count, "first_id": first_id}
        )

    def calls(self) -> dict[str, Any]:
        return self.request("GET", "/bench/calls")


# One measured run.


@dataclass
class Run:
    scenario: str
    workers: int
    events: int
    seconds: float
    latency: float = 0.0
    rss_mib: list[float] = field(default_factory=list)
    hwm_mib: list[float] = field(default_factory=list)
    worker_cpu: float = 0.0  # seconds, all workers, over the measured window
    sandbox_cpu: float | None = None
    redis_cpu: float | None = None
    calls: dict[str, Any] | None = None
    actions: Counter = field(default_factory=Counter)
    startup_seconds: float = 0.0  # first spawn -> barrier release
    attempt_ms: float | None = None  # mean claim -> finish of an event (the handler's share)

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def per_event_ms(self, seconds: float | None) -> str:
        return "-" if seconds is None else f"{1000 * seconds / self.events:.2f}"


def redis_cpu_seconds(client) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def parse_rq_time(value: bytes | None) -> float | None:
    if not value:
        return None
    return datetime.strptime(value.decode(), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


class Bench:
    def __init__(self, args: argparse.Namespace, logdir: Path) -> None:
        import redis

        self.args = args
        self.logdir = logdir
        self.redis = redis.Redis.from_url(args.redis_url)
        self.redis.ping()
        self.worker_cpus = None if args.no_pin else {args.worker_cpu}
        self.run_index = 0

    def base_env(self, upstream: Upstream) -> dict[str, str]:
        return {
            **clean_env(),
            "PYTHONPATH": str(ROOT),
            "REDIS_URL": self.args.redis_url,
            "MPWH_KEY_PREFIX": PREFIX,
            "LOG_LEVEL": "WARNING",
            "MP_ACCESS_TOKEN": MP_TOKEN,
            "GHL_API_TOKEN": GHL_TOKEN,
            "GHL_LOCATION_ID": GHL_LOCATION,
            "GHL_API_VERSION": GHL_VERSION,
            "MP_API_BASE_URL": f"{upstream.url}/mp",
            "GHL_API_BASE_URL": f"{upstream.url}/ghl",
            "GHL_RATE_LIMIT_REQUESTS": "1000000",
        }

    def hold(self, queue) -> None:
        """Sets the queued run aside, before any worker starts."""
        self.redis.rename(queue.key, HELD_QUEUE_KEY)

    def release(self, queue, procs: list[Process], deadline: float) -> float:
        """Once RQ's registry lists every worker of the queue as idle (blocked on the
        empty queue), puts the run's jobs back in one step; returns that instant."""
        from rq import Worker

        while True:
            self._check(procs, deadline, "waiting for the workers to start")
            keys = Worker.all_keys(queue=queue)
            if len(keys) == len(procs):
                pipe = self.redis.pipeline(transaction=False)
                for key in keys:
                    pipe.hget(key, "state")
                if all(state == b"idle" for state in pipe.execute()):
                    break
            time.sleep(0.005)
        released_at = time.time()
        self.redis.rename(HELD_QUEUE_KEY, queue.key)
        return released_at

    def measure(
        self, procs: list[Process], queue, done: Callable[[], bool], sandbox: Process | None, timeout: float
    ) -> tuple[float, float]:
        """Releases the held queue once every worker is up, then waits for `done`;
        samples memory and CPU. Returns (release time, seconds from the first spawn to
        the release)."""
        deadline = time.monotonic() + timeout
        released_at = self.release(queue, procs, deadline)
        for proc in procs:
            proc.cpu_at_release = proc.cpu()
        sandbox_cpu0 = sandbox.cpu() if sandbox else None
        redis_cpu0 = redis_cpu_seconds(self.redis)
        while not done():
            self._check(procs, deadline, "waiting for the run to finish")
            for proc in procs:
                proc.sample()
            time.sleep(0.02)
        # The end of the run: sample now, before the workers are stopped.
        for proc in procs:
            proc.sample()
        self._sandbox_cpu = (sandbox.cpu() - sandbox_cpu0) if sandbox else None
        self._redis_cpu = redis_cpu_seconds(self.redis) - redis_cpu0
        for proc in procs:
            proc.popen.terminate()  # RQ's warm shutdown: the worker is idle, it leaves
        for proc in procs:
            try:
                code = proc.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                raise SystemExit(f"{proc.name} did not exit on SIGTERM:\n{proc.tail()}") from None
            if code != 0:
                raise SystemExit(f"{proc.name} exited with {code}:\n{proc.tail()}")
            proc.stop()
        return released_at, released_at - min(p.started for p in procs)

    def _check(self, procs: list[Process], deadline: float, what: str) -> None:
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out {what}:\n" + "\n".join(f"--- {p.name}\n{p.tail()}" for p in procs))
        for proc in procs:
            if not proc.alive():
                raise SystemExit(f"{proc.name} exited with {proc.popen.returncode} while {what}:\n{proc.tail()}")

    def jobs_end(self, job_ids: list[str]) -> float:
        from rq.job import Job

        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hget(Job.redis_job_namespace_prefix + job_id, "ended_at")
        ends = [parse_rq_time(value) for value in pipe.execute()]
        missing = sum(1 for end in ends if end is None)
        if missing:
            raise SystemExit(f"{missing} of {len(job_ids)} jobs have no ended_at")
        return max(ends)

    # Scenarios.

    def run_events(self, upstream: Upstream, count: int, workers: int, latency: float, scenario: str) -> Run:
        from rq import Queue

        from services.core.events import EventStatus, NewEvent, Source
        from services.core.settings import load_settings
        from services.core.store import EventCalls, EventStore
        from services.core.store.model import ReceiptStatus

        self.run_index += 1
        first_id = 10_000_000 * self.run_index
        self.redis.flushdb()
        upstream.reset(latency, f"run{self.run_index}", count, first_id)
        env = self.base_env(upstream)
        settings = load_settings(env)
        store = EventStore(self.redis, EventCalls(settings))
        for index in range(count):
            resource = str(first_id + index)
            status, _ = store.receive(
                NewEvent(source=Source.WEBHOOK, type="payment", resource_id=resource, webhook_id=f"bench-{resource}")
            )
            assert status == ReceiptStatus.RECEIVED, status
        queue = Queue(store.keys.queue_name, connection=self.redis)
        self.hold(queue)
        procs = [
            Process(
                f"worker-{self.run_index}-{n}",
                worker_command(),
                {**env, "METRICS_PORT": str(free_port())},
                self.worker_cpus,
                self.logdir,
            )
            for n in range(workers)
        ]
        keys = store.keys
        success_key, failed_key = keys.by_status(EventStatus.SUCCESS), keys.by_status(EventStatus.FAILED)

        def done() -> bool:
            pipe = self.redis.pipeline(transaction=False)
            pipe.zcard(success_key)
            pipe.zcard(failed_key)
            success, failed = pipe.execute()
            if failed:
                raise SystemExit(f"{failed} events failed; see the worker logs in {self.logdir}")
            return success == count

        released_at, startup = self.measure(procs, queue, done, upstream.process, timeout=self.args.run_timeout)
        # Every event's outcome, and its job's end.
        event_ids = [raw.decode() for raw in self.redis.zrange(success_key, 0, -1)]
        pipe = self.redis.pipeline(transaction=False)
        for event_id in event_ids:
            pipe.hmget(keys.event(event_id), "job_id", "result", "attempts", "attempt_started_at", "updated_at")
        rows = pipe.execute()
        actions: Counter = Counter()
        for _, result, attempts, _, _ in rows:
            outcome = json.loads(result)
            actions[f"{outcome.get('action')}/{outcome.get('contact_route')}/attempts={int(attempts)}"] += 1
        attempt_ms = 1000 * statistics.mean(float(end) - float(start) for _, _, _, start, end in rows)
        ended = self.jobs_end([row[0].decode() for row in rows])
        return self._finish(
            scenario,
            workers,
            count,
            released_at,
            ended,
            startup,
            procs,
            latency,
            calls=upstream.calls(),
            actions=actions,
            attempt_ms=attempt_ms,
        )

    def run_noop(self, count: int) -> Run:
        from rq import Queue
        from rq.registry import FinishedJobRegistry

        from benchmarks.worker.noop import noop
        from services.core.rqjobs import FAILURE_TTL_SECONDS, RESULT_TTL_SECONDS

        self.run_index += 1
        self.redis.flushdb()
        queue = Queue(NOOP_QUEUE, connection=self.redis)
        # The product's job options (services.core.rqjobs), so RQ does the same work per job.
        job_ids = [
            queue.enqueue(noop, result_ttl=RESULT_TTL_SECONDS, failure_ttl=FAILURE_TTL_SECONDS, job_timeout=150).id
            for _ in range(count)
        ]
        self.hold(queue)
        env = {**clean_env(), "PYTHONPATH": str(ROOT), "REDIS_URL": self.args.redis_url, "LOG_LEVEL": "WARNING"}
        procs = [
            Process(
                f"noop-{self.run_index}",
                [sys.executable, "-m", "benchmarks.worker.noop", "--queue", NOOP_QUEUE],
                env,
                self.worker_cpus,
                self.logdir,
            )
        ]
        finished = FinishedJobRegistry(queue=queue)
        finished_key = finished.key

        def done() -> bool:
            return self.redis.zcard(finished_key) >= count

        released_at, startup = self.measure(procs, queue, done, None, timeout=self.args.run_timeout)
        ended = self.jobs_end(job_ids)
        return self._finish("no-op RQ job", 1, count, released_at, ended, startup, procs, 0.0)

    def _finish(
        self,
        scenario: str,
        workers: int,
        count: int,
        released_at: float,
        ended: float,
        startup: float,
        procs: list[Process],
        latency: float,
        **extra: Any,
    ) -> Run:
        return Run(
            scenario=scenario,
            workers=workers,
            events=count,
            seconds=ended - released_at,
            latency=latency,
            rss_mib=[p.rss_kib / 1024 for p in procs if p.rss_kib],
            hwm_mib=[p.hwm_kib / 1024 for p in procs if p.hwm_kib],
            worker_cpu=sum((p.cpu_at_end or 0) - (p.cpu_at_release or 0) for p in procs),
            sandbox_cpu=self._sandbox_cpu,
            redis_cpu=self._redis_cpu,
            startup_seconds=startup,
            **extra,
        )


# Output.


def describe_machine(redis_client, args: argparse.Namespace) -> list[str]:
    from importlib.metadata import version

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "services"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    placement = (
        (
            f"workers (product and baseline) pinned to CPU {args.worker_cpu}; "
            f"fake upstream and this script to CPU {args.upstream_cpu}; Redis not pinned"
        )
        if not args.no_pin
        else "no pinning"
    )
    return [
        f"  machine: {os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, Python {platform.python_version()}",
        f"  rq {version('rq')}, redis-py {version('redis')}, httpx {version('httpx')}, uvicorn {version('uvicorn')}, "
        f"Redis server {redis_client.info('server')['redis_version']}; commit {commit}"
        + (" (services/ has uncommitted changes)" if dirty else ""),
        f"  placement: {placement}",
        f"  workers: `{' '.join(Path(a).name if i == 0 else a for i, a in enumerate(worker_command()))}`, "
        "LOG_LEVEL=WARNING, "
        f"GHL_RATE_LIMIT_REQUESTS=1000000, Redis {args.redis_url} (flushed before each run)",
        "  timing: from the start barrier's release (all workers up) to the last job's RQ ended_at",
    ]


def rss_text(run: Run) -> str:
    if not run.rss_mib:
        return "-"
    if len(run.rss_mib) == 1:
        return f"{run.rss_mib[0]:.1f}"
    return f"{statistics.mean(run.rss_mib):.1f} ({min(run.rss_mib):.1f}-{max(run.rss_mib):.1f})"


def print_rows(lines: list[tuple[str, ...]]) -> None:
    """A table: the first line is the header; the first column left-aligned."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for n, line in enumerate(lines):
        cells = (cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(line))
        print("  " + "  ".join(cells))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def print_table(rows: list[tuple[Run, str]]) -> None:
    header = ("scenario", "workers", "events", "seconds", "events/s", "ratio", "RSS MiB/process")
    lines = [header] + [
        (run.scenario, str(run.workers), str(run.events), f"{run.seconds:.2f}", f"{run.rate:.1f}", ratio, rss_text(run))
        for run, ratio in rows
    ]
    print_rows(lines)


def print_details(runs: list[Run]) -> None:
    header = (
        "scenario",
        "workers",
        "calls/event",
        "attempt ms",
        "worker CPU ms/event",
        "upstream CPU ms/event",
        "Redis CPU ms/event",
        "start-up s",
        "peak RSS MiB",
    )
    lines = [header]
    for run in runs:
        calls = f"{run.calls['total'] / run.events:.2f}" if run.calls else "-"
        attempt = f"{run.attempt_ms:.1f}" if run.attempt_ms is not None else "-"
        lines.append(
            (
                run.scenario,
                str(run.workers),
                calls,
                attempt,
                run.per_event_ms(run.worker_cpu),
                run.per_event_ms(run.sandbox_cpu),
                run.per_event_ms(run.redis_cpu),
                f"{run.startup_seconds:.2f}",
                f"{max(run.hwm_mib):.1f}" if run.hwm_mib else "-",
            )
        )
    print_rows(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description="mp-webhooks worker benchmark (issue #3)")
    parser.add_argument("--events", type=int, default=1000, help="events (and no-op jobs) per zero-latency run")
    parser.add_argument("--latency-events", type=int, default=120, help="events per run with upstream latency")
    parser.add_argument(
        "--latency", type=float, default=0.1, help="seconds added to every upstream answer in the scaling runs"
    )
    parser.add_argument("--workers", default="1,2,4", help="worker processes for the latency runs")
    parser.add_argument("--rounds", type=int, default=3, help="zero-latency rounds (no-op, events alternated)")
    parser.add_argument("--target", type=float, default=0.5, help="events/s over no-op jobs/s to meet")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10", help="a database of its own: it is FLUSHED")
    parser.add_argument("--worker-cpu", type=int, default=0)
    parser.add_argument("--upstream-cpu", type=int, default=1)
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--run-timeout", type=float, default=240.0, help="seconds a single run may take")
    parser.add_argument(
        "--upstream",
        choices=sorted(UPSTREAM_MODULES),
        default="lean",
        help="the fake upstreams: the lean asyncio server (default) or the FastAPI sandbox",
    )
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-zero", action="store_true")
    args = parser.parse_args()
    if "127.0.0.1" not in args.redis_url and "localhost" not in args.redis_url:
        parser.error("--redis-url must be a local Redis (it is flushed)")
    worker_counts = [int(n) for n in args.workers.split(",") if n.strip()]

    if not args.no_pin:
        os.sched_setaffinity(0, {args.upstream_cpu})
    with tempfile.TemporaryDirectory(prefix="worker-bench-") as tmp:
        logdir = Path(tmp)
        bench = Bench(args, logdir)
        upstream = Upstream(None if args.no_pin else {args.upstream_cpu}, logdir, args.upstream)
        began = time.monotonic()
        try:
            print("mp-webhooks worker benchmark (issue #3)")
            for line in describe_machine(bench.redis, args):
                print(line)
            what = (
                "the lean fake (benchmarks/worker/lean_upstream.py: raw asyncio HTTP/1.1, the sandbox's 4 endpoints, "
                "shapes and header checks)"
                if args.upstream == "lean"
                else "the sandbox (services.sandbox) in uvicorn"
            )
            print(f"  upstreams: {what}, in its own process, {upstream.url}; every payer email distinct")
            print(flush=True)
            zero: list[Run] = []
            noops: list[Run] = []
            latency_runs: list[Run] = []
            if not args.skip_zero:
                # One unmeasured warm-up of each, so Redis, the page cache and the sandbox are warm.
                bench.run_noop(min(100, args.events))
                bench.run_events(upstream, min(100, args.events), 1, 0.0, "warm-up")
                for round_number in range(1, args.rounds + 1):
                    noops.append(bench.run_noop(args.events))
                    zero.append(bench.run_events(upstream, args.events, 1, 0.0, "events, 0 ms"))
                    print(
                        f"  round {round_number}: no-op {noops[-1].rate:.0f} jobs/s, "
                        f"events {zero[-1].rate:.1f} events/s, "
                        f"ratio {zero[-1].rate / noops[-1].rate:.3f}x",
                        flush=True,
                    )
            if not args.skip_latency:
                for workers in worker_counts:
                    latency_runs.append(
                        bench.run_events(
                            upstream,
                            args.latency_events,
                            workers,
                            args.latency,
                            f"events, {args.latency * 1000:.0f} ms",
                        )
                    )
                    print(
                        f"  {workers} worker(s), {args.latency * 1000:.0f} ms: {latency_runs[-1].rate:.2f} events/s",
                        flush=True,
                    )
        finally:
            upstream.process.stop()
            bench.redis.flushdb()
        elapsed = time.monotonic() - began

    print()
    rows: list[tuple[Run, str]] = []
    best_noop = max(noops, key=lambda r: r.rate) if noops else None
    best_zero = max(zero, key=lambda r: r.rate) if zero else None
    for run in noops:
        rows.append((run, "1.00x" if run is best_noop else f"{run.rate / best_noop.rate:.2f}x"))
    for run in zero:
        rows.append((run, f"{run.rate / best_noop.rate:.3f}x"))
    base = latency_runs[0] if latency_runs else None
    for run in latency_runs:
        rows.append((run, f"{run.rate / base.rate:.2f}x vs 1 worker"))
    print_table(rows)
    print()
    print_details(noops + zero + latency_runs)
    print()
    for run in zero + latency_runs:
        if run.calls:
            by = ", ".join(f"{name} {count}" for name, count in run.calls["by_endpoint"].items())
            print(
                f"  {run.scenario} x{run.workers}: {run.calls['total']} upstream calls ({by}); "
                f"outcomes {dict(run.actions)}"
            )
            break
    met = None
    if best_zero and best_noop:
        ratio = best_zero.rate / best_noop.rate
        met = ratio >= args.target
        print(
            f"  zero latency: best {best_zero.rate:.1f} events/s vs best {best_noop.rate:.0f} no-op jobs/s "
            f"= {ratio:.3f}x "
            f"(target >= {args.target}x): {'MET' if met else 'MISSED'}"
        )
        # Each round's pair ran back to back, so its ratio is the least exposed to the
        # machine's load drifting between rounds.
        paired = [z.rate / n.rate for z, n in zip(zero, noops, strict=True)]
        print(
            f"  each round's ratio: {', '.join(f'{r:.3f}x' for r in paired)} (median {statistics.median(paired):.3f}x)"
        )
    if latency_runs:
        scaling = ", ".join(f"{r.workers} -> {r.rate / base.rate:.2f}x" for r in latency_runs)
        print(f"  {args.latency * 1000:.0f} ms latency scaling (ideal = workers): {scaling}")
    print(f"  total time {elapsed:.0f} s")
    return 0 if met in (True, None) else 1


if __name__ == "__main__":
    sys.exit(main())
