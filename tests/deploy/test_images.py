"""The Dockerfiles, read without Docker: multi-stage on a version-pinned slim Python, the
default (last) stage runs as a numeric non-root user with an exec-form entrypoint (the
process is PID 1 and gets SIGTERM), and nothing but the installed package reaches it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT

DOCKERFILES = {
    "receiver": ROOT / "services" / "receiver" / "Dockerfile",
    "worker": ROOT / "services" / "worker" / "Dockerfile",
}
DEFAULT_COMMAND = {"receiver": '["receiver", "--host", "0.0.0.0", "--port", "8000"]', "worker": '["worker"]'}


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def stages(path: Path) -> dict[str, list[tuple[str, str]]]:
    named: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for instruction in instructions(path):
        if instruction[0] == "FROM":
            current = [instruction]
            named[instruction[1].split(" AS ")[-1]] = current
        else:
            current.append(instruction)
    return named


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_multi_stage_on_a_pinned_slim_python(image: str) -> None:
    found = stages(DOCKERFILES[image])
    assert list(found)[-1] == "runtime", "the default build target (last stage) must be runtime"
    assert {"build", "base", "dev", "runtime"} <= set(found)
    for name, body in found.items():
        source = body[0][1].split(" AS ")[0]
        if source in found:
            continue
        assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim(-\w+)?", source), (
            f"{name}: {source} is not a pinned slim Python"
        )


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_runtime_stage_is_non_root_with_an_exec_form_entrypoint(image: str) -> None:
    found = stages(DOCKERFILES[image])
    chain = found["base"] + found["runtime"]  # runtime is FROM base
    users = [args for word, args in chain if word == "USER"]
    assert users and re.fullmatch(r"[1-9]\d{3,}(:[1-9]\d{3,})?", users[-1]), f"last USER {users}: numeric, non-root"
    entrypoints = [args for word, args in chain if word == "ENTRYPOINT"]
    assert entrypoints == ['["mp-webhooks"]'], "exec form, so mp-webhooks is PID 1"
    assert [args for word, args in chain if word == "CMD"] == [DEFAULT_COMMAND[image]]
    # Only the venv comes from the build stage: no compilers, no sources, no tests.
    copies = [args for word, args in chain if word in ("COPY", "ADD")]
    assert copies == ["--from=build /opt/venv /opt/venv"], copies
    assert not any(word == "RUN" and re.search(r"apt-get|pip install", args) for word, args in chain)


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_no_stage_copies_tests_or_the_whole_context(image: str) -> None:
    for word, args in instructions(DOCKERFILES[image]):
        if word in ("COPY", "ADD"):
            sources = args.split()[:-1]
            assert not any(s in (".", "./", "tests", "tests/") for s in sources), args


def test_uid_matches_the_chart() -> None:
    import yaml

    values = yaml.safe_load((ROOT / "charts" / "mp-webhooks" / "values.yaml").read_text())
    for path in DOCKERFILES.values():
        [user] = [args for word, args in stages(path)["runtime"] if word == "USER"]
        assert user == f"{values['podSecurityContext']['runAsUser']}:{values['podSecurityContext']['runAsGroup']}"
