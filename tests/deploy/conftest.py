"""Fixtures for the Kubernetes delivery tests: the chart rendered once per scenario
(every charts/mp-webhooks/ci/*-values.yaml, as installed into a cluster that serves the
Prometheus Operator's and KEDA's APIs), and the external tools the test command installs
(.tools/bin/helm, checkov, promtool, podman). A missing tool fails the test with the
command that installs it: these tests never skip."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "mp-webhooks"
TOOLS_BIN = ROOT / ".tools" / "bin"
RELEASE = "mpwh"
NAMESPACE = "mpwh-test"
# charts/mp-webhooks/ci/<name>-values.yaml. values.yaml alone is no scenario: a production
# install refuses to render without credentials (test_chart_render.py checks that).
SCENARIOS = sorted(p.name.removesuffix("-values.yaml") for p in (CHART / "ci").glob("*-values.yaml"))
# Scenarios installed under another release name than RELEASE: Helm's longest (53).
SCENARIO_RELEASES = {"long-release": "payments-webhooks-production-eu-west-1-blue-green-042"}
# What the optional CRD templates need from the cluster (Helm's --api-versions).
CRD_API_VERSIONS = ("monitoring.coreos.com/v1", "keda.sh/v1alpha1")
# The kinds a Prometheus Operator / KEDA cluster knows and kubernetes-validate does not.
CRD_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule", "ScaledObject", "TriggerAuthentication"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "CronJob"}


def tool(name: str, installer: str) -> str:
    """Path of an external tool: .tools/bin first (where the installers put it), then PATH."""
    local = TOOLS_BIN / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found:
        return found
    pytest.fail(
        f"{name} is not installed: run {installer} (./scripts/test runs every scripts/tools/install-*)", pytrace=False
    )


def venv_bin(name: str) -> str:
    """A console script of the project's virtualenv (the one running pytest)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(
            f"{name} is not in {path.parent}: ./scripts/test installs the project with its test extras", pytrace=False
        )
    return str(path)


def values_file(scenario: str) -> Path:
    return CHART / "ci" / f"{scenario}-values.yaml"


# `helm template` arguments of the smallest install the chart accepts (ci/minimal-values.yaml).
MINIMAL = ("-f", str(CHART / "ci" / "minimal-values.yaml"))


def release_of(scenario: str) -> str:
    return SCENARIO_RELEASES.get(scenario, RELEASE)


@functools.cache
def _helm_env() -> tuple[tuple[str, str], ...]:
    # Helm keeps caches and repository config under $HOME; keep them out of the user's.
    base = ROOT / ".tools" / "helm-home"
    env = dict(os.environ)
    env.update(
        HELM_CACHE_HOME=str(base / "cache"),
        HELM_CONFIG_HOME=str(base / "config"),
        HELM_DATA_HOME=str(base / "data"),
        KUBECONFIG=str(base / "no-kubeconfig"),
    )
    return tuple(env.items())


def run_helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    helm = tool("helm", "scripts/tools/install-helm")
    result = subprocess.run([helm, *args], capture_output=True, text=True, timeout=120, env=dict(_helm_env()))
    if check and result.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed:\n{result.stderr}", pytrace=False)
    return result


@dataclass
class Rendered:
    """One `helm template` output: the text and its objects."""

    text: str
    objects: list[dict[str, Any]] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        matches = [o for o in self.objects if o["kind"] == kind and o["metadata"]["name"] == name]
        assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
        return matches[0]

    def component(self, kind: str, component: str) -> dict[str, Any]:
        matches = [
            o
            for o in self.of_kind(kind)
            if o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component
        ]
        assert len(matches) == 1, f"expected one {kind} of component {component}, found {len(matches)}"
        return matches[0]

    def workloads(self) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] in WORKLOAD_KINDS]


def template(
    *args: str, release: str = RELEASE, namespace: str = NAMESPACE, api_versions: tuple[str, ...] = CRD_API_VERSIONS
) -> Rendered:
    """`helm template` of the chart with extra arguments (-f, --set ...), for a cluster
    serving `api_versions` besides Kubernetes' own."""
    apis = [a for version in api_versions for a in ("--api-versions", version)]
    text = run_helm("template", release, str(CHART), "--namespace", namespace, *apis, *args).stdout
    return Rendered(text, [o for o in yaml.safe_load_all(text) if o])


@functools.cache
def _render_scenario(scenario: str) -> Rendered:
    return template("-f", str(values_file(scenario)), release=release_of(scenario))


@pytest.fixture(scope="session")
def render() -> Iterator[Any]:
    """render(scenario) -> Rendered, cached for the session."""
    yield _render_scenario


def pod_template(workload: dict[str, Any]) -> dict[str, Any]:
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]
    return workload["spec"]["template"]


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_template(workload)["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def main_container(workload: dict[str, Any]) -> dict[str, Any]:
    """The component's own container (the one named after it; the others are sidecars)."""
    component = workload["metadata"]["labels"]["app.kubernetes.io/component"]
    [container] = [c for c in pod_template(workload)["spec"]["containers"] if c["name"] == component]
    return container


def selector_matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())
