"""The image, built and run as the cluster would run it: the Dockerfile is built with
podman on a stand-in base (Debian bookworm's python3 from mmdebstrap, docs/image.md),
then the rendered chart (ci/image-run-values.yaml) is started container by container:
the bundled Redis (a stand-in image with Debian's redis-server), the sandbox from
k8s/dev/sandbox.yaml, the receiver, worker and scheduler, the reconciler CronJob's pass
and the `helm test` pod. Each gets the command, arguments, environment, user, read-only
root, dropped capabilities, emptyDirs and memory limit its manifest gives it, and DNS
names like its Services' on a private bridge network. Then a signed notification sent to
the receiver container is processed to `success` by the worker container, and the
operators' commands run through `podman exec` as they would through `kubectl exec`.

Only 127.0.0.1 is reached from here: every container port is published on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shlex
import subprocess
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.deploy.conftest import (
    ROOT,
    Rendered,
    containers,
    pod_template,
    selector_matches,
    template,
)
from tests.deploy.conftest import values_file as scenario_file
from tests.deploy.podman import IMAGE, build_image, network, podman, run_args, standin_image
from tests.deploy.test_manifests_run import resolve_env
from tests.deploy.test_skaffold import sandbox_manifest

# The first test's setup builds what a clean clone lacks: two stand-in bases with
# mmdebstrap (Debian packages downloaded) and the image (wheels from PyPI). CI runs on a
# clean clone, where that took longer than the suite's default 120 s.
pytestmark = pytest.mark.timeout(900)

SCENARIO = "image-run"
READY_BUDGET_SECONDS = 60.0
PROCESS_BUDGET_SECONDS = 60.0
ARTIFACTS = ROOT / "tests" / "artifacts"


def git_revision() -> str:
    result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    return result.stdout.strip() or "unknown"


@dataclass
class Images:
    app: str
    redis: str
    build_seconds: float
    build_args: dict[str, str]


@pytest.fixture(scope="module")
def images() -> Images:
    podman()  # its configuration written once, before two threads use it
    # Two mmdebstraps at once: each mostly waits on Debian's mirror.
    with ThreadPoolExecutor(max_workers=2) as pool:
        base, redis_image = pool.map(standin_image, ("python", "redis"))
    build_args = {
        "VERSION": tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"],
        "REVISION": git_revision(),
        "SOURCE_URL": ROOT.as_uri(),
    }
    seconds = build_image(base, **build_args)
    size = json.loads(podman()("image", "inspect", IMAGE).stdout)[0]["Size"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "image-build.json").write_text(json.dumps({"build_seconds": seconds, "size_bytes": size}) + "\n")
    return Images(IMAGE, redis_image, seconds, build_args)


@pytest.fixture(scope="module")
def rendered() -> Rendered:
    return template("-f", str(scenario_file(SCENARIO)))


@dataclass
class Container:
    name: str
    ports: dict[str, int]  # container port name -> published port on 127.0.0.1
    spec: dict[str, Any]

    def logs(self) -> str:
        result = podman()("logs", "--tail", "60", self.name, check=False)
        return (result.stdout + result.stderr)[-4000:]


@dataclass
class Stack:
    network: str
    prefix: str
    started: list[Container] = field(default_factory=list)

    def container(self, component: str) -> Container:
        [found] = [c for c in self.started if c.name == f"{self.prefix}-{component}"]
        return found

    def start(
        self,
        component: str,
        image: str,
        pod: dict[str, Any],
        container: dict[str, Any],
        env: dict[str, str],
        aliases: list[str],
        detach: bool = True,
        claims: tuple[str, ...] = (),
    ) -> subprocess.CompletedProcess[str]:
        options, args = run_args(pod["spec"], container, env, claims)
        name = f"{self.prefix}-{component}"
        published = [a for p in container.get("ports", []) for a in ("--publish", f"127.0.0.1::{p['containerPort']}")]
        aliases_args = [a for alias in aliases for a in ("--network-alias", alias)]
        head = ["run", "--name", name, "--hostname", env.get("POD_NAME", name)[:63], "--network", self.network]
        result = podman()(
            *head,
            *(["--detach"] if detach else ["--rm"]),
            *aliases_args,
            *published,
            *options,
            image,
            *args,
            check=False,
            timeout=300,
        )
        if detach:
            assert result.returncode == 0, f"podman run {component}: {result.stderr[-3000:]}"
            ports = {}
            for port in container.get("ports", []):
                mapped = podman()("port", name, f"{port['containerPort']}/tcp").stdout.strip().splitlines()[0]
                ports[port["name"]] = int(mapped.rsplit(":", 1)[1])
            self.started.append(Container(name, ports, container))
        return result

    def exec(self, component: str, *command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return podman()("exec", f"{self.prefix}-{component}", *command, check=False, timeout=timeout)


def service_aliases(services: list[dict[str, Any]], pod_labels: dict[str, str]) -> list[str]:
    """The DNS names cluster DNS gives the Services that select these pod labels."""
    names = []
    for service in services:
        if selector_matches(service["spec"].get("selector", {}), pod_labels):
            name, namespace = service["metadata"]["name"], service["metadata"]["namespace"]
            names += [name, f"{name}.{namespace}", f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.cluster.local"]
    return names


def http(port: int, path: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_probe(stack: Stack, component: str, probe: dict[str, Any]) -> None:
    """Polls a readiness/liveness probe as the kubelet would: httpGet on the container's
    port (published on loopback) or exec inside it."""
    container = stack.container(component)
    deadline = time.monotonic() + READY_BUDGET_SECONDS
    last: Any = None
    while time.monotonic() < deadline:
        if "exec" in probe:
            result = stack.exec(component, *probe["exec"]["command"])
            if result.returncode == 0:
                return
            last = result.stderr or result.stdout
        else:
            port = probe["httpGet"]["port"]
            try:
                status, _ = http(container.ports[port], probe["httpGet"]["path"])
                if 200 <= status < 400:
                    return
                last = status
            except OSError as error:
                last = error
        state = podman()("inspect", "--format", "{{.State.Status}}", container.name, check=False).stdout.strip()
        assert state == "running", f"{component} is {state}:\n{container.logs()}"
        time.sleep(0.5)
    pytest.fail(f"{component}: probe {probe} failed for {READY_BUDGET_SECONDS}s ({last}):\n{container.logs()}")


@pytest.fixture(scope="module")
def stack(images: Images, rendered: Rendered) -> Iterator[Stack]:
    services = rendered.of_kind("Service")
    sandbox, sandbox_service = sandbox_manifest()
    with network() as net:
        running = Stack(net, f"mpwh-{uuid.uuid4().hex[:8]}")
        try:
            plan = [("redis", rendered.component("StatefulSet", "redis"), images.redis, ("data",))]
            plan.append(("sandbox", sandbox, images.app, ()))
            plan += [
                (c, rendered.component("Deployment", c), images.app, ()) for c in ("receiver", "worker", "scheduler")
            ]
            for component, workload, image, claims in plan:
                pod = pod_template(workload)
                [container] = containers(workload) if component != "sandbox" else pod["spec"]["containers"]
                source = Rendered("") if component == "sandbox" else rendered
                env = resolve_env(source, workload, container)
                aliases = service_aliases([*services, sandbox_service], pod["metadata"]["labels"])
                assert aliases, f"no Service selects the {component} pods"
                running.start(component, image, pod, container, env, aliases, claims=claims)
                if component in ("redis", "sandbox"):  # what the others need first
                    wait_probe(running, component, container["readinessProbe"])
            for component in ("receiver", "worker", "scheduler"):
                spec = running.container(component).spec
                for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                    probe = spec.get(kind)
                    if probe:
                        wait_probe(running, component, probe)
            yield running
        finally:
            for container in reversed(running.started):
                podman()("rm", "--force", "--time", "0", container.name, check=False)


# --- the image ---------------------------------------------------------------------------------


def test_the_image_carries_its_oci_labels(images: Images) -> None:
    [info] = json.loads(podman()("image", "inspect", images.app).stdout)
    labels = info["Config"]["Labels"]
    assert labels["org.opencontainers.image.version"] == images.build_args["VERSION"]
    assert labels["org.opencontainers.image.revision"] == images.build_args["REVISION"]
    assert labels["org.opencontainers.image.source"] == images.build_args["SOURCE_URL"]
    assert labels["org.opencontainers.image.licenses"]
    assert info["Config"]["Entrypoint"] == ["mp-webhooks"]
    assert info["Config"]["User"] == "10001:10001"


def test_the_runtime_image_has_no_pip_and_no_ca_from_the_build(images: Images) -> None:
    script = (
        "import importlib.util, os, sys; "
        "sys.exit(bool(importlib.util.find_spec('pip')) or os.path.exists('/opt/venv/bin/pip') "
        "or os.path.exists('/run/secrets/pip-ca') or os.path.exists('/opt/build-tools'))"
    )
    result = podman()("run", "--rm", "--read-only", "--entrypoint", "python3", images.app, "-c", script, check=False)
    assert result.returncode == 0, f"pip, the build tools or the build's CA bundle reached the image: {result.stderr}"


# --- the release, run ---------------------------------------------------------------------------


def sign(secret: str, data_id: str, request_id: str, ts: str) -> str:
    """Mercado Pago's x-signature (SPEC.md): HMAC-SHA256 of the manifest, hex."""
    manifest = f"id:{data_id};request-id:{request_id};ts:{ts};"
    return f"ts={ts},v1={hmac.new(secret.encode(), manifest.encode(), hashlib.sha256).hexdigest()}"


def test_containers_run_as_the_manifest_says(stack: Stack) -> None:
    for component in ("receiver", "worker", "scheduler"):
        assert stack.exec(component, "id", "-u").stdout.strip() == "10001", component
        wrote = stack.exec(component, "touch", "/opt/venv/written")
        assert wrote.returncode != 0, f"{component}: the root filesystem is writable"
        assert stack.exec(component, "touch", "/tmp/written").returncode == 0, f"{component}: /tmp is not writable"


def test_a_signed_notification_is_processed_to_success(stack: Stack, rendered: Rendered) -> None:
    [secret] = [s for s in rendered.of_kind("Secret") if s["metadata"]["name"].endswith("-secrets")]
    tokens = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    webhook_secret, api_token = tokens["MP_WEBHOOK_SECRET"], tokens["API_TOKEN"]
    sandbox = stack.container("sandbox").ports["http"]
    receiver = stack.container("receiver").ports["http"]

    payment_id = str(uuid.uuid4().int % 10**10)
    email = f"{payment_id}@image-run.test"
    status, body = http(
        sandbox,
        f"/sandbox/payments/{payment_id}",
        "PUT",
        json.dumps({"status": "approved", "email": email}).encode(),
        {"content-type": "application/json"},
    )
    assert status == 200, body

    request_id, ts = str(uuid.uuid4()), str(int(time.time()))
    notification = {
        "id": int(payment_id) + 1,
        "type": "payment",
        "action": "payment.updated",
        "data": {"id": payment_id},
        "live_mode": False,
        "date_created": "2026-01-01T00:00:00Z",
        "user_id": 1,
    }
    headers = {
        "content-type": "application/json",
        "x-request-id": request_id,
        "x-signature": sign(webhook_secret, payment_id, request_id, ts),
    }
    status, body = http(receiver, "/webhooks/mp", "POST", json.dumps(notification).encode(), headers)
    assert status == 200 and json.loads(body)["status"] == "received", body
    event_id = json.loads(body)["event_id"]

    deadline = time.monotonic() + PROCESS_BUDGET_SECONDS
    event: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, body = http(
            receiver, f"/api/webhook-events/{event_id}", headers={"authorization": f"Bearer {api_token}"}
        )
        assert status == 200, body
        event = json.loads(body)
        if event["status"] in ("success", "failed"):
            break
        time.sleep(0.5)
    assert event.get("status") == "success", f"{event}\n{stack.container('worker').logs()}"
    status, body = http(sandbox, "/sandbox/contacts")
    [contact] = [c for c in json.loads(body) if c["email"] == email]
    assert "mp-payment-approved" in contact["tags"]


def test_retry_dry_run_through_exec_as_operators_do(stack: Stack) -> None:
    """NOTES.txt's `kubectl exec deploy/<worker> -- mp-webhooks retry ... --dry-run`."""
    retry = stack.exec("worker", "mp-webhooks", "retry", "--status", "failed", "--dry-run")
    assert retry.returncode == 0, retry.stdout + retry.stderr
    stats = stack.exec("worker", "mp-webhooks", "events", "stats")
    assert stats.returncode == 0 and "success" in stats.stdout, stats.stdout + stats.stderr


def test_the_receiver_pre_stop_pause_runs_in_the_image(stack: Stack) -> None:
    command = stack.container("receiver").spec["lifecycle"]["preStop"]["exec"]["command"]
    started = time.monotonic()
    result = stack.exec("receiver", *command)
    assert result.returncode == 0, f"{shlex.join(command)}: {result.stderr}"
    assert time.monotonic() - started >= float(command[-1]) - 0.5


def test_a_reconciler_pass_exits_zero(stack: Stack, images: Images, rendered: Rendered) -> None:
    cronjob = rendered.component("CronJob", "reconciler")
    pod = pod_template(cronjob)
    [container] = containers(cronjob)
    result = stack.start("reconciler", images.app, pod, container, resolve_env(rendered, cronjob, container), [], False)
    assert result.returncode == 0, f"the reconcile pass exited {result.returncode}:\n{result.stdout}{result.stderr}"


def test_the_helm_test_pod_passes(stack: Stack, images: Images, rendered: Rendered) -> None:
    [pod] = [p for p in rendered.of_kind("Pod") if p["metadata"]["annotations"].get("helm.sh/hook") == "test"]
    # Init containers first, each to completion, then the test itself.
    for container in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]:
        env = resolve_env(rendered, pod, container)
        result = stack.start(f"test-{container['name']}", images.app, pod, container, env, [], False)
        assert result.returncode == 0, f"helm test container {container['name']}:\n{result.stdout}{result.stderr}"


def test_components_stop_cleanly_on_sigterm(stack: Stack, rendered: Rendered) -> None:
    for component in ("receiver", "worker", "scheduler"):
        grace = pod_template(rendered.component("Deployment", component))["spec"]["terminationGracePeriodSeconds"]
        name = stack.container(component).name
        podman()("stop", "--time", str(min(grace, 60)), name, timeout=120)
        code = podman()("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
        assert code == "0", f"{component} exited {code} on SIGTERM:\n{stack.container(component).logs()}"
