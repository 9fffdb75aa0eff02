"""The chart is valid without a cluster: `helm lint --strict` and strict Kubernetes
schema validation of every scenario for the oldest and newest Kubernetes minors it
supports, minimal structural checks of the CRD objects kubernetes-validate has no schema
for, `promtool check rules` on the rendered PrometheusRule, and a values schema that
rejects bad values with a message naming them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import CHART, CRD_KINDS, MINIMAL, SCENARIOS, run_helm, template, tool, values_file, venv_bin

# The chart's kubeVersion floor (Chart.yaml) and the newest minor kubernetes-validate knows.
KUBERNETES_VERSIONS = ["1.27.0", "1.37.0"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_helm_lint_strict(scenario: str) -> None:
    # helm lint knows no cluster and takes no --api-versions: the API check is tested
    # with `helm template --api-versions` (test_chart_platform.py).
    offline = ("--set", "checkApiVersions=false")
    result = run_helm("lint", "--strict", str(CHART), "-f", str(values_file(scenario)), *offline, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


def test_kubeversion_floor_matches_the_validated_minimum() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["kubeVersion"] == f">={KUBERNETES_VERSIONS[0]}-0"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_kubernetes_validate_strict(scenario: str, render: Any, tmp_path: Path) -> None:
    manifest = tmp_path / f"{scenario}.yaml"
    manifest.write_text(render(scenario).text)
    command = [venv_bin("kubernetes-validate"), "--strict", "--quiet"]
    for version in KUBERNETES_VERSIONS:
        command += ["-k", version]
    result = subprocess.run([*command, str(manifest)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    # Only the CRD kinds may lack a schema; anything else unknown would be a typo'd kind
    # or apiVersion that the validator silently let through.
    for line in result.stdout.splitlines():
        assert line.startswith("WARN") and any(f"kind {kind} " in line for kind in CRD_KINDS), line


def _require(obj: dict[str, Any], path: str, kind: type | tuple[type, ...]) -> Any:
    value: Any = obj
    for key in path.split("."):
        assert isinstance(value, dict) and key in value, f"{obj.get('kind')}: missing {path}"
        value = value[key]
    assert isinstance(value, kind), f"{obj.get('kind')}: {path} is {type(value).__name__}"
    return value


def check_crd_object(obj: dict[str, Any]) -> None:
    """The fields each CRD's controller needs, with their types (KEDA trigger metadata is
    a map of strings: a number there is rejected by the API server)."""
    kind = obj["kind"]
    if kind == "ServiceMonitor":
        assert obj["apiVersion"] == "monitoring.coreos.com/v1"
        _require(obj, "spec.selector", dict)
        for endpoint in _require(obj, "spec.endpoints", list):
            assert isinstance(endpoint.get("port"), str) and endpoint.get("path", "/metrics").startswith("/")
            for relabel in endpoint.get("relabelings", []):
                assert set(relabel) <= {
                    "sourceLabels",
                    "separator",
                    "targetLabel",
                    "regex",
                    "modulus",
                    "replacement",
                    "action",
                }, relabel
    elif kind == "PodMonitor":
        assert obj["apiVersion"] == "monitoring.coreos.com/v1"
        _require(obj, "spec.selector", dict)
        for endpoint in _require(obj, "spec.podMetricsEndpoints", list):
            assert isinstance(endpoint.get("port"), str)
    elif kind == "PrometheusRule":
        assert obj["apiVersion"] == "monitoring.coreos.com/v1"
        for group in _require(obj, "spec.groups", list):
            assert isinstance(group.get("name"), str) and isinstance(group.get("rules"), list), group
    elif kind == "ScaledObject":
        assert obj["apiVersion"] == "keda.sh/v1alpha1"
        _require(obj, "spec.scaleTargetRef.name", str)
        for trigger in _require(obj, "spec.triggers", list):
            assert isinstance(trigger.get("type"), str)
            assert all(isinstance(v, str) for v in trigger["metadata"].values()), trigger["metadata"]
    elif kind == "TriggerAuthentication":
        assert obj["apiVersion"] == "keda.sh/v1alpha1"
        for target in _require(obj, "spec.secretTargetRef", list):
            assert set(target) == {"parameter", "name", "key"} and all(isinstance(v, str) for v in target.values())
    else:  # pragma: no cover - a new CRD kind needs its own checks
        raise AssertionError(f"no structural check for {kind}")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_crd_objects_are_well_formed(scenario: str, render: Any) -> None:
    for obj in render(scenario).objects:
        if obj["kind"] in CRD_KINDS:
            check_crd_object(obj)


def test_every_crd_kind_is_rendered_by_some_scenario(render: Any) -> None:
    rendered = {o["kind"] for scenario in SCENARIOS for o in render(scenario).objects}
    assert rendered >= CRD_KINDS, "a CRD template is never exercised by a ci/ scenario"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_promtool_checks_the_rendered_prometheus_rules(scenario: str, render: Any, tmp_path: Path) -> None:
    rules = render(scenario).of_kind("PrometheusRule")
    if not rules:
        assert not (yaml.safe_load(values_file(scenario).read_text()) or {}).get("prometheusRule", {}).get("enabled")
        return
    [rule] = rules
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(yaml.safe_dump(rule["spec"]))
    promtool = tool("promtool", "scripts/tools/install-prometheus")
    result = subprocess.run([promtool, "check", "rules", str(rules_file)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert rule["spec"]["groups"], "the PrometheusRule has no rule groups"


def test_one_dashboard_configmap_per_file(render: Any) -> None:
    files = sorted((CHART / "files" / "dashboards").glob("*.json"))
    configmaps = [cm for cm in render("dev").of_kind("ConfigMap") if "grafana_dashboard" in cm["metadata"]["labels"]]
    assert len(configmaps) == len(files)
    assert sorted(key for cm in configmaps for key in cm["data"]) == sorted(f.name for f in files)
    for cm in configmaps:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        for content in cm["data"].values():
            json.loads(content)


# (--set arguments, a fragment of the error naming what is wrong)
BAD_VALUES = [
    (["config.logLevel=LOUD"], "/config/logLevel"),
    (["config.jobTimeoutSeconds=0"], "/config/jobTimeoutSeconds"),
    (["config.breakerFailures=0"], "/config/breakerFailures"),
    (["config.breakerProbeSeconds=0"], "/config/breakerProbeSeconds"),
    (["config.mpApiBaseUrl=ftp://api"], "/config/mpApiBaseUrl"),
    (["config.retryDelays={60,-1}"], "/config/retryDelays/1"),
    (["config.reconcileSweepEnabled=maybe"], "/config/reconcileSweepEnabled"),
    (["config.extraEnv.bad-name=x"], "invalid propertyName 'bad-name'"),
    (["no.such.key=1"], "additional properties 'no' not allowed"),
    (["receiver.replicas=0"], "/receiver/replicas"),
    (["image.pullPolicy=Sometimes"], "/image/pullPolicy"),
    (["image.digest=sha256:short"], "/image/digest"),
    (["receiver.image.repository=old-per-component-image"], "additional properties 'image' not allowed"),
    (["global.imageRegistry=https://registry"], "/global/imageRegistry"),
    (["profile=staging"], "/profile"),
    (["prometheusRule.runbookBaseUrl=https://runbooks.internal/"], "/prometheusRule/runbookBaseUrl"),
    (["redis.external.port=0"], "/redis/external/port"),
    (["worker.extraEnv[0].name=NO_VALUE"], "/worker/extraEnv/0"),
    (["receiver.preStopSleepSeconds=-1"], "/receiver/preStopSleepSeconds"),
    (["fullnameOverride=" + "a" * 42], "/fullnameOverride"),
    (["receiver.resources.limits=null"], "/receiver/resources"),
    (["redis.enabled=false"], "/redis/external"),
    (["redis.database=16"], "/redis/database"),
    (["worker.autoscaling.enabled=true", "worker.keda.enabled=true"], "/worker/keda/enabled"),
    (
        ["redis.enabled=false", "redis.external.url=redis://r:6379/0", "worker.keda.enabled=true"],
        "/worker/keda/redisAddress",
    ),
    (["metrics.serviceMonitor.enabled=true", "metrics.podMonitor.enabled=true"], "/metrics/podMonitor/enabled"),
    (["metrics.port=80"], "/metrics/port"),
    (["reconciler.schedule=every five minutes"], "/reconciler/schedule"),
    (["reconciler.startingDeadlineSeconds=5"], "/reconciler/startingDeadlineSeconds"),
    (["prometheusRule.rules.failureRatio.window=10 minutes"], "/prometheusRule/rules/failureRatio/window"),
    (["podSecurityContext.runAsNonRoot=false"], "/podSecurityContext/runAsNonRoot"),
    (["containerSecurityContext.allowPrivilegeEscalation=true"], "/containerSecurityContext/allowPrivilegeEscalation"),
    (["containerSecurityContext.privileged=true"], "/containerSecurityContext/privileged"),
    (["containerSecurityContext.capabilities.drop={NET_RAW}"], "/containerSecurityContext/capabilities/drop"),
    (["ingress.hosts[0].paths[0].path=/api"], "/ingress/hosts/0"),
    (["fullnameOverride=Not_A_DNS_Name"], "/fullnameOverride"),
]


@pytest.mark.parametrize(("sets", "fragment"), BAD_VALUES, ids=[" ".join(s) for s, _ in BAD_VALUES])
def test_schema_rejects_bad_values(sets: list[str], fragment: str) -> None:
    args = [arg for s in sets for arg in ("--set", s)]
    result = run_helm("template", "bad", str(CHART), *args, check=False)
    assert result.returncode != 0, f"accepted: {sets}"
    assert fragment in result.stderr, result.stderr


# Combinations the schema cannot describe well; the templates fail with a sentence.
TEMPLATE_FAILURES = [
    (["redis.enabled=false", "redis.external.url=redis://:secret@r:6379/0"], "carries a password"),
    (["receiver.preStopSleepSeconds=30"], "must exceed receiver.preStopSleepSeconds"),
    (
        ["networkPolicy.receiverFrom[0].podSelector.matchLabels.ingress=yes", "metrics.serviceMonitor.enabled=true"],
        "set networkPolicy.metricsFrom",
    ),
    (
        ["networkPolicy.consoleFrom[0].podSelector.matchLabels.vpn=yes", "metrics.podMonitor.enabled=true"],
        "networkPolicy.consoleFrom restricts the console's port",
    ),
]


@pytest.mark.parametrize(("sets", "fragment"), TEMPLATE_FAILURES, ids=[" ".join(s) for s, _ in TEMPLATE_FAILURES])
def test_templates_refuse_unsafe_combinations(sets: list[str], fragment: str) -> None:
    args = [arg for s in sets for arg in ("--set", s)]
    apis = ("--api-versions", "monitoring.coreos.com/v1")
    result = run_helm("template", "bad", str(CHART), *MINIMAL, *apis, *args, check=False)
    assert result.returncode != 0 and fragment in result.stderr, result.stderr


def test_the_schema_accepts_the_documented_examples() -> None:
    # The examples in values.yaml's comments, as a user would type them.
    rendered = template(
        *MINIMAL,
        "--set",
        "prometheusRule.additionalLabels.release=kube-prometheus-stack",
        "--set",
        "prometheusRule.enabled=true",
        "--set",
        "config.ghlStatusTags.approved={paid}",
        "--set",
        "redis.enabled=false",
        "--set",
        "redis.external.existingSecret=redis-url",
        "--set",
        "image.digest=sha256:" + "a" * 64,
        "--set",
        "global.imagePullSecrets[0].name=my-registry",
    )
    [rule] = rendered.of_kind("PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
