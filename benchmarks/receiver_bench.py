#!/usr/bin/env python3
"""Receiver throughput and latency against a bare FastAPI endpoint (issue #2).

Runs, on this machine:
  A. the receiver, as a real `mp-webhooks receiver` process (uvicorn, one process)
     with a real environment: a webhook secret, Redis, default log level;
  B. a bare FastAPI endpoint that only parses the JSON body and answers 200, under
     the same uvicorn settings (benchmarks/receiver/bare_app.py);
and loads them alternately (A, B, A, B, ...) with the same generator and the same
signed Webhooks-format requests, each with a distinct notification id so that the
receiver really stores (and queues) every one. Prints req/s, p50/p99 latency, the
ratio, every non-200 answer, and checks that Redis holds exactly one event per
`received` answer.

The load generator is `wrk` when installed (scripts/tools/install-wrk), else a
Python one speaking raw HTTP/1.1 over asyncio streams (httpx was tried and tops out
near 200 req/s here, measuring itself; the fallback can still become the bottleneck,
which the output says). wrk's LuaJIT has no HMAC, so the requests are signed
beforehand into a file that benchmarks/receiver/signed.lua cycles through.

The machine has 2 cores: the server under test is pinned to one CPU and the load
generator to the other (sched_setaffinity, as `taskset -c` does). Redis is a shared
server and is not pinned by this script.

Usage: .venv/bin/python benchmarks/receiver_bench.py [--duration 10] [--rounds 2]
Target: receiver >= 0.4x the bare endpoint's req/s and p99 <= 50 ms at 32
connections, every answer 200. Exit status 0 when met, 1 when missed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import http.client
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks" / "receiver"
sys.path.insert(0, str(ROOT))

from services.core.keys import Keys  # noqa: E402 - importable once ROOT is on the path
from tests.support.servers import free_port  # noqa: E402 - as above

SECRET = "bench-secret-not-for-production"
PREFIX = "mpwh-bench"
# The same body benchmarks/receiver/signed.lua builds.
BODY = (
    '{{"id":{webhook_id},"type":"payment","action":"payment.updated","live_mode":false,'
    '"date_created":"2024-05-01T12:00:00.000-04:00","user_id":44444,"api_version":"v1","data":{{"id":"{data_id}"}}}}'
)


# Signed requests.


def generate_signed(path: Path, count: int, tag: str) -> None:
    """One line per notification: data.id, notification id, x-request-id, x-signature."""
    ts = str(int(time.time()))
    key = SECRET.encode()
    with path.open("w") as out:
        for index in range(count):
            data_id = f"{tag}{index:07d}"
            request_id = f"bench-{tag}-{index}"
            manifest = f"id:{data_id};request-id:{request_id};ts:{ts};"
            digest = hmac.new(key, manifest.encode(), hashlib.sha256).hexdigest()
            out.write(f"{data_id}\t{data_id}\t{request_id}\tts={ts},v1={digest}\n")


# Servers.


def http_get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready_path: str
    cpu: int | None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log: Any = None

    def start(self) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{self.name}-", suffix=".log", delete=False)  # noqa: SIM115 - open for the server's life, closed by stop()
        cpu = self.cpu

        def pin() -> None:
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})

        self.process = subprocess.Popen(
            [*self.argv, "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            preexec_fn=pin,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"{self.name} exited at start-up (code {self.process.returncode}); see {self.log.name}"
                )
            try:
                if http_get(self.port, self.ready_path) == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name} not ready after 30 s; see {self.log.name}")
            time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def receiver_command() -> list[str]:
    script = Path(sys.executable).parent / "mp-webhooks"
    if script.exists():
        return [str(script), "receiver"]
    return [sys.executable, "-m", "services.cli.main", "receiver"]


# Load generators.


def run_wrk(url: str, signed: Path, connections: int, threads: int, duration: float) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{int(duration)}s",
        "--timeout",
        "10s",
        "-s",
        str(HERE / "signed.lua"),
        url,
        "--",
        str(signed),
        str(threads),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 120)
    for line in result.stdout.splitlines():
        if line.startswith("WRK-RESULT "):
            raw = json.loads(line[len("WRK-RESULT ") :])
            errors = raw["errors"]
            return {
                "requests": raw["requests"],
                "seconds": raw["duration_us"] / 1e6,
                "p50_ms": raw["p50_us"] / 1000,
                "p90_ms": raw["p90_us"] / 1000,
                "p99_ms": raw["p99_us"] / 1000,
                "max_ms": raw["max_us"] / 1000,
                "statuses": {int(code): count for code, count in raw["statuses"].items()},
                "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
                "already_received": raw["already_received"],
                "distinct_available": raw["distinct_available"],
                "samples": raw["samples"],
            }
    raise SystemExit(f"wrk printed no result (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")


async def _python_load(url: str, lines: list[list[str]], connections: int, duration: float) -> dict[str, Any]:
    """Keep-alive HTTP/1.1 over asyncio streams, one connection per worker. (httpx was
    tried first: on this machine it tops out near 200 req/s at 32 connections, so it
    measured itself rather than the servers.)"""
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    statuses: Counter = Counter()
    samples: list[str] = []
    counters = {"errors": 0, "duplicates": 0, "next": 0}
    deadline = 0.0

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.perf_counter() < deadline:
                data_id, webhook_id, request_id, sig = lines[counters["next"] % len(lines)]
                counters["next"] += 1
                content = BODY.format(webhook_id=webhook_id, data_id=data_id).encode()
                request = (
                    f"POST /webhooks/mp HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                    f"x-signature: {sig}\r\nx-request-id: {request_id}\r\nContent-Length: {len(content)}\r\n\r\n"
                ).encode() + content
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                lines_ = head.split(b"\r\n")
                status = int(lines_[0].split(b" ", 2)[1])
                length = next(
                    (int(line.split(b":", 1)[1]) for line in lines_ if line.lower().startswith(b"content-length:")), 0
                )
                body = await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                statuses[status] += 1
                if status != 200:
                    if len(samples) < 5:
                        samples.append(f"{status} {body[:200].decode(errors='replace')}")
                elif b"already_received" in body:
                    counters["duplicates"] += 1
        except (OSError, asyncio.IncompleteReadError, ValueError):
            counters["errors"] += 1
        finally:
            writer.close()

    deadline = time.perf_counter() + duration
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def percentile(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] * 1000 if latencies else 0.0

    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "p50_ms": percentile(50),
        "p90_ms": percentile(90),
        "p99_ms": percentile(99),
        "max_ms": latencies[-1] * 1000 if latencies else 0.0,
        "statuses": dict(statuses),
        "socket_errors": counters["errors"],
        "already_received": counters["duplicates"],
        "distinct_available": len(lines),
        "samples": samples,
    }


def run_python(url: str, signed: Path, connections: int, duration: float) -> dict[str, Any]:
    lines = [line.rstrip("\n").split("\t") for line in signed.open()]
    try:
        import uvloop

        return uvloop.run(_python_load(url, lines, connections, duration))
    except ImportError:
        return asyncio.run(_python_load(url, lines, connections, duration))


# Reporting.


def describe_machine(redis_client, loadgen: str) -> list[str]:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import uvicorn

    try:
        import uvloop  # noqa: F401 - only whether it is installed

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    try:
        import httptools  # noqa: F401 - only whether it is installed

        parser = "httptools"
    except ImportError:
        parser = "h11"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = "?"
    info = redis_client.info("server")
    return [
        f"machine: {os.cpu_count()} CPUs ({model}), Linux {platform.release()}, Python {platform.python_version()}",
        f"servers: uvicorn {uvicorn.__version__} ({loop} + {parser}), one process each; commit {commit}",
        f"redis: {info['redis_version']}",
        f"load generator: {loadgen}",
    ]


def summarize(name: str, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    rates = [r["requests"] / r["seconds"] for r in rounds]
    statuses: Counter = Counter()
    for r in rounds:
        statuses.update(r["statuses"])
    non_200 = sum(count for code, count in statuses.items() if code != 200)
    return {
        "name": name,
        "rps": statistics.mean(rates),
        "cpu_us": statistics.mean(r["cpu_us_per_request"] for r in rounds),
        "p50_ms": statistics.median(r["p50_ms"] for r in rounds),
        "p99_ms": max(r["p99_ms"] for r in rounds),
        "requests": sum(r["requests"] for r in rounds),
        "non_200": non_200,
        "statuses": dict(statuses),
        "socket_errors": sum(r["socket_errors"] for r in rounds),
        "already_received": sum(r["already_received"] for r in rounds),
        "samples": [s for r in rounds for s in r["samples"]][:5],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=10, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per server (alternated A, B, A, B, ...)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load per server first")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11", help="a database of its own: it is flushed")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--loadgen-cpu", type=int, default=1)
    parser.add_argument("--no-pin", action="store_true", help="let the OS place every process")
    parser.add_argument(
        "--log-level", default="INFO", help="the receiver's LOG_LEVEL (INFO logs one line per notification)"
    )
    parser.add_argument("--max-rate", type=int, default=20000, help="req/s to pre-sign for (distinct ids per round)")
    args = parser.parse_args()

    import redis

    use_wrk = args.loadgen == "wrk" or (args.loadgen == "auto" and shutil.which("wrk"))
    if args.loadgen == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: run scripts/tools/install-wrk")
    pin = not args.no_pin and os.cpu_count() and os.cpu_count() >= 2
    server_cpu = args.server_cpu if pin else None

    redis_client = redis.Redis.from_url(args.redis_url)
    keys = Keys(PREFIX)
    redis_client.ping()
    redis_client.flushdb()

    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("MP_", "MPWH_", "GHL_", "API_TOKEN"))}
    receiver = Server(
        "receiver",
        receiver_command(),
        {
            **base_env,
            "REDIS_URL": args.redis_url,
            "MPWH_KEY_PREFIX": PREFIX,
            "MP_WEBHOOK_SECRET": SECRET,
            "LOG_LEVEL": args.log_level,
        },
        "/readyz",
        server_cpu,
    )
    bare = Server("bare", [sys.executable, str(HERE / "bare_app.py")], base_env, "/healthz", server_cpu)
    workdir = Path(tempfile.mkdtemp(prefix="mpwh-bench-"))

    if use_wrk:
        version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        loadgen = f"wrk ({version.split(' [')[0]}), {args.threads} thread(s), {args.connections} connections"
    else:
        loadgen = f"Python asyncio, raw HTTP/1.1 keep-alive (wrk not installed), {args.connections} connections"
    if pin:
        loadgen += (
            f"; servers pinned to CPU {args.server_cpu}, load generator to CPU {args.loadgen_cpu}, Redis not pinned"
        )
    else:
        loadgen += "; not pinned"

    def load(server: Server, seconds: float, tag: str) -> dict[str, Any]:
        signed = workdir / f"signed-{tag}.tsv"
        generate_signed(signed, max(10_000, int(args.max_rate * seconds)), tag)
        try:
            if use_wrk:
                return run_wrk(server.url, signed, args.connections, args.threads, seconds)
            return run_python(server.url, signed, args.connections, seconds)
        finally:
            signed.unlink()

    results: dict[str, list[dict[str, Any]]] = {"receiver": [], "bare": []}
    stored_ok = True
    run_tag = f"{int(time.time()) % 100000:05d}"
    try:
        receiver.start()
        bare.start()
        if pin:
            os.sched_setaffinity(0, {args.loadgen_cpu})
        print("mp-webhooks receiver benchmark (issue #2)")
        for line in describe_machine(redis_client, loadgen):
            print("  " + line)
        print(
            f"  rounds: {args.rounds} per server, {args.duration:g} s each, alternated receiver/bare, "
            f"after {args.warmup:g} s warm-up each"
        )
        print(
            f"  receiver: `{' '.join(receiver.argv[-2:] if len(receiver.argv) > 2 else receiver.argv)}` "
            f"LOG_LEVEL={args.log_level}, Redis {args.redis_url} (flushed)"
        )
        print()
        if args.warmup > 0:
            load(receiver, args.warmup, f"{run_tag}90")
            load(bare, args.warmup, f"{run_tag}91")

        header = (
            f"{'round':>5}  {'server':<8} {'req/s':>9} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} "
            f"{'non-200':>7} {'errors':>6} {'CPU us/req':>10}  stored"
        )
        print(header)
        for index in range(args.rounds):
            for server in (receiver, bare):
                tag = f"{run_tag}{index:01d}{0 if server is receiver else 1}"
                if server is receiver:
                    redis_client.flushdb()
                cpu_before = server.cpu_seconds()
                result = load(server, args.duration, tag)
                result["cpu_us_per_request"] = (server.cpu_seconds() - cpu_before) / max(1, result["requests"]) * 1e6
                stored = ""
                if server is receiver:
                    received = result["statuses"].get(200, 0) - result["already_received"]
                    events = redis_client.zcard(keys.all_events)
                    queued = redis_client.llen(keys.queue)
                    # Requests still in flight when the generator stops are stored but
                    # their answers are not counted: at most one per connection.
                    ok = events == queued and received <= events <= received + args.connections
                    stored_ok &= ok
                    stored = f"{events} events, {queued} jobs" + (
                        "" if ok else f"  MISMATCH: {received} answered received"
                    )
                results[server.name].append(result)
                non_200 = sum(count for code, count in result["statuses"].items() if code != 200)
                rate = result["requests"] / result["seconds"]
                print(
                    f"{index + 1:>5}  {server.name:<8} {rate:>9.0f} {result['p50_ms']:>7.2f} {result['p90_ms']:>7.2f}"
                    f" {result['p99_ms']:>7.2f} {result['max_ms']:>7.1f} {non_200:>7} {result['socket_errors']:>6}"
                    f" {result['cpu_us_per_request']:>10.0f}  {stored}",
                    flush=True,
                )
    finally:
        receiver.stop()
        bare.stop()
        redis_client.flushdb()
        shutil.rmtree(workdir, ignore_errors=True)

    a, b = summarize("receiver", results["receiver"]), summarize("bare", results["bare"])
    ratio = a["rps"] / b["rps"] if b["rps"] else 0.0
    print()
    print("summary (req/s: mean of rounds; p50: median of rounds; p99: worst round)")
    for s in (a, b):
        print(
            f"  {s['name']:<8} {s['rps']:>8.0f} req/s  p50 {s['p50_ms']:.2f} ms  p99 {s['p99_ms']:.2f} ms"
            f"  {s['cpu_us']:.0f} us CPU/request  {s['requests']} requests, {s['non_200']} non-200, "
            f"{s['socket_errors']} socket errors"
        )
        for sample in s["samples"]:
            print(f"    non-200: {sample}")
    print(f"  ratio receiver/bare: {ratio:.2f}x (target >= 0.40x)")
    print(f"  receiver p99: {a['p99_ms']:.2f} ms at {args.connections} connections (target <= 50 ms)")
    print(f"  duplicates answered (should be 0: every request is a new notification): {a['already_received']}")
    print(f"  every received notification stored and queued: {'yes' if stored_ok else 'NO'}")
    if not use_wrk:
        print(
            "  note: the Python load generator may saturate its CPU before the servers do; install wrk for real figures"
        )

    missed = []
    if ratio < 0.4:
        missed.append(f"ratio {ratio:.2f} < 0.40")
    if a["p99_ms"] > 50:
        missed.append(f"p99 {a['p99_ms']:.1f} ms > 50 ms")
    if a["non_200"] or b["non_200"] or a["socket_errors"] or b["socket_errors"]:
        missed.append("not every answer was 200")
    if a["already_received"] or not stored_ok:
        missed.append("stored events do not match the answers")
    print("TARGET MET" if not missed else "TARGET MISSED: " + "; ".join(missed))
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
