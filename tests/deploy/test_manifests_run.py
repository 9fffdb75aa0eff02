"""The manifest-driven run: render the chart (ci/local-run-values.yaml), then start each
Deployment's container and the CronJob's container as a local process, with the command,
arguments and environment exactly as the manifest gives them (ConfigMap and Secret
references resolved, downward API filled in), against the local test Redis (database 14)
and a stub of Mercado Pago/GoHighLevel on 127.0.0.1. Each declared probe must answer on
its declared path and port, the metrics endpoint the ServiceMonitor scrapes must serve
mpwh_* metrics, SIGTERM must stop the process cleanly, and the CronJob's pass must exit 0.

Each process runs as PID 1 of its own PID namespace (`unshare --pid --fork`), as in a
container: there a signal without a handler is ignored, so a process that does not handle
SIGTERM fails here by ignoring it, and one that re-raises it after a clean shutdown
(uvicorn does) exits 0, as it does in a pod.

Ports: every declared container port is moved to a free local port by rewriting the
occurrences of its number in the arguments and the environment (the only places a
manifest can tell a process where to listen), so a wrong variable name or a port the
process does not take from its manifest fails here, before a user's pod does."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from tests.deploy.conftest import (
    CHART,
    NAMESPACE,
    RELEASE,
    Rendered,
    containers,
    pod_template,
    run_helm,
    template,
    values_file,
    venv_bin,
)
from tests.support.servers import flushed_redis, free_port

LONG_RUNNING = ["receiver", "worker", "scheduler", "console"]
CRONJOBS = ["reconciler", "retry"]
# The test Redis the scenario points at; flushed before and after each process.
EXPECTED_REDIS_URL = "redis://127.0.0.1:6379/14"
STARTUP_BUDGET_SECONDS = 45.0
STOP_BUDGET_SECONDS = 30.0
RECONCILE_BUDGET_SECONDS = 90.0


# --- a stand-in for Mercado Pago and GoHighLevel ---------------------------------------------


@dataclass
class UpstreamStub:
    """Answers the payments search with no results and 404 to anything else, recording
    every request (method, path, Authorization header)."""

    server: ThreadingHTTPServer
    requests: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def _stub_handler(stub_requests: list[tuple[str, str, str]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            stub_requests.append(("GET", self.path, self.headers.get("Authorization", "")))
            if self.path.split("?", 1)[0] == "/v1/payments/search":
                self._answer(200, {"results": [], "paging": {"total": 0, "limit": 50, "offset": 0}})
            else:
                self._answer(404, {"message": "not found", "status": 404})

        def do_POST(self) -> None:
            stub_requests.append(("POST", self.path, self.headers.get("Authorization", "")))
            self._answer(404, {"message": "not found", "status": 404})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def upstream() -> Iterator[UpstreamStub]:
    requests: list[tuple[str, str, str]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _stub_handler(requests))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield UpstreamStub(server, requests)
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def manifest(upstream: UpstreamStub) -> Rendered:
    # The upstream URLs are the only values set on the command line: the stub's port is
    # only known now. Everything else comes from the scenario file.
    return template(
        "-f",
        str(values_file("local-run")),
        "--set",
        f"config.mpApiBaseUrl={upstream.url}",
        "--set",
        f"config.ghlApiBaseUrl={upstream.url}",
    )


@pytest.fixture
def test_redis(manifest: Rendered) -> Iterator[redis.Redis]:
    url = configmap_data(manifest)["REDIS_URL"]
    assert url == EXPECTED_REDIS_URL, "the local-run scenario must use the test Redis database 14"
    client = flushed_redis(url)
    yield client
    client.flushdb()
    client.close()


# --- reading the manifest ---------------------------------------------------------------------


def configmap_data(rendered: Rendered) -> dict[str, str]:
    [configmap] = [c for c in rendered.of_kind("ConfigMap") if c["metadata"]["name"].endswith("-config")]
    return configmap["data"]


def secret_data(rendered: Rendered, name: str) -> dict[str, str] | None:
    for secret in rendered.of_kind("Secret"):
        if secret["metadata"]["name"] == name:
            data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
            data.update(secret.get("stringData") or {})
            return data
    return None


def resolve_env(rendered: Rendered, workload: dict[str, Any], container: dict[str, Any]) -> dict[str, str]:
    """The environment the kubelet would give the container. envFrom first, then env
    (env wins); a missing non-optional reference is a pod that would not start."""
    pod_name = f"{workload['metadata']['name']}-localrun-0"

    def source(kind: str, name: str) -> dict[str, str] | None:
        if kind == "configMap":
            found = [c["data"] for c in rendered.of_kind("ConfigMap") if c["metadata"]["name"] == name]
            return found[0] if found else None
        return secret_data(rendered, name)

    env: dict[str, str] = {}
    for ref in container.get("envFrom", []):
        kind = "configMap" if "configMapRef" in ref else "secret"
        target = ref[f"{kind}Ref"]
        data = source(kind, target["name"])
        assert data is not None or target.get("optional"), f"envFrom {kind} {target['name']} is not rendered"
        env.update({ref.get("prefix", "") + k: v for k, v in (data or {}).items()})
    for entry in container.get("env", []):
        name = entry["name"]
        if "value" in entry:
            env[name] = str(entry["value"])
            continue
        value_from = entry["valueFrom"]
        if "fieldRef" in value_from:
            path = value_from["fieldRef"]["fieldPath"]
            known = {"metadata.name": pod_name, "metadata.namespace": NAMESPACE}
            assert path in known, f"{name}: downward API field {path} is not simulated"
            env[name] = known[path]
            continue
        kind = "configMap" if "configMapKeyRef" in value_from else "secret"
        ref = value_from[f"{kind}KeyRef"]
        data = source(kind, ref["name"])
        if data is None or ref["key"] not in data:
            assert ref.get("optional"), (
                f"{name}: {kind} {ref['name']} has no key {ref['key']} (CreateContainerConfigError)"
            )
            continue
        env[name] = data[ref["key"]]
    return env


@dataclass
class LocalContainer:
    """A container of the manifest as a local process description."""

    argv: list[str]
    env: dict[str, str]
    ports: dict[str, int]  # container port name -> local port it listens on
    declared: dict[str, int]  # container port name -> declared containerPort


def localize(rendered: Rendered, workload: dict[str, Any], container: dict[str, Any], home: Path) -> LocalContainer:
    command = container.get("command")
    assert command, f"{container['name']}: the chart must set the command (the test does not read images)"
    argv = [str(a) for a in command + container.get("args", [])]
    env = resolve_env(rendered, workload, container)
    declared = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    ports: dict[str, int] = {}
    for name, number in declared.items():
        local = free_port()
        rewrites = 0
        for i, arg in enumerate(argv):
            if arg == str(number) or arg.endswith(f"={number}"):
                argv[i] = arg[: len(arg) - len(str(number))] + str(local)
                rewrites += 1
        for key, value in env.items():
            if value == str(number):
                env[key] = str(local)
                rewrites += 1
        assert rewrites, (
            f"{container['name']}: container port {name}={number} appears in neither its arguments "
            "nor its environment: nothing tells the process to listen there"
        )
        ports[name] = local
    # Listen on loopback only: 0.0.0.0 is right in a pod, not on a shared test machine.
    argv = ["127.0.0.1" if a == "0.0.0.0" else a for a in argv]
    # The console script comes from the project's virtualenv, as it does from the image's.
    argv[0] = venv_bin(argv[0]) if "/" not in argv[0] else argv[0]
    base = {
        "PATH": f"{Path(venv_bin('python')).parent}:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
    }
    return LocalContainer(argv, {**base, **env}, ports, declared)


def unshare() -> str:
    path = "/usr/bin/unshare"
    probe = (
        subprocess.run([path, "--pid", "--fork", "true"], capture_output=True, text=True, timeout=30)
        if os.path.exists(path)
        else None
    )
    if probe is None or probe.returncode != 0:
        pytest.fail(
            "the manifest-driven run needs `unshare --pid --fork` (util-linux, as root) to run each "
            f"process as PID 1 like a container: {probe.stderr if probe else 'unshare not found'}",
            pytrace=False,
        )
    return path


@dataclass
class Running:
    process: subprocess.Popen[bytes]  # unshare, which waits for the container process
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def pid1(self) -> int:
        """The host pid of the container process (PID 1 in its namespace)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pids = children.read_text().split() if children.exists() else []
            if pids:
                return int(pids[0])
            time.sleep(0.05)
        pytest.fail(f"no process under unshare:\n{self.output()}", pytrace=False)

    def terminate(self) -> None:
        """The kubelet's stop signal, from outside the container's PID namespace."""
        os.kill(self.pid1(), signal.SIGTERM)


@contextmanager
def started(local: LocalContainer, log: Path) -> Iterator[Running]:
    argv = [unshare(), "--pid", "--fork", "--kill-child", *local.argv]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            argv, env=local.env, cwd=local.env["HOME"], stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    running = Running(process, log)
    try:
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def http_get(port: int, path: str, timeout: float = 3.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def wait_for(running: Running, port: int, path: str, budget: float) -> tuple[int, str]:
    """Poll like the kubelet: success is 200-399; give up when the process exits or the
    budget runs out."""
    deadline = time.monotonic() + budget
    last: Any = None
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            pytest.fail(
                f"the process exited with {running.process.returncode} before {path} answered:\n{running.output()}",
                pytrace=False,
            )
        try:
            status, body = http_get(port, path)
            if 200 <= status < 400:
                return status, body
            last = status
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as error:
            last = error
        time.sleep(0.2)
    pytest.fail(
        f"{path} on port {port} did not answer 2xx/3xx in {budget:.0f}s (last: {last}):\n{running.output()}",
        pytrace=False,
    )


def workload_of(rendered: Rendered, component: str) -> dict[str, Any]:
    kind = "CronJob" if component in CRONJOBS else "Deployment"
    return rendered.component(kind, component)


def scraped_path_and_port(rendered: Rendered, component: str) -> tuple[str, str]:
    """(path, container port name) the ServiceMonitor scrapes for this component."""
    [monitor] = rendered.of_kind("ServiceMonitor")
    service = rendered.component("Service", component)
    for endpoint in monitor["spec"]["endpoints"]:
        for port in service["spec"]["ports"]:
            if port["name"] == endpoint["port"]:
                return endpoint.get("path", "/metrics"), port["targetPort"]
    pytest.fail(f"the ServiceMonitor scrapes no port of Service {service['metadata']['name']}", pytrace=False)


# --- the tests ------------------------------------------------------------------------------


def test_the_run_covers_every_workload(manifest: Rendered) -> None:
    components = sorted(w["metadata"]["labels"]["app.kubernetes.io/component"] for w in manifest.workloads())
    assert components == sorted([*LONG_RUNNING, *CRONJOBS]), "a workload the run does not start"


@pytest.mark.parametrize("component", LONG_RUNNING)
def test_component_answers_its_probes_and_metrics_then_stops_on_sigterm(
    component: str, manifest: Rendered, test_redis: redis.Redis, tmp_path: Path
) -> None:
    workload = workload_of(manifest, component)
    [container] = containers(workload)
    local = localize(manifest, workload, container, tmp_path)
    with started(local, tmp_path / f"{component}.log") as running:
        checked = []
        for probe_kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            probe = container.get(probe_kind)
            if not probe:
                continue
            assert "httpGet" in probe, f"{probe_kind}: only httpGet probes are simulated"
            port = probe["httpGet"]["port"]
            name = port if isinstance(port, str) else next(n for n, p in local.declared.items() if p == port)
            wait_for(running, local.ports[name], probe["httpGet"]["path"], STARTUP_BUDGET_SECONDS)
            checked.append(f"{probe_kind} {probe['httpGet']['path']}")
        assert {"livenessProbe", "readinessProbe"} <= {
            kind for kind in ("livenessProbe", "readinessProbe") if container.get(kind)
        }
        assert "readinessProbe" in {c.split()[0] for c in checked}

        path, port_name = scraped_path_and_port(manifest, component)
        status, body = wait_for(running, local.ports[port_name], path, STARTUP_BUDGET_SECONDS)
        assert status == 200 and "mpwh_" in body, f"{path} serves no mpwh_* metrics:\n{body[:2000]}"

        # The kubelet's stop: SIGTERM, then SIGKILL after terminationGracePeriodSeconds.
        grace = pod_template(workload)["spec"].get("terminationGracePeriodSeconds", 30)
        running.terminate()
        try:
            code = running.process.wait(timeout=min(grace, STOP_BUDGET_SECONDS))
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"{component} ignored SIGTERM for {min(grace, STOP_BUDGET_SECONDS)}s:\n{running.output()}",
                pytrace=False,
            )
        assert code == 0, f"{component} exited {code} on SIGTERM:\n{running.output()}"


def run_to_completion(local: LocalContainer, log: Path, deadline: float, what: str) -> Running:
    """Runs a Job's container to its end; it must exit 0 within the deadline."""
    with started(local, log) as running:
        try:
            code = running.process.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{what} ran past {deadline:.0f}s:\n{running.output()}", pytrace=False)
        assert code == 0, f"{what} exited {code}:\n{running.output()}"
    return running


def test_reconciler_cronjob_pass_exits_zero(
    manifest: Rendered, upstream: UpstreamStub, test_redis: redis.Redis, tmp_path: Path
) -> None:
    cronjob = workload_of(manifest, "reconciler")
    [container] = containers(cronjob)
    local = localize(manifest, cronjob, container, tmp_path)
    deadline = min(cronjob["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"], RECONCILE_BUDGET_SECONDS)
    upstream.requests.clear()
    running = run_to_completion(local, tmp_path / "reconciler.log", deadline, "the reconciler pass")
    # The scenario sets an access token and leaves the sweep on "auto", so the pass must
    # have searched Mercado Pago at MP_API_BASE_URL with the token from the Secret: the
    # CronJob's environment carries both.
    token = yaml.safe_load(values_file("local-run").read_text())["secrets"]["mpAccessToken"]
    assert local.env.get("MP_ACCESS_TOKEN") == token, "the CronJob does not get MP_ACCESS_TOKEN"
    assert "RECONCILE_SWEEP_ENABLED" not in local.env
    searches = [r for r in upstream.requests if r[1].startswith("/v1/payments/search")]
    assert searches, f"no payments search reached the stub:\n{running.output()}"
    assert all(auth == f"Bearer {token}" for _, _, auth in searches)


def notes_commands(worker_deployment: str) -> list[list[str]]:
    """The `kubectl exec deploy/<worker> -- ...` commands NOTES.txt prints, without
    placeholders (like <event id>)."""
    notes = run_helm(
        "install",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--dry-run=client",
        "--set",
        "checkApiVersions=false",  # no cluster to ask, and install takes no --api-versions
        "-f",
        str(values_file("local-run")),
    ).stdout.split("NOTES:", 1)[1]
    commands = []
    for line in notes.splitlines():
        if f"exec deploy/{worker_deployment} -- " in line and "<" not in line:
            commands.append(line.split(" -- ", 1)[1].split())
    return commands


def test_notes_operator_commands_run_in_the_worker_environment(
    manifest: Rendered, test_redis: redis.Redis, tmp_path: Path
) -> None:
    worker = workload_of(manifest, "worker")
    [container] = containers(worker)
    local = localize(manifest, worker, container, tmp_path)
    commands = notes_commands(worker["metadata"]["name"])
    assert any(c[:2] == ["mp-webhooks", "retry"] for c in commands), commands
    for command in commands:
        argv = [venv_bin(command[0]), *command[1:]]
        result = subprocess.run(
            argv, env=local.env, cwd=tmp_path, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )
        assert result.returncode == 0, (
            f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )


def test_retry_cronjob_job_exits_zero(manifest: Rendered, test_redis: redis.Redis, tmp_path: Path) -> None:
    """The Job operators without exec rights create from the suspended retry CronJob."""
    cronjob = workload_of(manifest, "retry")
    assert cronjob["spec"]["suspend"] is True, "the retry CronJob must never run on its own"
    [container] = containers(cronjob)
    local = localize(manifest, cronjob, container, tmp_path)
    run_to_completion(local, tmp_path / "retry.log", RECONCILE_BUDGET_SECONDS, "the retry Job")
