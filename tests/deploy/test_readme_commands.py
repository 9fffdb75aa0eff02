"""Every command the documentation shows in a shell block (README.md, docs/*.md,
docs/runbooks/*.md) is exercised: run here (helm, the CLI's argument parser), or checked
against what it names (the chart's rendered objects, the receiver's routes, files and
their options, the settings the product reads), or run by CI (./scripts/test) or another
test (tests/cli/test_dev.py runs `mp-webhooks dev` and `send-test`). The CLI synopsis of
docs/operations.md parses too, and names every subcommand."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import shlex
from urllib.parse import urlsplit

import pytest
import yaml

from services.cli.main import COMMANDS as CLI_COMMANDS
from services.cli.main import build_parser
from services.core.settings import Settings, load_settings
from tests.deploy.conftest import ROOT, Rendered, containers, pod_template, selector_matches, template
from tests.docs.markdown import DOCS, code_blocks, name, pages, shell_commands

RELEASE = "mp-webhooks"
PLACEHOLDERS = {"<release>": RELEASE, "<event-id>": "001a22631e62ac2eaae1caa", "<component>": "worker"}
# kubectl's names for the kinds the docs mention. Pods and Jobs are made by the cluster,
# so the docs can only name them by a placeholder.
KINDS = {
    "deploy": "Deployment",
    "cronjob": "CronJob",
    "configmap": "ConfigMap",
    "ingress": "Ingress",
    "pod": "Pod",
    "pods": "Pod",
    "job": "Job",
    "jobs": "Job",
}
RUNTIME_KINDS = {"Pod", "Job"}
VALUE_OPTIONS = {"-l", "-o", "-p", "-k", "-X"}
# Values for the metavariables of the CLI synopsis, so that each line parses as written.
SYNOPSIS_VALUES = {
    "ID": "001a22631e62ac2eaae1caa",
    "ISO": "2026-11-28T00:00:00Z",
    "N": "5",
    "T": "payment",
    "S": "failed",
    "URL": "http://127.0.0.1:8000",
    "SECRET": "secret",
    "TOKEN": "token",
}


def documented_commands() -> list[tuple[str, str]]:
    return [(name(page), command) for page in pages() for command in shell_commands(page.read_text())]


COMMANDS = documented_commands()


def _words(command: str) -> list[str]:
    for placeholder, value in PLACEHOLDERS.items():
        command = command.replace(placeholder, value)
    return shlex.split(re.sub(r"<[^>]+>", "placeholder", command))


@pytest.fixture(scope="module")
def chart() -> Rendered:
    # The install command of docs/deploying.md, as written, with its placeholders filled in.
    install = next(command for _, command in COMMANDS if command.startswith("helm install"))
    words = _words(install)
    release, rest = words[2], words[4:]
    namespace = rest[rest.index("-n") + 1]
    rest = rest[: rest.index("-n")] + rest[rest.index("-n") + 2 :]
    return template(*rest, release=release, namespace=namespace)


def _names(chart: Rendered, kind: str) -> set[str]:
    return {o["metadata"]["name"] for o in chart.of_kind(kind)}


def _is_setting(variable: str) -> bool:
    return variable.lower() in {field.name for field in dataclasses.fields(Settings)}


@functools.cache
def _test_sources() -> str:
    return "\n".join(path.read_text() for path in (ROOT / "tests").rglob("*.py"))


@functools.cache
def _receiver_routes() -> set[tuple[str, str]]:
    from services.receiver.app import create_app

    app = create_app(load_settings({"MP_ALLOW_UNSIGNED": "true"}))
    return {(method, route.path) for route in app.routes for method in getattr(route, "methods", None) or ()}


def _check_mp_webhooks(args: list[str]) -> None:
    try:
        build_parser().parse_args(args)
    except SystemExit as error:
        pytest.fail(f"`mp-webhooks {' '.join(args)}` does not parse (exit {error.code})")


def _check_options_exist(program: str, words: list[str]) -> None:
    path = ROOT / program
    assert path.is_file(), f"{program} does not exist"
    source = path.read_text()
    for option in (w.split("=", 1)[0] for w in words if w.startswith("--")):
        assert f'"{option}"' in source, f"{program} has no option {option}"


def _split(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """kubectl's arguments: the positional ones, and the options with their values."""
    positionals: list[str] = []
    options: dict[str, str] = {}
    at = 0
    while at < len(args):
        word = args[at]
        if word in VALUE_OPTIONS:
            options[word] = args[at + 1]
            at += 2
            continue
        if word.startswith("-"):
            option, _, value = word.partition("=")
            options[option] = value
        else:
            positionals.append(word)
        at += 1
    return positionals, options


def _targets(positionals: list[str], bare_kind: str | None) -> list[tuple[str, str | None]]:
    """(kind, name) for `KIND NAME...`, `KIND/NAME...` or, for `logs`, a bare pod name;
    name None for `KIND -l SELECTOR`."""
    if positionals and positionals[0] in KINDS:
        kind = KINDS[positionals[0]]
        return [(kind, target) for target in positionals[1:]] or [(kind, None)]
    targets = []
    for word in positionals:
        kind, slash, target = word.partition("/")
        if slash:
            assert kind in KINDS, f"no check for kubectl kind {kind!r}: add it to KINDS"
            targets.append((KINDS[kind], target))
        else:
            assert bare_kind, f"{word!r}: name its kind (deploy/..., cronjob/...)"
            targets.append((bare_kind, word))
    return targets


def _labels(chart: Rendered, kind: str) -> list[dict[str, str]]:
    if kind == "Pod":
        return [pod_template(workload)["metadata"]["labels"] for workload in chart.workloads()]
    if kind == "Job":
        return [cronjob["spec"]["jobTemplate"]["metadata"]["labels"] for cronjob in chart.of_kind("CronJob")]
    return [o["metadata"].get("labels", {}) for o in chart.of_kind(kind)]


def _check_kubectl_objects(verb: str, args: list[str], chart: Rendered) -> None:
    if verb == "rollout":
        assert args[0] in ("restart", "undo", "history", "status"), f"kubectl rollout {args[0]}"
        args = args[1:]
    positionals, options = _split(args)
    if verb == "apply":
        assert (ROOT / options["-k"] / "kustomization.yaml").is_file(), "kubectl apply -k needs a kustomization"
        return
    if verb == "patch":
        json.loads(options["-p"])
    if verb == "scale":
        assert options.get("--replicas"), "kubectl scale needs --replicas"
    if jsonpath := re.fullmatch(r"jsonpath=\{\.data\.(\w+)\}", options.get("-o", "")):
        assert _is_setting(jsonpath[1]), f"{jsonpath[1]} is not a variable the product reads"
    targets = _targets(positionals, "Pod" if verb == "logs" else None)
    assert targets, "no object named"
    for kind, target in targets:
        if target is None:
            selector = dict(pair.split("=", 1) for pair in options["-l"].split(","))
            assert any(selector_matches(selector, labels) for labels in _labels(chart, kind)), (
                f"no {kind} of the chart matches {options['-l']}"
            )
        elif kind in RUNTIME_KINDS:
            assert target == "placeholder", f"a {kind} is named by the cluster: show a <placeholder>"
        else:
            assert target in _names(chart, kind), f"the chart renders no {kind} {target}"


def _check_kubectl(words: list[str], chart: Rendered) -> None:
    if "-n" in words:
        at = words.index("-n")
        assert words[at + 1] == RELEASE, "the docs install into namespace mp-webhooks"
        words = words[:at] + words[at + 2 :]
    verb = words[1]
    if verb == "exec":
        target = next(w for w in words[2:] if not w.startswith("-"))
        assert target.removeprefix("deploy/") in _names(chart, "Deployment")
        _check_mp_webhooks(words[words.index("--") + 2 :])
    elif verb == "create" and words[2] == "namespace":
        assert words[3] == RELEASE
    elif verb == "create" and words[2] == "secret":
        keys = {w.split("=", 2)[1] for w in words if w.startswith("--from-literal=")}
        referenced = {
            entry["valueFrom"]["secretKeyRef"]["key"]
            for workload in chart.workloads()
            for container in containers(workload)
            for entry in container.get("env", [])
            if entry.get("valueFrom", {}).get("secretKeyRef", {}).get("name") == words[4]
        }
        assert keys == referenced, f"the Secret's keys {keys} are not what the chart reads from it {referenced}"
    elif verb == "create" and words[2] == "job":
        assert words[3].removeprefix("--from=cronjob/") in _names(chart, "CronJob")
    elif verb in ("get", "describe", "logs", "rollout", "scale", "patch", "apply"):
        _check_kubectl_objects(verb, words[2:], chart)
    else:
        pytest.fail(f"no check for `kubectl {verb}`: add one")


def _check_environment(assignments: list[str]) -> None:
    """`NAME=value command`: a setting with a valid value, or a switch the tests read."""
    pairs = dict(assignment.split("=", 1) for assignment in assignments)
    load_settings({key: value for key, value in pairs.items() if _is_setting(key)})
    for variable in pairs:
        assert _is_setting(variable) or re.search(rf"\b{variable}\b", _test_sources()), f"nothing reads {variable}"


def _check(command: str, chart: Rendered) -> None:
    words = _words(command)
    assignments = []
    while re.fullmatch(r"[A-Z][A-Z0-9_]*=.*", words[0]):
        assignments.append(words.pop(0))
    _check_environment(assignments)
    head = words[0]
    if head in ("./scripts/dev", "./scripts/test"):
        assert os.access(ROOT / head, os.X_OK), f"{head} is not executable"
        if head == "./scripts/test":
            assert "exec ./scripts/test" in (ROOT / ".ci" / "run").read_text()  # CI runs it
            assert all((ROOT / path).exists() for path in words[1:]), "pytest is given paths that exist"
        else:
            assert 'exec .venv/bin/mp-webhooks dev "$@"' in (ROOT / head).read_text()  # tests/cli/test_dev.py runs that
    elif head.endswith("mp-webhooks"):
        _check_mp_webhooks(words[1:])
    elif head == ".venv/bin/python":
        _check_options_exist(words[1], words[2:])
    elif head.startswith("scripts/"):
        assert os.access(ROOT / head, os.X_OK), f"{head} is not executable"
        _check_options_exist(head, words[1:])
    elif head == "kubectl":
        _check_kubectl(words, chart)
    elif head == "helm" and words[1] == "test":
        assert chart.of_kind("Pod"), "the chart ships a helm test hook"
    elif head == "helm":
        assert words[1] == "install" and chart.of_kind("Deployment"), "rendered by the chart fixture"
    elif head == "promtool":
        assert words[1:3] in (["test", "rules"], ["check", "rules"]), f"promtool {words[1:3]}"
        assert all((ROOT / path).is_file() for path in words[3:]), "promtool is given files that exist"
    elif head == "curl":
        _, options = _split(words[1:])
        url = urlsplit(next(w for w in words if "://" in w))
        assert (options.get("-X", "GET"), url.path) in _receiver_routes(), f"the receiver does not serve {url.path}"
    elif head == "docker" and words[1:3] == ["buildx", "imagetools"]:
        assert words[3] == "inspect", "only reads a registry's manifest"
    elif head == "docker":
        assert words[1] == "build" and words[-1] == ".", "builds from the repository root"
        dockerfile = (ROOT / words[words.index("-f") + 1]) if "-f" in words else ROOT / "Dockerfile"
        text = dockerfile.read_text()
        assert "FROM " in text
        if "--target" in words:
            assert f" AS {words[words.index('--target') + 1]}" in text, "the target is a stage of the Dockerfile"
    elif head == "skaffold":
        config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
        assert config["apiVersion"] == "skaffold/v4beta14" and words[1] in ("dev", "run")
        profiles = {profile["name"] for profile in config["profiles"]}
        assert "-p" not in words or words[words.index("-p") + 1] in profiles, f"profiles: {profiles}"
    elif head == "export":
        assignments = dict(w.split("=", 1) for w in words[1:])
        # PATH may only gain the tools ./scripts/test installs; every other name is a setting.
        assert assignments.pop("PATH", "$PWD/.tools/bin:$PATH") == "$PWD/.tools/bin:$PATH"
        names = list(assignments)
        settings = load_settings({name: "value" for name in names})
        assert all(getattr(settings, name.lower()) == "value" for name in names)
    else:
        pytest.fail(f"no check for a documented command starting with {head!r}: add one")


def test_the_docs_show_commands() -> None:
    readme = [command for page, command in COMMANDS if page == "README.md"]
    assert {"./scripts/dev", "./scripts/test"} <= set(readme), "the README's two commands"
    assert len(COMMANDS) >= 60 and any(command.startswith("helm install") for _, command in COMMANDS)


@pytest.mark.parametrize("command", [pytest.param(c, id=f"{page}: {c}") for page, c in COMMANDS])
def test_documented_command(command: str, chart: Rendered) -> None:
    _check(command, chart)


def synopsis() -> list[str]:
    """The `mp-webhooks ...` lines of docs/operations.md's plain (unlabelled) blocks."""
    blocks = code_blocks((DOCS / "operations.md").read_text())
    return [line for language, body in blocks if not language for line in body.splitlines() if line.startswith("mp-")]


def test_the_synopsis_names_every_subcommand() -> None:
    assert {line.split()[1] for line in synopsis()} == set(CLI_COMMANDS)


@pytest.mark.parametrize("line", synopsis())
def test_the_synopsis_parses(line: str) -> None:
    words = line.replace("[", " ").replace("]", " ").replace("...", " ").split()
    _check_mp_webhooks([SYNOPSIS_VALUES.get(word, word) for word in words[1:]])
