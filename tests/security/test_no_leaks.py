"""No secret leaks (issue #13 item 5): one scenario through every component, run as real
processes with every secret set to a value nothing else could contain, and then every
line they wrote, every /metrics page, every Pushgateway push, every HTTP answer (error
bodies included) and every byte in Redis searched for those values. Payers' e-mail
addresses reach Redis (the payment's state) but no log line at the production level."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request

from services.sandbox.app import create_sandbox
from services.sandbox.state import SandboxState
from tests.receiver.conftest import signature, webhook_body
from tests.support.servers import PrivateRedis, free_port, serve_app, wait_for_port
from tests.support.waiting import wait_until


def _secret(name: str) -> str:
    return f"{name}-{secrets.token_hex(8)}"


SECRETS = {
    "MP_WEBHOOK_SECRET": _secret("whsec"),
    "MP_ACCESS_TOKEN": _secret("APP_USR-mptok"),
    "GHL_API_TOKEN": _secret("pit-ghltok"),
    "API_TOKEN": _secret("optok"),
    "API_TOKEN_NEXT": _secret("optok2"),  # the second of a rotation's pair
    "API_READ_TOKEN": _secret("readtok"),
    "REDIS_PASSWORD": _secret("redispw"),
}
EMAILS = [f"payer-{secrets.token_hex(4)}@example.com" for _ in range(3)]
GHL_VERSION, LOCATION = "2021-07-28", "loc-leak"


def forbidden() -> dict[str, str]:
    """name -> text that must not appear: each whole value and its random part alone
    (a value cut or wrapped by a formatter still shows that)."""
    found = {}
    for name, value in SECRETS.items():
        found[name] = value
        found[f"{name} (random part)"] = value.rsplit("-", 1)[1]
    return found


@dataclass
class Scene:
    redis: PrivateRedis
    sandbox: SandboxState
    env: dict[str, str]
    logs: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    metrics_ports: dict[str, int] = field(default_factory=dict)
    seen: dict[str, str] = field(default_factory=dict)  # where -> text collected
    pushes: list[str] = field(default_factory=list)  # bodies the Pushgateway received

    def start(self, name: str, *args: str, **env: str) -> subprocess.Popen:
        out = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", *args],
            env={**self.env, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = process
        return process

    def run(self, name: str, *args: str, expect: int = 0, **env: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "services.cli.main", *args],
            env={**self.env, "METRICS_PORT": str(free_port()), **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.seen[f"{name} (stdout)"] = result.stdout
        self.seen[f"{name} (stderr)"] = result.stderr
        assert result.returncode == expect, result.stdout + result.stderr
        return result.stdout

    def answer(self, name: str, response: httpx.Response) -> httpx.Response:
        self.seen[f"HTTP {name}"] = f"{response.headers}\n{response.text}"
        return response

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def component_logs(self) -> dict[str, str]:
        return {f"{path.stem} (output)": path.read_text(errors="replace") for path in self.logs.glob("*.log")}

    def redis_contents(self) -> str:
        """Every key and every value of the Redis, whatever its type."""
        client = self.redis.client()
        parts = []
        for key in client.scan_iter(count=1000):
            kind = client.type(key).decode()
            value = {
                "string": client.get,
                "hash": client.hgetall,
                "list": lambda name: client.lrange(name, 0, -1),
                "set": client.smembers,
                "zset": lambda name: client.zrange(name, 0, -1, withscores=True),
                "stream": client.xrange,
            }[kind](key)
            parts.append(f"{key!r} {kind} {value!r}")
        assert parts, "the scenario stored nothing"
        return "\n".join(parts)


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    with ExitStack() as stack:
        redis = PrivateRedis(password=SECRETS["REDIS_PASSWORD"])
        redis.start()
        stack.callback(redis.cleanup)
        state = SandboxState(SECRETS["MP_ACCESS_TOKEN"], SECRETS["GHL_API_TOKEN"], GHL_VERSION, LOCATION)
        sandbox_url = stack.enter_context(serve_app(create_sandbox(state)))
        pushes: list[str] = []  # the Scene's, once made
        gateway = FastAPI()

        @gateway.post("/metrics/{path:path}")
        @gateway.put("/metrics/{path:path}")
        async def push(path: str, request: Request) -> dict[str, str]:
            pushes.append(f"{path}\n{(await request.body()).decode(errors='replace')}")
            return {}

        gateway_url = stack.enter_context(serve_app(gateway))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("MP_", "GHL_", "API_", "REDIS_"))},
            "REDIS_URL": redis.url,
            "REDIS_PASSWORD": SECRETS["REDIS_PASSWORD"],
            "MP_WEBHOOK_SECRET": SECRETS["MP_WEBHOOK_SECRET"],
            "MP_ACCESS_TOKEN": SECRETS["MP_ACCESS_TOKEN"],
            "GHL_API_TOKEN": SECRETS["GHL_API_TOKEN"],
            "GHL_LOCATION_ID": LOCATION,
            "GHL_API_VERSION": GHL_VERSION,
            "API_TOKEN": f"{SECRETS['API_TOKEN']},{SECRETS['API_TOKEN_NEXT']}",
            "API_READ_TOKEN": SECRETS["API_READ_TOKEN"],
            "MP_API_BASE_URL": f"{sandbox_url}/mp",
            "GHL_API_BASE_URL": f"{sandbox_url}/ghl",
            "PUSHGATEWAY_URL": gateway_url,
            "RETRY_DELAYS": "1,1,1",
            "MPWH_KEY_PREFIX": "leak",
            "LOG_LEVEL": "INFO",  # the production level
            "PYTHONUNBUFFERED": "1",
        }
        logs = tmp_path / "logs"
        logs.mkdir()
        scene = Scene(redis, state, env, logs, pushes=pushes)
        stack.callback(scene.stop_all)
        yield scene


def _signed_post(http: httpx.Client, data_id: str, secret: str) -> httpx.Response:
    ts = str(int(time.time()))
    headers = {"x-signature": signature(secret, data_id, "req-leak", ts), "x-request-id": "req-leak"}
    return http.post("/webhooks/mp", json=webhook_body(data_id), headers=headers)


def _scenario(scene: Scene) -> None:
    sandbox = scene.sandbox
    for number, email in enumerate(EMAILS):
        sandbox.put_payment(f"5500{number}", "approved", email=email)
    # One contact search fails (the scheduler brings a retry), one upsert is refused
    # for good: the failure paths log the upstream's error.
    sandbox.fail_next("ghl", "GET", "/contacts/search", 500)
    sandbox.fail_next("ghl", "POST", "/contacts/", 422)

    port = free_port()
    scene.start("receiver", "receiver", "--host", "127.0.0.1", "--port", str(port))
    for component in ("worker", "scheduler"):
        scene.metrics_ports[component] = free_port()
        scene.start(component, component, METRICS_PORT=str(scene.metrics_ports[component]))
    wait_for_port(port, timeout=30)
    operator = {"Authorization": f"Bearer {SECRETS['API_TOKEN_NEXT']}"}
    reader = {"Authorization": f"Bearer {SECRETS['API_READ_TOKEN']}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        event_ids = []
        for number in range(len(EMAILS)):
            response = scene.answer(
                f"webhook {number}", _signed_post(http, f"5500{number}", SECRETS["MP_WEBHOOK_SECRET"])
            )
            assert response.status_code == 200, response.text
            event_ids.append(response.json()["event_id"])
        bad = scene.answer("bad signature", _signed_post(http, "55009", "not-the-secret"))
        assert bad.status_code == 401

        def settled() -> bool:
            statuses = {http.get(f"/api/webhook-events/{e}", headers=reader).json()["status"] for e in event_ids}
            return statuses <= {"success", "failed"}

        wait_until(settled, timeout=60, message=f"the three events to settle; logs in {scene.logs}")
        api = "/api/webhook-events"
        for name, method, path, headers, status in [
            ("list", "GET", api, reader, 200),
            ("stats", "GET", f"{api}/stats", operator, 200),
            *[(f"show {n}", "GET", f"{api}/{e}", reader, 200) for n, e in enumerate(event_ids)],
            ("show unknown", "GET", f"{api}/0000000000000abc", reader, 404),
            ("bad filter", "GET", f"{api}?limit=0", reader, 400),
            ("wrong token", "GET", api, {"Authorization": f"Bearer {SECRETS['API_TOKEN']}x"}, 401),
            ("no token", "GET", api, {}, 401),
            ("read-only retry", "POST", f"{api}/{event_ids[2]}/retry", reader, 403),
            ("retry", "POST", f"{api}/{event_ids[2]}/retry", operator, 202),
        ]:
            response = scene.answer(name, http.request(method, path, headers=headers))
            assert response.status_code == status, (name, response.text)
        wait_until(settled, timeout=60, message="the retried event to settle")
        scene.answer("receiver /metrics", http.get("/metrics"))
    for component, metrics_port in scene.metrics_ports.items():
        scene.answer(f"{component} /metrics", httpx.get(f"http://127.0.0.1:{metrics_port}/metrics"))

    # Operator commands and a reconcile pass (pushing to the Pushgateway).
    scene.run("events list", "events", "list")
    scene.run("events stats", "events", "stats")
    for number, event_id in enumerate(event_ids):
        scene.run(f"events show {number}", "events", "show", event_id)
        scene.run(f"events show {number} --json", "events", "show", "--json", event_id)
    scene.run("retry --dry-run", "retry", "--dry-run")
    scene.run("retry", "retry", "--id", event_ids[2], "--yes")
    scene.run("reconcile", "reconcile")
    # Start-up failures: a bad setting, a wrong Redis password, a port already taken
    # (a crash with a traceback).
    scene.run("bad setting", "worker", "--burst", expect=2, JOB_TIMEOUT_SECONDS="soon")
    scene.run("wrong redis password", "scheduler", "--burst", expect=2, REDIS_PASSWORD="nope")
    crashed = scene.start("crash", "worker", METRICS_PORT=str(scene.metrics_ports["worker"]))
    assert crashed.wait(timeout=30) != 0
    scene.stop_all()


def test_no_secret_appears_in_output_metrics_answers_or_redis(scene: Scene):
    _scenario(scene)
    assert "Traceback" in (scene.logs / "crash.log").read_text(), "the crash did not show a traceback"
    assert scene.pushes, "the reconciler pushed nothing"
    places = {
        **scene.component_logs(),
        **scene.seen,
        **{f"Pushgateway push {n}": body for n, body in enumerate(scene.pushes)},
        "Redis": scene.redis_contents(),
    }
    leaks = [
        f"{what} in {where}" for where, text in places.items() for what, needle in forbidden().items() if needle in text
    ]
    assert not leaks, "secrets leaked:\n" + "\n".join(leaks)
    # The sweep can see: the e-mail addresses are stored (the payment's state)...
    assert all(email in places["Redis"] for email in EMAILS)
    # ...but no component logs them at INFO, the production level.
    logged = [
        f"{email} in {where}" for where, text in scene.component_logs().items() for email in EMAILS if email in text
    ]
    assert not logged, "payer e-mail addresses logged:\n" + "\n".join(logged)
