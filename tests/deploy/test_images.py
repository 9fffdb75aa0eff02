"""The Dockerfile, read without building it (test_image_run.py builds and runs it): one
image for every component, its base a build argument pinned by digest to the same Debian
release and Python minor as the test stand-in, dependencies only from the hashed lock
files, the CA bundle only as a build secret, OCI labels, and a runtime stage that is the
interpreter, the venv and a numeric non-root user with an exec-form entrypoint."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from tests.deploy.conftest import CHART, ROOT
from tests.deploy.podman import STANDINS, SUITE

DOCKERFILE = ROOT / "Dockerfile"
LOCKS = ("requirements-build.lock", "requirements.lock")


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n(\s*#.*\n)*", " ", path.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def stages() -> dict[str, list[tuple[str, str]]]:
    named: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for instruction in instructions():
        if instruction[0] == "FROM":
            current = [instruction]
            named[instruction[1].split(" AS ")[-1]] = current
        else:
            current.append(instruction)
    return named


def default_arg(name: str) -> str:
    [value] = [args.split("=", 1)[1] for word, args in instructions() if word == "ARG" and args.startswith(f"{name}=")]
    return value


def test_the_old_per_component_dockerfiles_are_gone() -> None:
    assert not list((ROOT / "services").glob("**/Dockerfile")), "one image: the top-level Dockerfile"


def test_every_stage_builds_on_the_base_argument_pinned_by_digest() -> None:
    found = stages()
    assert list(found)[-1] == "runtime", "the default build target (last stage) must be runtime"
    assert {"build", "base", "dev", "runtime"} <= set(found)
    for name, body in found.items():
        source = body[0][1].split(" AS ")[0]
        assert source in found or source == "${BASE_IMAGE}", f"{name} builds on {source}"
    base = default_arg("BASE_IMAGE")
    match = re.fullmatch(r"docker\.io/library/python:(\d+)\.(\d+)\.\d+-slim-(\w+)@sha256:[0-9a-f]{64}", base)
    assert match, f"BASE_IMAGE={base}: the official slim Python, version-tagged and pinned by digest"
    # The stand-in the tests build on must be the same Debian release and Python minor.
    minor = f"{match.group(1)}.{match.group(2)}"
    assert match.group(3) == SUITE and "python3" in STANDINS["python"]
    assert minor == "3.11", "Debian bookworm's python3 is 3.11"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == f">={minor}"


def test_the_interpreter_is_called_python3() -> None:
    # The stand-in base has Debian's /usr/bin/python3 and no `python` or /usr/local.
    for word, args in instructions():
        if word in ("RUN", "CMD", "HEALTHCHECK"):
            assert "/usr/local/bin" not in args and not re.search(r"(^|[\s\"'\[])python([\s\"',]|$)", args), args


def test_dependencies_come_only_from_the_hashed_locks() -> None:
    build = stages()["build"]
    runs = [args for word, args in build if word == "RUN"]
    installs = [cmd for run in runs for cmd in re.split(r"&&|;", run) if re.search(r"pip (install|wheel)", cmd)]
    assert installs
    for command in installs:
        if " -r " in command:
            assert "--require-hashes" in command and "--no-deps" in command, command
            assert any(lock in command for lock in LOCKS), command
        else:
            # Local wheels (the locked ones built above, the project): nothing fetched.
            assert "--no-deps" in command and ("--no-index" in command or "--no-build-isolation" in command), command
    copies = [args for word, args in build if word == "COPY"]
    assert f"{' '.join(LOCKS)} ./" in copies


def test_the_ca_bundle_is_a_build_secret_only() -> None:
    for word, args in instructions():
        if word in ("COPY", "ADD"):
            assert "cert" not in args and "ca-" not in args, args
    [install] = [args for word, args in stages()["build"] if word == "RUN" and "requirements.lock" in args]
    assert install.startswith("--mount=type=secret,id=pip-ca ")
    assert default_arg("PIP_INDEX_URL").startswith("https://"), "a mirror is a build argument"


def test_runtime_stage_is_non_root_with_an_exec_form_entrypoint() -> None:
    found = stages()
    chain = found["base"] + found["runtime"]  # runtime is FROM base
    users = [args for word, args in chain if word == "USER"]
    assert users and re.fullmatch(r"[1-9]\d{3,}(:[1-9]\d{3,})?", users[-1]), f"last USER {users}: numeric, non-root"
    assert [args for word, args in chain if word == "ENTRYPOINT"] == ['["mp-webhooks"]'], "exec form: PID 1"
    # Only the venv comes from the build stage: no pip, compilers, sources or tests.
    copies = [args for word, args in chain if word in ("COPY", "ADD")]
    assert copies == ["--from=build /opt/venv /opt/venv"], copies
    assert not any(word == "RUN" and re.search(r"apt-get|pip install", args) for word, args in chain)
    assert any(word == "RUN" and "pip uninstall" in args for word, args in found["base"]), "the base's pip goes"


def test_oci_labels_carry_source_version_revision_and_licenses() -> None:
    labels = " ".join(args for word, args in stages()["base"] if word == "LABEL")
    for key in ("source", "version", "revision", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels, key
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert default_arg("VERSION") == version == chart["appVersion"]
    assert default_arg("LICENSES") == chart["annotations"]["artifacthub.io/license"]


def test_no_stage_copies_tests_or_the_whole_context() -> None:
    for word, args in instructions():
        if word in ("COPY", "ADD"):
            sources = [s for s in args.split()[:-1] if not s.startswith("--")]
            assert not any(s in (".", "./", "tests", "tests/") for s in sources), args


def test_dockerignore_lets_in_exactly_what_the_dockerfile_copies() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "ignore everything, then allow what the image needs"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = {
        s.rstrip("*")
        for word, args in instructions()
        if word == "COPY" and "--from=" not in args
        for s in args.split()[:-1]
        if not s.startswith("--")
    }
    assert allowed == copied, f".dockerignore lets in {sorted(allowed)}, the Dockerfile copies {sorted(copied)}"


def test_uid_matches_the_chart() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    [user] = [args for word, args in stages()["runtime"] if word == "USER"]
    assert user == f"{values['podSecurityContext']['runAsUser']}:{values['podSecurityContext']['runAsGroup']}"
