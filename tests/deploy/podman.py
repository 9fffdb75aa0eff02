"""podman for the image tests: a private configuration (runc, cgroupfs, ulimits within
this machine's, storage and networks under .tools/podman, no registry ever asked), the
stand-in base images built with mmdebstrap and cached by recipe, the project's image
built from the Dockerfile, and a rendered container spec turned into `podman run`
arguments the way the kubelet would run it (user, read-only root, dropped capabilities,
emptyDirs, memory limit, environment, command and arguments)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import resource
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import ROOT

STATE = ROOT / ".tools" / "podman"
# Debian bookworm, as the real base (python:3.11-slim-bookworm): Python 3.11 from Debian
# instead of python.org's build in /usr/local, and the same suites the security fixes
# come from. `minbase` is what Debian's own container images are made of.
SUITE = "bookworm"
SOURCES = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
STANDINS = {
    # The base the Dockerfile builds on: what python:3.11-slim-bookworm has that matters.
    "python": ("python3", "python3-venv", "ca-certificates", "netbase", "tzdata"),
    # The bundled Redis of the chart (the official image's redis-server and redis-cli).
    "redis": ("redis-server",),
}
IMPORT_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
)
IMAGE = "localhost/mp-webhooks:test"


@dataclass(frozen=True)
class Podman:
    env: tuple[tuple[str, str], ...]

    def __call__(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["podman", *args], capture_output=True, text=True, timeout=timeout, env=dict(self.env), check=False
        )
        if check and result.returncode != 0:
            pytest.fail(f"podman {' '.join(args[:3])} ... exited {result.returncode}:\n{result.stderr[-4000:]}")
        return result


def _missing_tools() -> list[str]:
    return [t for t in ("podman", "buildah", "runc", "mmdebstrap") if shutil.which(t) is None]


@functools.cache
def podman() -> Podman:
    missing = _missing_tools()
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run scripts/tools/install-podman", pytrace=False)
    # A short run root: conmon's socket paths must fit in 108 bytes.
    run_root = Path("/run") / f"mpwh-podman-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:10]}"
    for path in (STATE / "storage", STATE / "networks", run_root):
        path.mkdir(parents=True, exist_ok=True)
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    # runc cannot raise a limit here (no CAP_SYS_RESOURCE), and podman starts conmon
    # with at most 32768 processes: ask for no more than either.
    nofile = min(nofile, 16384)
    nproc = min(nproc, 4096)
    (STATE / "containers.conf").write_text(
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
        f'tmp_dir = "{run_root}/tmp"\n'
        "[network]\n"
        f'network_config_dir = "{STATE / "networks"}"\n'
    )
    (STATE / "storage.conf").write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{STATE / "storage"}"\nrunroot = "{run_root}"\n'
    )
    # No search registries: an image that is not here is an error, never a download.
    (STATE / "registries.conf").write_text("unqualified-search-registries = []\n")
    env = dict(os.environ)
    env.update(
        CONTAINERS_CONF=str(STATE / "containers.conf"),
        CONTAINERS_STORAGE_CONF=str(STATE / "storage.conf"),
        CONTAINERS_REGISTRIES_CONF=str(STATE / "registries.conf"),
    )
    return Podman(tuple(env.items()))


def standin_recipe(name: str) -> list[str]:
    """The mmdebstrap command line (less its output) of a stand-in base."""
    return [
        "mmdebstrap",
        "--quiet",
        "--variant=minbase",
        f"--include={','.join(STANDINS[name])}",
        SUITE,
    ]


def standin_image(name: str) -> str:
    """The stand-in image `name`, built once per recipe and kept in podman's storage."""
    recipe = standin_recipe(name)
    key = hashlib.sha256(json.dumps([recipe, SOURCES, IMPORT_CHANGES]).encode()).hexdigest()[:12]
    tag = f"localhost/mpwh-standin-{name}:{key}"
    run = podman()
    if run("image", "exists", tag, check=False).returncode == 0:
        return tag
    with tempfile.TemporaryDirectory(dir=STATE) as work:
        tarball = Path(work) / "rootfs.tar"
        built = subprocess.run([*recipe, str(tarball), *SOURCES], capture_output=True, text=True, timeout=900)
        if built.returncode != 0:
            pytest.fail(f"mmdebstrap of the {name} stand-in failed:\n{built.stderr[-4000:]}", pytrace=False)
        changes = [a for change in IMPORT_CHANGES for a in ("--change", change)]
        run("import", *changes, str(tarball), tag, timeout=600)
    return tag


def ca_bundle() -> Path | None:
    """The machine's CA bundle (PyPI may be reached through a TLS-intercepting proxy)."""
    paths = ssl.get_default_verify_paths()
    for candidate in (os.environ.get("SSL_CERT_FILE"), paths.cafile, "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def build_image(base: str, target: str = "runtime", tag: str = IMAGE, **build_args: str) -> float:
    """Builds the Dockerfile as a user would (context: the repository); its seconds."""
    args = ["build", "--pull=never", "--target", target, "--tag", tag, "--build-arg", f"BASE_IMAGE={base}"]
    for key, value in build_args.items():
        args += ["--build-arg", f"{key}={value}"]
    bundle = ca_bundle()
    if bundle:
        args += ["--secret", f"id=pip-ca,src={bundle}"]
    started = time.monotonic()
    podman()(*args, "--file", str(ROOT / "Dockerfile"), str(ROOT), timeout=900)
    return time.monotonic() - started


# --- a rendered container as `podman run` -------------------------------------------------

_UNITS = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "K": 1000, "M": 1000**2, "G": 1000**3}


def quantity_bytes(quantity: str | int) -> int:
    """A Kubernetes memory quantity (256Mi, 1G, 1048576) in bytes."""
    match = re.fullmatch(r"(\d+)([KMG]i?)?", str(quantity))
    assert match, f"memory quantity {quantity} not simulated"
    return int(match.group(1)) * _UNITS.get(match.group(2) or "", 1)


def run_args(
    pod_spec: dict[str, Any], container: dict[str, Any], env: dict[str, str], claims: tuple[str, ...] = ()
) -> tuple[list[str], list[str]]:
    """(`podman run` options, arguments after the image) for one container of a pod spec.
    emptyDirs and `claims` (volumeClaimTemplates) become private tmpfs mounts; any other
    volume type is not simulated."""
    sc = {**pod_spec.get("securityContext", {}), **container.get("securityContext", {})}
    options = ["--user", f"{sc['runAsUser']}:{sc.get('runAsGroup', sc['runAsUser'])}"]
    if sc.get("readOnlyRootFilesystem"):
        # Only what the manifest mounts is writable (podman would add tmpfs /tmp and /run).
        options += ["--read-only", "--read-only-tmpfs=false"]
    if sc.get("allowPrivilegeEscalation") is False:
        options += ["--security-opt", "no-new-privileges"]
    capabilities = sc.get("capabilities", {})
    assert not capabilities.get("add"), "added capabilities are not simulated"
    options += [a for capability in capabilities.get("drop", []) for a in ("--cap-drop", capability.lower())]
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        volume = volumes.get(mount["name"], {})
        assert "emptyDir" in volume or mount["name"] in claims, f"volume {mount['name']} is not simulated"
        spec = f"type=tmpfs,destination={mount['mountPath']},tmpfs-mode=1777"
        size = volume.get("emptyDir", {}).get("sizeLimit")
        options += ["--mount", spec + (f",tmpfs-size={quantity_bytes(size)}" if size else "")]
    memory = container.get("resources", {}).get("limits", {}).get("memory")
    if memory:
        options += ["--memory", str(quantity_bytes(memory))]
    options += [a for name, value in env.items() for a in ("--env", f"{name}={value}")]
    if container.get("command"):
        options += ["--entrypoint", json.dumps(container["command"])]
    return options, [str(a) for a in container.get("args", [])]


@contextmanager
def network() -> Iterator[str]:
    """A bridge network of its own, whose DNS answers with each container's aliases."""
    name = f"mpwh-test-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    run = podman()
    run("network", "create", name)
    try:
        yield name
    finally:
        run("network", "rm", "--force", name, check=False)
