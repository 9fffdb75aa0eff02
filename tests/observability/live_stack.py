"""A real, local mp-webhooks watched by a real Prometheus, for
tests/observability/test_live_prometheus.py.

- `Process`: a component subprocess in its own session (killed by its id at the end),
  its output in a log file so failures can show it.
- `RedisExporter`: Debian's prometheus-redis-exporter, as the chart's optional sidecar.
- `Pushgateway`: Debian's prometheus-pushgateway on a free port, which
  `mp-webhooks reconcile` pushes to through PUSHGATEWAY_URL as in production.
- `Prometheus`: Debian's prometheus on a free port (never 9090) with a config written
  for the test, and a small client for its HTTP API.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.observability.paths import ROOT, tool

# --------------------------------------------------------------------------- processes


class Process:
    """A subprocess in its own session; stop() kills its process group by id."""

    def __init__(self, name: str, command: Sequence[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.command = list(command)
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.command, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT
        )

    def restart(self) -> None:
        """The same command again, as the kubelet restarts a container that exited; the
        log goes on in the same file."""
        self.stop()
        self._log = self.log_path.open("ab")
        self.process = self._spawn()

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return f"--- last lines of {self.name} ({self.log_path}) ---\n" + "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def component_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "services.cli.main", *args]


def process_env(env: dict[str, str]) -> dict[str, str]:
    """The component's environment on top of ours, never believing it runs in a cluster."""
    full = {**os.environ, **env}
    full.pop("KUBERNETES_SERVICE_HOST", None)
    return full


def start_server(name: str, command: Sequence[str], ready_url: str, workdir: Path, timeout: float = 30.0) -> Process:
    """Starts a server and waits until ready_url answers 200 (Prometheus and the
    Pushgateway both serve /-/ready)."""
    process = Process(name, command, dict(os.environ), workdir)
    deadline = time.monotonic() + timeout
    while True:
        if not process.alive():
            raise AssertionError(f"{name} exited at start-up\n" + process.log_tail())
        try:
            if httpx.get(ready_url, timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.stop()
            raise AssertionError(f"{name} not ready after {timeout}s\n" + process.log_tail())
        time.sleep(0.1)


# ------------------------------------------------------------------------ pushgateway


class Pushgateway:
    """Debian's prometheus-pushgateway on 127.0.0.1:<port>, keeping pushes in memory only
    (the package's default persistence file is the system service's)."""

    def __init__(self, workdir: Path, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        command = [
            tool("prometheus-pushgateway"),
            f"--web.listen-address=127.0.0.1:{port}",
            "--persistence.file=",
            "--log.level=warn",
        ]
        self.process = start_server("pushgateway", command, f"{self.url}/-/ready", workdir)

    def stop(self) -> None:
        self.process.stop()


# --------------------------------------------------------------------- redis_exporter


class RedisExporter:
    """Debian's prometheus-redis-exporter on 127.0.0.1:<port> watching the stack's Redis,
    as the chart's sidecar does (redis.metrics.enabled). It keeps answering while Redis is
    down, with redis_up 0."""

    def __init__(self, workdir: Path, port: int, redis_url: str) -> None:
        self.port = port
        command = [tool("redis_exporter"), "-redis.addr", redis_url, "-web.listen-address", f"127.0.0.1:{port}"]
        self.process = start_server("redis_exporter", command, f"http://127.0.0.1:{port}/metrics", workdir)

    def stop(self) -> None:
        self.process.stop()


# ------------------------------------------------------------------------- prometheus


class Prometheus:
    """prometheus on 127.0.0.1:<port>, scraping every second, with the given rule files."""

    def __init__(self, workdir: Path, port: int, jobs: dict[str, dict[str, Any]], rule_files: Iterable[Path]) -> None:
        self.workdir = workdir
        self.port = port
        self.config_path = workdir / "prometheus.yml"
        scrape_configs = []
        for job, spec in jobs.items():
            config: dict[str, Any] = {
                "job_name": job,
                "static_configs": [{"targets": [spec["target"]], "labels": spec.get("labels", {})}],
            }
            if spec.get("honor_labels"):
                config["honor_labels"] = True
            scrape_configs.append(config)
        self.config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": scrape_configs,
        }
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        self.process: Process | None = None
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        self.started_at = 0.0

    def start(self) -> None:
        command = [
            tool("prometheus"),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        self.started_at = time.time()
        self.process = start_server("prometheus", command, f"http://127.0.0.1:{self.port}/-/ready", self.workdir)

    def stop(self) -> None:
        self.client.close()
        if self.process is not None:
            self.process.stop()

    def api(self, path: str, **params: Any) -> dict[str, Any]:
        """GET /api/v1/<path>; the whole answer (status, data or errorType/error)."""
        response = self.client.get(f"/api/v1/{path}", params=params)
        try:
            return response.json()
        except ValueError:
            return {"status": "error", "errorType": f"HTTP {response.status_code}", "error": response.text[:500]}

    def query(self, expr: str, at: float | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return self.api("query", **params)

    def query_range(self, expr: str, start: float, end: float, step: float = 1.0) -> dict[str, Any]:
        return self.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step=str(step))

    def vector(self, expr: str) -> list[dict[str, Any]]:
        """An instant query that must succeed; its result list."""
        answer = self.query(expr)
        assert answer.get("status") == "success", f"{expr}: {answer}"
        return answer["data"]["result"]

    def scalar_sum(self, expr: str) -> float | None:
        """The sum of an instant vector's values, None when it is empty."""
        result = self.vector(expr)
        return sum(float(item["value"][1]) for item in result) if result else None
