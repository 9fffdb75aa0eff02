"""The chart's optional redis_exporter sidecar, run for real: Debian's
prometheus-redis-exporter (scripts/tools/install-redis-exporter) started with exactly the
environment the rendered sidecar gets (its address moved to a private redis-server here)
exposes `redis_up` and the memory series the Redis alerts are built on."""

from __future__ import annotations

import base64
import re
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.deploy.conftest import Rendered, pod_template, tool
from tests.support.servers import PrivateRedis, free_port

# What the alerts read: is Redis up, how much memory it uses against its maxmemory.
SERIES = ("redis_up", "redis_memory_used_bytes", "redis_memory_max_bytes")


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


def scrape(port: int, deadline: float) -> str:
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3) as response:
                return response.read().decode()
        except OSError as error:
            last = error
            time.sleep(0.1)
    pytest.fail(f"the exporter did not answer on :{port}: {last}", pytrace=False)


def exporter_env(rendered: Rendered) -> dict[str, str]:
    [sidecar] = [
        c
        for c in pod_template(rendered.component("StatefulSet", "redis"))["spec"]["containers"]
        if c["name"] == "metrics"
    ]
    secrets = {s["metadata"]["name"]: s.get("data", {}) for s in rendered.of_kind("Secret")}

    def value(entry: dict[str, Any]) -> str:
        if "value" in entry:
            return str(entry["value"])
        ref = entry["valueFrom"]["secretKeyRef"]
        return base64.b64decode(secrets[ref["name"]][ref["key"]]).decode()

    return {e["name"]: value(e) for e in sidecar["env"]}


def test_exporter_exposes_redis_up_and_memory(render: Callable[[str], Rendered]) -> None:
    env = exporter_env(render("long-release"))
    # The bundled Redis requires the password the exporter gets from the same Secret.
    private_redis = PrivateRedis(password=env["REDIS_PASSWORD"])
    private_redis.start()
    try:
        _scrape_exporter(env, private_redis)
    finally:
        private_redis.cleanup()


def _scrape_exporter(env: dict[str, str], private_redis: PrivateRedis) -> None:
    # The sidecar shares the pod's network: 127.0.0.1:6379 there is this private server here.
    assert env["REDIS_ADDR"] == "redis://127.0.0.1:6379"
    port = free_port()
    env["REDIS_ADDR"] = env["REDIS_ADDR"].replace(":6379", f":{private_redis.port}")
    env["REDIS_EXPORTER_WEB_LISTEN_ADDRESS"] = f"127.0.0.1:{port}"
    private_redis.client().config_set("maxmemory", "64mb")
    process = subprocess.Popen(
        [tool("redis_exporter", "scripts/tools/install-redis-exporter")],
        env={"PATH": "/usr/bin:/bin", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        text = scrape(port, time.monotonic() + 20)
        values = {
            name: float(match.group(1)) for name in SERIES if (match := re.search(rf"^{name} (\S+)$", text, re.M))
        }
        assert set(values) == set(SERIES), f"missing {set(SERIES) - set(values)}"
        assert values["redis_up"] == 1
        assert values["redis_memory_max_bytes"] == 64 * 1024**2
        assert 0 < values["redis_memory_used_bytes"] < values["redis_memory_max_bytes"]
        # Redis gone: the exporter keeps answering, with redis_up 0 (what the alert fires on).
        private_redis.stop()
        down = scrape(port, time.monotonic() + 20)
        assert re.search(r"^redis_up 0$", down, re.M), down[:2000]
    finally:
        process.terminate()
        process.wait(timeout=10)
