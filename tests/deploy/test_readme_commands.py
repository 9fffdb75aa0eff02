"""Every command the README shows is exercised: run here (helm, the CLI's argument
parser), or checked against what it names (the chart's rendered objects, files, the
settings the product reads), or run by CI (./scripts/test) or another test
(tests/cli/test_dev.py runs `mp-webhooks dev` and `send-test`)."""

from __future__ import annotations

import re
import shlex

import pytest

from services.cli.main import build_parser
from services.core.settings import load_settings
from tests.deploy.conftest import ROOT, Rendered, template

README = ROOT / "README.md"
RELEASE = "mp-webhooks"
PLACEHOLDERS = {"<release>": RELEASE, "<event-id>": "001a22631e62ac2eaae1caa"}


def readme_commands() -> list[str]:
    commands = []
    for lang, body in re.findall(r"```(\w*)\n(.*?)```", README.read_text(), re.S):
        if lang not in ("sh", "bash"):
            continue
        for line in body.replace("\\\n", " ").splitlines():
            line = line.split("  #", 1)[0].strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


COMMANDS = readme_commands()


def _words(command: str) -> list[str]:
    for placeholder, value in PLACEHOLDERS.items():
        command = command.replace(placeholder, value)
    return shlex.split(re.sub(r"<[^>]+>", "placeholder", command))


@pytest.fixture(scope="module")
def chart() -> Rendered:
    # The README's install command, as written, with its placeholders filled in.
    install = next(c for c in COMMANDS if c.startswith("helm install"))
    words = _words(install)
    release, chart_path, rest = words[2], words[3], words[4:]
    namespace = rest[rest.index("-n") + 1]
    rest = rest[: rest.index("-n")] + rest[rest.index("-n") + 2 :]
    return template(*rest, release=release, namespace=namespace)


def _names(chart: Rendered, kind: str) -> set[str]:
    return {o["metadata"]["name"] for o in chart.of_kind(kind)}


def _check_mp_webhooks(args: list[str]) -> None:
    try:
        build_parser().parse_args(args)
    except SystemExit as error:
        pytest.fail(f"`mp-webhooks {' '.join(args)}` does not parse (exit {error.code})")


def _check_kubectl(words: list[str], chart: Rendered) -> None:
    if "-n" in words:
        at = words.index("-n")
        assert words[at + 1] == RELEASE, "the README installs into namespace mp-webhooks"
        words = words[:at] + words[at + 2 :]
    verb = words[1]
    if verb == "exec":
        target = next(w for w in words[2:] if not w.startswith("-"))
        assert target.removeprefix("deploy/") in _names(chart, "Deployment")
        _check_mp_webhooks(words[words.index("--") + 2 :])
    elif verb == "logs":
        assert words[2].removeprefix("deploy/") in _names(chart, "Deployment")
    elif verb == "get":
        key, _, value = words[words.index("-l") + 1].partition("=")
        pods = [o for o in chart.workloads() if o["kind"] == "Deployment"]
        assert all(p["spec"]["template"]["metadata"]["labels"].get(key) == value for p in pods)
    elif verb == "create" and words[2] == "namespace":
        assert words[3] == RELEASE
    elif verb == "create" and words[2] == "secret":
        keys = {w.split("=", 2)[1] for w in words if w.startswith("--from-literal=")}
        referenced = set(
            re.findall(r"name: (\w+)\n\s+valueFrom:\n\s+secretKeyRef:\n\s+name: " + re.escape(words[4]), chart.text)
        )
        assert keys == referenced, f"the Secret's keys {keys} are not what the chart reads from it {referenced}"
    elif verb == "create" and words[2] == "job":
        assert words[3].removeprefix("--from=cronjob/") in _names(chart, "CronJob")
    else:
        pytest.fail(f"no check for `kubectl {verb}`: add one")


def _check(command: str, chart: Rendered) -> None:
    words = _words(command)
    head = words[0]
    if head in ("./scripts/dev", "./scripts/test"):
        assert (ROOT / head).stat().st_mode & 0o111, f"{head} is not executable"
        if head == "./scripts/test":
            assert "exec ./scripts/test" in (ROOT / ".ci" / "run").read_text()  # CI runs it
        else:
            assert 'exec .venv/bin/mp-webhooks dev "$@"' in (ROOT / head).read_text()  # tests/cli/test_dev.py runs that
    elif head.endswith("mp-webhooks"):
        _check_mp_webhooks(words[1:])
    elif head == "kubectl":
        _check_kubectl(words, chart)
    elif head == "helm":
        assert words[1] == "install" and chart.of_kind("Deployment"), "rendered by the chart fixture"
    elif head == "docker":
        dockerfile = ROOT / words[words.index("-f") + 1]
        assert dockerfile.is_file() and words[-1] == "." and "FROM " in dockerfile.read_text()
    elif head == "skaffold":
        assert words[1] == "dev" and "apiVersion: skaffold/v4beta14" in (ROOT / "skaffold.yaml").read_text()
    elif head == "export":
        names = [w.split("=", 1)[0] for w in words[1:]]
        settings = load_settings({name: "value" for name in names})
        assert all(getattr(settings, name.lower()) == "value" for name in names)
    else:
        pytest.fail(f"no check for a README command starting with {head!r}: add one")


def test_the_readme_shows_commands() -> None:
    assert len(COMMANDS) >= 20 and any(c.startswith("helm install") for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command(command: str, chart: Rendered) -> None:
    _check(command, chart)
