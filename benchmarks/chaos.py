#!/usr/bin/env python3
"""Chaos run: the whole system as real processes while everything fails at once, then
every guarantee checked (docs/reliability.md, "Chaos run").

Two receivers, two workers, the scheduler, `reconcile --loop`, the sandbox playing
Mercado Pago and GoHighLevel with random 5xx, 429 + Retry-After, timeouts and latency,
and a redis-server with `appendonly yes` + `appendfsync always` on a free port in a
directory of its own. A load generator sends signed notifications like Mercado Pago:
new payments, status changes (some announced out of order), duplicates and IPNs,
retrying every 503 and connection error until it gets a 200. Meanwhile, at random
moments: SIGKILL + restart of a receiver, a worker, the scheduler and Redis, and an
outage of each upstream longer than the retry schedule. Every process that dies is
restarted, as Kubernetes would. Then the faults stop, the system drains, and the
invariants are checked and printed as a table.

    benchmarks/chaos.py                 # short profile (~90 s)
    benchmarks/chaos.py --minutes 10    # longer: more load, more of every fault
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.core.events import EventStatus  # noqa: E402 - importable once ROOT is on the path
from services.core.settings import load_settings  # noqa: E402 - as above
from services.core.store import EventCalls, EventStore  # noqa: E402 - as above
from tests.support.servers import free_port, wait_for_port  # noqa: E402 - as above

SECRET = "chaos-secret"
API_TOKEN = "chaos-token"
MP_TOKEN = "APP_USR-chaos"
GHL_TOKEN = "pit-chaos"
LOCATION = "loc-chaos"
# Short, so an outage of some seconds outlasts the whole schedule (15 s), yet six
# attempts, so the background faults alone (a few % of calls) do not exhaust it.
RETRY_DELAYS = "1,2,3,4,5"
STATUSES = ("pending", "in_process", "approved", "refunded")
# After a Redis restart the receivers' clients reconnect on their next request.
REDIS_GRACE_SECONDS = 3.0


@dataclass(frozen=True)
class Profile:
    load_seconds: float
    senders: int
    # Kills and outages spread over the load, each kind this many times.
    kills: int
    outage_seconds: float
    drain_timeout: float
    seed: int

    @classmethod
    def short(cls, seed: int | None = None) -> Profile:
        return cls(75.0, 2, 1, 18.0, 60.0, seed if seed is not None else random.randrange(2**32))

    @classmethod
    def minutes(cls, minutes: float, seed: int | None = None) -> Profile:
        load = minutes * 60 - 45
        return cls(
            load, 2, max(1, round(load / 45)), 20.0, 180.0, seed if seed is not None else random.randrange(2**32)
        )


# -- processes ---------------------------------------------------------------------


class Process:
    """One component, restarted whenever it exits (unless the run is over)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logs: Path, port: int | None = None) -> None:
        self.name, self.argv, self.env, self.port = name, argv, env, port
        self.log = (logs / f"{name}.log").open("ab")
        self.process: subprocess.Popen[bytes] | None = None
        self.crash_restarts = 0
        # Set while the chaos holds it down: the supervisor leaves it alone.
        self.held = False
        self.lock = threading.Lock()

    def start(self) -> None:
        with self.lock:
            self.process = subprocess.Popen(
                self.argv, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
            )
        if self.port is not None:
            wait_for_port(self.port, timeout=30)

    def kill(self) -> None:
        with self.lock:
            if self.process is not None and self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def exited(self) -> bool:
        with self.lock:
            return self.process is not None and self.process.poll() is not None

    def stop(self) -> None:
        with self.lock:
            if self.process is not None and self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait()
        self.log.close()


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "services.cli.main", *args]


class System:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        logs = workdir / "logs"
        logs.mkdir(parents=True)
        self.redis_port, self.sandbox_port = free_port(), free_port()
        self.receiver_ports = [free_port(), free_port()]
        (workdir / "redis").mkdir()
        base = {
            **os.environ,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "MPWH_KEY_PREFIX": "chaos",
            "MP_WEBHOOK_SECRET": SECRET,
            "API_TOKEN": API_TOKEN,
            "MP_ACCESS_TOKEN": MP_TOKEN,
            "GHL_API_TOKEN": GHL_TOKEN,
            "GHL_LOCATION_ID": LOCATION,
            "MP_API_BASE_URL": f"http://127.0.0.1:{self.sandbox_port}/mp",
            "GHL_API_BASE_URL": f"http://127.0.0.1:{self.sandbox_port}/ghl",
            "RETRY_DELAYS": RETRY_DELAYS,
            "JOB_TIMEOUT_SECONDS": "20",
            "SCHEDULER_INTERVAL_SECONDS": "0.5",
            "RECONCILE_INTERVAL_SECONDS": "2",
            "RECONCILE_SWEEP_WINDOW_MINUTES": "5",
            "LOG_LEVEL": "WARNING",
        }
        self.env = base
        self.redis = Process(
            "redis",
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--dir",
                str(workdir / "redis"),
            ],
            base,
            logs,
            self.redis_port,
        )
        self.sandbox = Process(
            "sandbox", _cli("sandbox", "--port", str(self.sandbox_port)), base, logs, self.sandbox_port
        )
        self.receivers = [
            Process(f"receiver-{n}", _cli("receiver", "--host", "127.0.0.1", "--port", str(port)), base, logs, port)
            for n, port in enumerate(self.receiver_ports, 1)
        ]
        self.workers = [
            Process(f"worker-{n}", _cli("worker"), {**base, "METRICS_PORT": str(free_port())}, logs) for n in (1, 2)
        ]
        self.scheduler = Process("scheduler", _cli("scheduler"), {**base, "METRICS_PORT": str(free_port())}, logs)
        self.reconciler = Process("reconciler", _cli("reconcile", "--loop"), base, logs)
        self.supervised = [self.sandbox, *self.receivers, *self.workers, self.scheduler, self.reconciler]
        self.running = True

    @property
    def everything(self) -> list[Process]:
        return [self.redis, *self.supervised]

    def start(self) -> None:
        for process in self.everything:
            process.start()
        threading.Thread(target=self._supervise, daemon=True).start()

    def _supervise(self) -> None:
        """Restarts what died by itself (a worker losing Redis, say), as Kubernetes would."""
        while self.running:
            for process in self.supervised:
                if self.running and not process.held and process.exited():
                    process.crash_restarts += 1
                    process.start()
            time.sleep(0.5)

    def stop(self) -> None:
        self.running = False
        for process in reversed(self.everything):
            process.stop()

    def worker_metric_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{w.env['METRICS_PORT']}/metrics" for w in self.workers]


# -- load --------------------------------------------------------------------------


@dataclass
class Sent:
    """One notification as Mercado Pago sends it, until it is answered 200."""

    payment_id: str
    status: str | None  # the payment's status it announces (None: a repeat or an IPN)
    first_sent: float
    answers: list[tuple[float, int]] = field(default_factory=list)
    event_id: str | None = None


@dataclass
class Load:
    sent: list[Sent] = field(default_factory=list)
    connection_errors: int = 0
    # (payment, status) -> when its change was first announced
    announced: dict[tuple[str, str], float] = field(default_factory=dict)
    final_status: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _signature(data_id: str, request_id: str) -> str:
    ts = str(int(time.time()))
    manifest = f"id:{data_id};request-id:{request_id};ts:{ts};"
    return f"ts={ts},v1={hmac.new(SECRET.encode(), manifest.encode(), hashlib.sha256).hexdigest()}"


class Generator:
    def __init__(self, system: System, load: Load, rng: random.Random, until: float) -> None:
        self.system, self.load, self.rng, self.until = system, load, rng, until
        self.control = httpx.Client(base_url=f"http://127.0.0.1:{system.sandbox_port}/sandbox", timeout=30)
        self.payments: dict[str, int] = {}  # payment -> index of its status in STATUSES
        self.bodies: list[tuple[str, str, bytes]] = []  # what was sent, for duplicates
        self.updated = time.time()
        self.lock = threading.Lock()

    def _set_status(self, payment_id: str, index: int) -> str:
        with self.lock:
            self.updated = max(time.time(), self.updated + 0.002)
            updated = self.updated
            self.payments[payment_id] = index
        status = STATUSES[index]
        email = f"buyer-{payment_id}@example.com"
        self.control.put(f"/payments/{payment_id}", json={"status": status, "email": email, "updated": updated})
        with self.load.lock:
            self.load.announced.setdefault((payment_id, status), time.time())
            self.load.final_status[payment_id] = status
        return status

    def _send(self, client: httpx.Client, sent: Sent, query: str, body: bytes, request_id: str | None) -> None:
        with self.load.lock:
            self.load.sent.append(sent)
        headers = {"content-type": "application/json"}
        if request_id is not None:
            headers |= {"x-request-id": request_id, "x-signature": _signature(sent.payment_id, request_id)}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            port = self.rng.choice(self.system.receiver_ports)
            try:
                response = client.post(f"http://127.0.0.1:{port}/webhooks/mp?{query}", content=body, headers=headers)
            except httpx.HTTPError:
                with self.load.lock:
                    self.load.connection_errors += 1
                time.sleep(0.2)
                continue
            sent.answers.append((time.time(), response.status_code))
            if response.status_code == 200:
                sent.event_id = response.json()["event_id"]
                return
            if response.status_code != 503:
                return  # a 4xx is a finding: the invariants report it
            time.sleep(0.2)

    def _webhook(self, client: httpx.Client, payment_id: str, status: str | None) -> None:
        request_id = uuid.uuid4().hex
        body = {
            "id": self.rng.randrange(10**10, 10**11),
            "type": "payment",
            "action": "payment.updated",
            "live_mode": False,
            "data": {"id": payment_id},
        }
        raw = json.dumps(body).encode()
        query = f"data.id={payment_id}&type=payment"
        with self.lock:
            self.bodies.append((payment_id, query, raw))
        self._send(client, Sent(payment_id, status, time.time()), query, raw, request_id)

    def step(self, client: httpx.Client) -> None:
        draw = self.rng.random()
        with self.lock:
            advancing = [p for p, i in self.payments.items() if i + 1 < len(STATUSES)]
            known = list(self.payments)
        if draw < 0.35 or not advancing:
            payment_id = str(self.rng.randrange(10**9, 10**10))
            self._webhook(client, payment_id, self._set_status(payment_id, 0))
        elif draw < 0.55:
            payment_id = self.rng.choice(advancing)
            self._webhook(client, payment_id, self._set_status(payment_id, self.payments[payment_id] + 1))
        elif draw < 0.70 and len(advancing) > 0:
            # Two changes, announced newest first.
            payment_id = self.rng.choice(advancing)
            first = self._set_status(payment_id, self.payments[payment_id] + 1)
            second = None
            if self.payments[payment_id] + 1 < len(STATUSES):
                second = self._set_status(payment_id, self.payments[payment_id] + 1)
                self._webhook(client, payment_id, second)
            self._webhook(client, payment_id, first)
        elif draw < 0.85:
            with self.lock:
                payment_id, query, raw = self.rng.choice(self.bodies) if self.bodies else (None, "", b"")
            if payment_id is not None:
                # A repeat of the same notification (same id and body, new delivery).
                self._send(client, Sent(payment_id, None, time.time()), query, raw, uuid.uuid4().hex)
        elif known:
            payment_id = self.rng.choice(known)
            self._send(client, Sent(payment_id, None, time.time()), f"topic=payment&id={payment_id}", b"", None)

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while time.time() < self.until:
                self.step(client)
                # About 2 notifications a second per sender: what two workers on a
                # shared 2-CPU machine keep up with through every fault.
                time.sleep(self.rng.uniform(0.3, 0.7))


# -- chaos -------------------------------------------------------------------------


@dataclass
class Chaos:
    kills: Counter[str] = field(default_factory=Counter)
    redis_down: list[tuple[float, float]] = field(default_factory=list)
    outages: list[tuple[str, float, float]] = field(default_factory=list)


BACKGROUND = {"error_rate": 0.02, "throttle_rate": 0.05, "timeout_rate": 0.003, "latency_seconds": 0.05}


def _set_chaos(system: System, upstream: str, **chaos: Any) -> None:
    url = f"http://127.0.0.1:{system.sandbox_port}/sandbox/chaos/{upstream}"
    httpx.put(url, json=chaos, timeout=10).raise_for_status()


def _kill_and_restart(process: Process, down_seconds: float) -> tuple[float, float]:
    down = time.time()
    process.held = True
    process.kill()
    time.sleep(down_seconds)
    process.start()
    process.held = False
    return down, time.time()


def _wait_for_redis(system: System, timeout: float = 60.0) -> float:
    client = redis.Redis(port=system.redis_port, socket_timeout=1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client.ping()
            return time.time()
        except redis.RedisError:
            time.sleep(0.1)
    raise RuntimeError("Redis did not come back")


def plan(profile: Profile, rng: random.Random) -> list[tuple[float, str]]:
    """(seconds into the load, action): each kind `kills` times, spread over the load."""
    kinds = ["receiver", "worker", "scheduler", "redis", "outage:mp", "outage:ghl"]
    span = profile.load_seconds - profile.outage_seconds - 5
    return sorted((rng.uniform(3, span), kind) for kind in kinds for _ in range(profile.kills))


def run_chaos(system: System, profile: Profile, rng: random.Random, started: float, chaos: Chaos) -> None:
    for upstream in ("mp", "ghl"):
        _set_chaos(system, upstream, **BACKGROUND)
    threads: list[threading.Thread] = []
    for at, kind in plan(profile, rng):
        time.sleep(max(0.0, started + at - time.time()))
        if kind == "receiver":
            _kill_and_restart(rng.choice(system.receivers), 1.0)
        elif kind == "worker":
            # Soon after a tag, to catch attempts between the call and its record.
            _kill_and_restart(rng.choice(system.workers), 0.5)
        elif kind == "scheduler":
            _kill_and_restart(system.scheduler, 0.5)
        elif kind == "redis":
            down, _ = _kill_and_restart(system.redis, 3.0)
            # Down until it answers again: it first replays its append-only file (LOADING).
            chaos.redis_down.append((down, _wait_for_redis(system)))
        else:
            upstream = kind.split(":")[1]

            def outage(upstream: str = upstream) -> None:
                begin = time.time()
                _set_chaos(system, upstream, **BACKGROUND, outage=True)
                time.sleep(profile.outage_seconds)
                _set_chaos(system, upstream, **BACKGROUND)
                chaos.outages.append((upstream, begin, time.time()))

            threads.append(threading.Thread(target=outage))
            threads[-1].start()
        chaos.kills[kind] += 1
    for thread in threads:
        thread.join()


class BreakerWatch:
    """Counts openings of mpwh_upstream_breaker_open (issue #15's breakers); 'n/a' while
    no worker exports it."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.seen = False
        self.openings = 0
        self.open: set[str] = set()
        self.running = True

    def run(self) -> None:
        while self.running:
            now_open: set[str] = set()
            for url in self.urls:
                try:
                    text = httpx.get(url, timeout=2).text
                except httpx.HTTPError:
                    continue
                for line in text.splitlines():
                    if line.startswith("mpwh_upstream_breaker_open{"):
                        self.seen = True
                        if float(line.rsplit(" ", 1)[1]) >= 1:
                            now_open.add(line.split("{", 1)[1].split("}", 1)[0])
            self.openings += len(now_open - self.open)
            self.open = now_open
            time.sleep(1.0)

    @property
    def figure(self) -> str:
        return str(self.openings) if self.seen else "n/a"


# -- checking ----------------------------------------------------------------------


@dataclass
class Row:
    name: str
    ok: bool | None  # None: a figure, not an invariant
    detail: str


@dataclass
class Report:
    rows: list[Row]
    seconds: float

    @property
    def failures(self) -> list[Row]:
        return [row for row in self.rows if row.ok is False]

    def table(self) -> str:
        width = max(len(row.name) for row in self.rows)
        lines = [f"{'check':<{width}}  result  detail", f"{'-' * width}  ------  ------"]
        for row in self.rows:
            mark = "-" if row.ok is None else ("PASS" if row.ok else "FAIL")
            lines.append(f"{row.name:<{width}}  {mark:<6}  {row.detail}")
        lines.append(f"wall time {self.seconds:.0f}s")
        return "\n".join(lines)


def _drain(store: EventStore, timeout: float) -> dict[EventStatus, int]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            by_status = store.pipeline().by_status
        except redis.RedisError:
            by_status = {}
        open_ = by_status.get(EventStatus.PENDING, 1) + by_status.get(EventStatus.PROCESSING, 1)
        if open_ == 0 or time.monotonic() > deadline:
            return by_status
        time.sleep(1.0)


def _during(moment: float, windows: list[tuple[float, float]], grace: float) -> bool:
    return any(begin <= moment <= end + grace for begin, end in windows)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def check(
    system: System, load: Load, chaos: Chaos, breakers: BreakerWatch, store: EventStore, drain_timeout: float
) -> list[Row]:
    rows: list[Row] = []
    by_status = _drain(store, drain_timeout)
    answers = [answer for sent in load.sent for answer in sent.answers]
    stored = [sent for sent in load.sent if sent.event_id]
    missing = [s.event_id for s in stored if s.event_id and store.get(s.event_id) is None]
    rows.append(
        Row("every 200 is stored (by event id)", not missing, f"{len(stored)} answered 200, {len(missing)} lost")
    )
    bad = [
        (at, code)
        for at, code in answers
        if code >= 500 and not (code == 503 and _during(at, chaos.redis_down, REDIS_GRACE_SECONDS))
    ]
    refused = [(at, code) for at, code in answers if 400 <= code < 500]
    rows.append(
        Row("no 5xx but 503 while Redis was down", not bad, f"{len(bad)} other 5xx {Counter(c for _, c in bad)}")
    )
    rows.append(Row("no signed notification refused (4xx)", not refused, f"{len(refused)} 4xx"))
    retried = [s for s in load.sent if any(code == 503 for _, code in s.answers)]
    unstored = [s for s in retried if s.event_id is None]
    rows.append(
        Row("every 503 retried until stored", not unstored, f"{len(retried)} got a 503, {len(unstored)} never stored")
    )
    left = {status: by_status.get(status, 0) for status in EventStatus if status != EventStatus.SUCCESS}
    rows.append(
        Row(
            "every event success",
            sum(left.values()) == 0,
            f"{by_status.get(EventStatus.SUCCESS, 0)} success; " + ", ".join(f"{s} {n}" for s, n in left.items()),
        )
    )
    client = store.redis
    wrong = {
        p: (want, (client.hget(store.keys.payment(p), "status") or b"").decode())
        for p, want in load.final_status.items()
        if (client.hget(store.keys.payment(p), "status") or b"").decode() != want
    }
    rows.append(
        Row(
            "each payment holds its newest state",
            not wrong,
            f"{len(load.final_status)} payments, {len(wrong)} not newest",
        )
    )
    rows.extend(_tag_rows(system, load, store, chaos))
    rows.append(Row("notifications sent", None, str(len(load.sent))))
    rows.append(
        Row("answers 200 / 503", None, f"{sum(c == 200 for _, c in answers)} / {sum(c == 503 for _, c in answers)}")
    )
    rows.append(Row("connection errors (receiver down)", None, str(load.connection_errors)))
    kills = ", ".join(f"{kind} {n}" for kind, n in sorted(chaos.kills.items()))
    rows.append(Row("kills and outages", None, kills))
    rows.append(Row("Redis restarts", None, str(len(chaos.redis_down))))
    crashes = ", ".join(f"{p.name} {p.crash_restarts}" for p in system.supervised if p.crash_restarts) or "none"
    rows.append(Row("restarts after a crash", None, crashes))
    rows.append(Row("breaker openings", None, breakers.figure))
    return rows


def _tag_rows(system: System, load: Load, store: EventStore, chaos: Chaos) -> list[Row]:
    control = f"http://127.0.0.1:{system.sandbox_port}/sandbox"
    contacts = {c["id"]: c["email"] for c in httpx.get(f"{control}/contacts", timeout=30).json()}
    calls = httpx.get(
        f"{control}/calls", params={"upstream": "ghl", "method": "POST", "path_prefix": "/contacts/"}, timeout=30
    ).json()
    applied: dict[tuple[str, str], list[float]] = defaultdict(list)
    unknown = 0
    for call in calls:
        if not call["path"].endswith("/tags") or call["status"] != 200:
            continue
        email = contacts.get(call["path"].split("/")[2])
        if email is None:
            unknown += 1
            continue
        payment_id = email.removeprefix("buyer-").split("@")[0]
        for tag in call["body"]["tags"]:
            applied[(payment_id, tag.removeprefix("mp-payment-"))].append(call["at"])
    client = store.redis
    untagged = [p for p, status in load.final_status.items() if not applied.get((p, status))]
    recorded = {
        (p, status.decode()) for p in load.final_status for status in client.smembers(store.keys.payment_tagged(p))
    }
    never_called = [key for key in recorded if not applied.get(key)]
    # Attempts that could not record a tag GoHighLevel applied: killed (then abandoned or
    # stale), or whose tags call timed out (the answer, and so the outcome, never reached
    # the worker). The only ones allowed to have tagged before a later attempt tagged again.
    unrecorded: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for sent in load.sent:
        event = store.get(sent.event_id) if sent.event_id else None
        for entry in event.history if event else []:
            unknown_answer = "/tags: timeout" in (entry.get("error") or "")
            if entry.get("outcome") in ("abandoned", "stale") or unknown_answer:
                unrecorded[sent.payment_id].append(
                    (entry.get("started_at") or 0.0, entry.get("ended_at") or time.time())
                )
    extra = explained = 0
    for (payment_id, _status), times in applied.items():
        # Each call after the first means an earlier call's record was lost: that earlier
        # call must lie inside an attempt that ended without recording.
        for earlier in sorted(times)[:-1]:
            extra += 1
            explained += any(begin <= earlier <= end for begin, end in unrecorded[payment_id])
    delays = [min(applied[key]) - first for key, first in load.announced.items() if applied.get(key)]
    figures = (
        f"p50 {statistics.median(delays):.2f}s, p99 {_percentile(delays, 0.99):.2f}s, max {max(delays):.2f}s"
        if delays
        else "none tagged"
    )
    return [
        Row(
            "each payment's newest status tagged",
            not untagged,
            f"{len(load.final_status) - len(untagged)}/{len(load.final_status)} payments",
        ),
        Row(
            "every recorded tag was called",
            not never_called,
            f"{len(recorded)} (payment, status) recorded, {len(never_called)} without a call",
        ),
        Row(
            "extra tag calls only where unknowable",
            explained == extra,
            f"{extra} extra, {explained} after an attempt killed mid-way or a tags call timed out",
        ),
        Row("tags applied to unknown contacts", unknown == 0, str(unknown)),
        Row("notification -> tag", None, figures),
    ]


# -- the run -----------------------------------------------------------------------


def run(profile: Profile, keep: bool = False) -> Report:
    began = time.monotonic()
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not on PATH (./scripts/test installs one into .tools/bin)")
    workdir = Path(tempfile.mkdtemp(prefix="mpwh-chaos-"))
    rng = random.Random(profile.seed)
    system = System(workdir)
    load, chaos = Load(), Chaos()
    system.start()
    breakers = BreakerWatch(system.worker_metric_urls())
    threading.Thread(target=breakers.run, daemon=True).start()
    settings = load_settings(system.env)
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=10)
    store = EventStore(client, EventCalls(settings))
    try:
        started = time.time()
        until = started + profile.load_seconds
        senders = [
            threading.Thread(target=Generator(system, load, random.Random(rng.random()), until).run)
            for _ in range(profile.senders)
        ]
        for sender in senders:
            sender.start()
        run_chaos(system, profile, rng, started, chaos)
        for sender in senders:
            sender.join()
        for upstream in ("mp", "ghl"):
            _set_chaos(system, upstream)
        rows = check(system, load, chaos, breakers, store, profile.drain_timeout)
    finally:
        breakers.running = False
        system.stop()
        client.close()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    rows.insert(0, Row("seed", None, f"{profile.seed} (logs: {workdir if keep else 'removed; --keep to keep'})"))
    return Report(rows, time.monotonic() - began)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, help="a longer run of about this many minutes (default: short ~90 s)")
    parser.add_argument("--seed", type=int, help="replay the same random choices")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory (process logs, Redis files)")
    args = parser.parse_args()
    profile = Profile.minutes(args.minutes, args.seed) if args.minutes else Profile.short(args.seed)
    report = run(profile, keep=args.keep)
    print(report.table())
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
