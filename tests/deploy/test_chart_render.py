"""Assertions on the rendered objects of every scenario: labels and selectors, scaling,
Pod Security "restricted", probes and resources, the runtime contract's environment,
checksums that roll the pods, RBAC, monitoring wiring and NOTES.txt."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import (
    CHART,
    MINIMAL,
    NAMESPACE,
    RELEASE,
    ROOT,
    SCENARIOS,
    Rendered,
    containers,
    main_container,
    pod_template,
    release_of,
    run_helm,
    selector_matches,
    template,
    values_file,
)

COMPONENTS = ("receiver", "worker", "scheduler", "reconciler", "console")
SCRAPED = ("receiver", "worker", "scheduler", "console")


def scenario_values(scenario: str) -> dict[str, Any]:
    """The chart defaults merged with the scenario file (enough for these assertions)."""

    def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
        out = dict(base)
        for key, value in over.items():
            out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        return out

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    return merge(values, yaml.safe_load(values_file(scenario).read_text()) or {})


def contract_env_names() -> set[str]:
    """Every environment variable docs/runtime-contract.md names (its Environment section)."""
    text = (ROOT / "docs" / "runtime-contract.md").read_text()
    section = text.split("## Environment", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)`", section))


def fullname(rendered: Rendered) -> str:
    [configmap] = [c for c in rendered.of_kind("ConfigMap") if c["metadata"]["name"].endswith("-config")]
    return configmap["metadata"]["name"].removesuffix("-config")


def config_data(rendered: Rendered) -> dict[str, str]:
    [configmap] = [c for c in rendered.of_kind("ConfigMap") if c["metadata"]["name"].endswith("-config")]
    return configmap["data"]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


# --- labels and selectors ------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_standard_labels_on_every_object(scenario: str, render: Any) -> None:
    for obj in render(scenario).objects:
        labels = obj["metadata"].get("labels", {})
        for key in (
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/version",
            "app.kubernetes.io/managed-by",
            "helm.sh/chart",
        ):
            assert key in labels, f"{obj['kind']} {obj['metadata']['name']} lacks {key}"
        # Only a monitor may live elsewhere: in the namespace its Prometheus watches.
        monitor = scenario_values(scenario)["metrics"].get(
            {"ServiceMonitor": "serviceMonitor", "PodMonitor": "podMonitor"}.get(obj["kind"], ""), {}
        )
        assert obj["metadata"]["namespace"] == (monitor.get("namespace") or NAMESPACE)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_selector_carries_the_component(scenario: str, render: Any) -> None:
    rendered = render(scenario)
    for obj in rendered.objects:
        kind = obj["kind"]
        if kind in ("Deployment", "StatefulSet", "PodDisruptionBudget"):
            selector = obj["spec"]["selector"]["matchLabels"]
        elif kind == "Service":
            selector = obj["spec"]["selector"]
        elif kind == "NetworkPolicy" and not obj["metadata"]["name"].endswith("-default-deny"):
            selector = obj["spec"]["podSelector"]["matchLabels"]
        else:
            continue
        assert {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"} <= set(
            selector
        ), f"{kind} {obj['metadata']['name']}: {selector}"
    for workload in rendered.workloads():
        labels = pod_template(workload)["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == workload["metadata"]["labels"]["app.kubernetes.io/component"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_workload_selectors_do_not_overlap(scenario: str, render: Any) -> None:
    workloads = [w for w in render(scenario).workloads() if w["kind"] != "CronJob"]
    for a, b in itertools.permutations(workloads, 2):
        selector = a["spec"]["selector"]["matchLabels"]
        assert not selector_matches(selector, pod_template(b)["metadata"]["labels"]), (
            f"{a['metadata']['name']}'s selector matches {b['metadata']['name']}'s pods"
        )
    for workload in workloads:
        assert selector_matches(
            workload["spec"]["selector"]["matchLabels"], pod_template(workload)["metadata"]["labels"]
        )


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_service_selects_exactly_one_workload_and_its_port(scenario: str, render: Any) -> None:
    rendered = render(scenario)
    pods = [w for w in rendered.workloads() if w["kind"] != "CronJob"]
    for service in rendered.of_kind("Service"):
        targets = [
            w for w in pods if selector_matches(service["spec"]["selector"], pod_template(w)["metadata"]["labels"])
        ]
        assert len(targets) == 1, f"Service {service['metadata']['name']} selects {len(targets)} workloads"
        port_names = {p["name"] for c in containers(targets[0]) for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, (
                f"{service['metadata']['name']}: no container port {port['targetPort']}"
            )


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scrape_services_are_named_fullname_component(scenario: str, render: Any) -> None:
    # Prometheus' job label is the Service name; the alert rules expect <fullname>-<component>.
    rendered = render(scenario)
    name = fullname(rendered)
    for component in SCRAPED:
        service = rendered.component("Service", component)
        assert service["metadata"]["name"] == f"{name}-{component}"
        serving = {"receiver": {"http"}, "console": {"http"}}
        assert {p["name"] for p in service["spec"]["ports"]} == serving.get(component, {"metrics"})


# --- scaling -------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_keda_and_hpa_are_exclusive(scenario: str, render: Any) -> None:
    rendered = render(scenario)
    for component in ("receiver", "worker"):
        deployment = rendered.component("Deployment", component)
        name = deployment["metadata"]["name"]
        scalers = [
            o
            for o in rendered.of_kind("HorizontalPodAutoscaler") + rendered.of_kind("ScaledObject")
            if o["spec"]["scaleTargetRef"]["name"] == name
        ]
        assert len(scalers) <= 1, f"{name} is scaled by {[s['kind'] for s in scalers]}"
        # A scaled Deployment leaves replicas to its scaler (helm upgrades would reset it).
        assert ("replicas" in deployment["spec"]) == (not scalers), name


def test_keda_and_hpa_together_are_refused() -> None:
    result = run_helm(
        "template",
        "x",
        str(CHART),
        "--set",
        "worker.keda.enabled=true",
        "--set",
        "worker.autoscaling.enabled=true",
        check=False,
    )
    assert result.returncode != 0


def test_keda_scales_on_the_rq_queue_list(render: Any) -> None:
    [scaled] = render("keda-bundled").of_kind("ScaledObject")
    lists = [t["metadata"]["listName"] for t in scaled["spec"]["triggers"]]
    assert lists == ["rq:queue:mpwh-events", "rq:queue:mpwh-priority"]
    # KEDA's operator runs in its own namespace: only the fully qualified name resolves there.
    address = scaled["spec"]["triggers"][0]["metadata"]["address"]
    redis = render("keda-bundled").get("Service", f"{fullname(render('keda-bundled'))}-redis")
    assert address == f"{redis['metadata']['name']}.{NAMESPACE}.svc.cluster.local:6379"
    [default_trigger] = template(*MINIMAL, "--set", "worker.keda.enabled=true").of_kind("ScaledObject")[0]["spec"][
        "triggers"
    ]
    assert default_trigger["metadata"]["listName"] == "rq:queue:mpwh-events"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scheduler_is_a_single_instance(scenario: str, render: Any) -> None:
    scheduler = render(scenario).component("Deployment", "scheduler")
    assert scheduler["spec"]["replicas"] == 1
    assert scheduler["spec"]["strategy"] == {"type": "Recreate"}
    assert not [
        o
        for o in render(scenario).of_kind("HorizontalPodAutoscaler")
        if o["spec"]["scaleTargetRef"]["name"] == scheduler["metadata"]["name"]
    ]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_reconciler_cronjob_policy(scenario: str, render: Any) -> None:
    cronjob = render(scenario).component("CronJob", "reconciler")
    spec = cronjob["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] >= 10
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] > 0
    assert job["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_receiver_has_a_pdb_unless_disabled(scenario: str, render: Any) -> None:
    rendered = render(scenario)
    pdbs = [
        p
        for p in rendered.of_kind("PodDisruptionBudget")
        if p["metadata"]["labels"]["app.kubernetes.io/component"] == "receiver"
    ]
    enabled = scenario_values(scenario)["receiver"]["podDisruptionBudget"]["enabled"]
    assert len(pdbs) == (1 if enabled else 0)
    for pdb in pdbs:
        receiver = rendered.component("Deployment", "receiver")
        assert pdb["spec"]["selector"]["matchLabels"] == receiver["spec"]["selector"]["matchLabels"]


# --- security --------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_pod_security_restricted_everywhere(scenario: str, render: Any) -> None:
    reload = scenario_values(scenario)["dev"]["reload"]
    assert not reload or scenario == "dev", "only the dev scenario runs the file-sync reloader"
    for workload in render(scenario).workloads():
        # Only the containers skaffold syncs into (dev.reload) may write to their root.
        reloadable = workload["metadata"]["labels"]["app.kubernetes.io/component"] in SCRAPED
        read_only_root = not (reload and reloadable)
        name = workload["metadata"]["name"]
        spec = pod_template(workload)["spec"]
        for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(forbidden), f"{name}: {forbidden}"
        assert not any("hostPath" in v for v in spec.get("volumes", [])), name
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True and pod_sc["runAsUser"] > 0, name
        assert pod_sc["seccompProfile"]["type"] == "RuntimeDefault", name
        tmp_volumes = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for container in containers(workload):
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc.get("privileged", False) is False, name
            assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add"), name
            assert sc["runAsNonRoot"] is True and sc["seccompProfile"]["type"] == "RuntimeDefault", name
            assert sc["readOnlyRootFilesystem"] is read_only_root, name
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert mounts.get("/tmp") in tmp_volumes, f"{name}: /tmp is not an emptyDir"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_probes_and_resources(scenario: str, render: Any) -> None:
    for workload in render(scenario).workloads():
        for container in containers(workload):
            name = f"{workload['metadata']['name']}/{container['name']}"
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{name}: {kind}"
            if workload["kind"] == "CronJob" or container in pod_template(workload)["spec"].get("initContainers", []):
                continue
            assert "livenessProbe" in container and "readinessProbe" in container, name
            port_names = {p["name"] for p in container.get("ports", [])}
            for probe_kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                probe = container.get(probe_kind)
                if probe and "httpGet" in probe:
                    assert probe["httpGet"]["port"] in port_names, f"{name}: {probe_kind} port"
                    assert probe["httpGet"]["path"].startswith("/")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_only_the_reconciler_gets_a_service_account_token(scenario: str, render: Any) -> None:
    rendered = render(scenario)
    for workload in rendered.workloads():
        spec = pod_template(workload)["spec"]
        is_reconciler = workload["metadata"]["labels"]["app.kubernetes.io/component"] == "reconciler"
        assert spec["automountServiceAccountToken"] is is_reconciler, workload["metadata"]["name"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_reconciler_role_is_pods_list_and_events_create_only(scenario: str, render: Any) -> None:
    rendered = render(scenario)
    cronjob = rendered.component("CronJob", "reconciler")
    account = pod_template(cronjob)["spec"]["serviceAccountName"]
    [role] = rendered.of_kind("Role")
    [binding] = rendered.of_kind("RoleBinding")
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == {("", "pods", "list"), ("", "events", "create"), ("events.k8s.io", "events", "create")}
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}]
    others = [pod_template(w)["spec"].get("serviceAccountName") for w in rendered.workloads() if w is not cronjob]
    assert account not in others


# --- environment -------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_configmap_keys_are_contract_variables(scenario: str, render: Any) -> None:
    names = contract_env_names()
    extra = set(scenario_values(scenario)["config"]["extraEnv"])
    unknown = set(config_data(render(scenario))) - names - extra
    assert not unknown, f"not in docs/runtime-contract.md: {sorted(unknown)}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_environment_of_each_component(scenario: str, render: Any) -> None:
    rendered = render(scenario)
    values = scenario_values(scenario)
    data = config_data(rendered)
    assert data["JOB_TIMEOUT_SECONDS"] == str(scenario_values(scenario)["config"]["jobTimeoutSeconds"])
    assert data["BREAKER_FAILURES"] == str(values["config"]["breakerFailures"])
    assert data["BREAKER_PROBE_SECONDS"] == str(values["config"]["breakerProbeSeconds"])
    expected_secrets = {
        "receiver": {"MP_WEBHOOK_SECRET", "API_TOKEN", "API_READ_TOKEN"},
        "worker": {"MP_ACCESS_TOKEN", "GHL_API_TOKEN"},
        "scheduler": set(),
        "reconciler": {"MP_ACCESS_TOKEN"},
        "console": {"API_TOKEN", "API_READ_TOKEN", "CONSOLE_SESSION_SECRET"},
    }
    for component in COMPONENTS:
        workload = rendered.component("CronJob" if component == "reconciler" else "Deployment", component)
        container = main_container(workload)
        env = env_of(container)
        # The contract's variables, and what the values add on purpose (extraEnv).
        names = contract_env_names() | {e["name"] for e in values[component]["extraEnv"]}
        assert set(env) <= names, f"{component}: {sorted(set(env) - names)} not in the runtime contract"
        config_refs = [ref["configMapRef"]["name"] for ref in container["envFrom"] if "configMapRef" in ref]
        assert config_refs[0] == f"{fullname(rendered)}-config"
        assert container["envFrom"][1:] == values[component]["extraEnvFrom"]
        secret_keys = {
            n
            for n, e in env.items()
            if "secretKeyRef" in e.get("valueFrom", {}) and n not in ("REDIS_URL", "REDIS_PASSWORD")
        }
        assert secret_keys == expected_secrets[component], component
        for downward in ("POD_NAME", "POD_NAMESPACE"):
            field = {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}[downward]
            assert env[downward]["valueFrom"]["fieldRef"]["fieldPath"] == field, component
        redis_from_secret = bool(values["redis"]["external"]["existingSecret"]) and not values["redis"]["enabled"]
        assert ("REDIS_URL" in env) == redis_from_secret and ("REDIS_URL" in data) != redis_from_secret


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_worker_grace_period_exceeds_the_job_timeout(scenario: str, render: Any) -> None:
    rendered = render(scenario)
    worker = rendered.component("Deployment", "worker")
    grace = pod_template(worker)["spec"]["terminationGracePeriodSeconds"]
    assert grace == int(config_data(rendered)["JOB_TIMEOUT_SECONDS"]) + 30


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_reconciler_worker_selector_matches_the_worker_pods(scenario: str, render: Any) -> None:
    rendered = render(scenario)
    reconciler = main_container(rendered.component("CronJob", "reconciler"))
    selector = env_of(reconciler)["WORKER_POD_SELECTOR"]["value"]
    parsed = dict(part.split("=", 1) for part in selector.split(","))
    assert parsed == rendered.component("Deployment", "worker")["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_metrics_port_is_the_declared_container_port(scenario: str, render: Any) -> None:
    rendered = render(scenario)
    port = int(config_data(rendered)["METRICS_PORT"])
    for component in ("worker", "scheduler"):
        container = main_container(rendered.component("Deployment", component))
        assert container["ports"] == [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]
    receiver = main_container(rendered.component("Deployment", "receiver"))
    args = receiver.get("args") or receiver["command"]
    assert receiver["ports"][0]["containerPort"] == 8000 and "8000" in " ".join(args)


# --- checksums -----------------------------------------------------------------------------


def checksums(rendered: Rendered) -> dict[str, dict[str, str]]:
    return {
        w["metadata"]["name"]: {
            k: v for k, v in pod_template(w)["metadata"].get("annotations", {}).items() if k.startswith("checksum/")
        }
        for w in rendered.workloads()
        if w["metadata"]["labels"]["app.kubernetes.io/component"] in COMPONENTS
    }


def test_config_changes_roll_every_component() -> None:
    base = checksums(template(*MINIMAL))
    assert len(base) == len(COMPONENTS) and all(set(c) == {"checksum/config", "checksum/secret"} for c in base.values())
    for change in ("config.logLevel=DEBUG", "config.jobTimeoutSeconds=300", "metrics.port=9200"):
        changed = checksums(template(*MINIMAL, "--set", change))
        for name in base:
            assert changed[name]["checksum/config"] != base[name]["checksum/config"], (change, name)
            assert changed[name]["checksum/secret"] == base[name]["checksum/secret"], (change, name)
    secret = checksums(template(*MINIMAL, "--set", "secrets.mpAccessToken=new-token"))
    for name in base:
        assert secret[name]["checksum/secret"] != base[name]["checksum/secret"], name
        assert secret[name]["checksum/config"] == base[name]["checksum/config"], name


def test_unrelated_changes_do_not_roll_the_pods() -> None:
    assert checksums(
        template(*MINIMAL, "--set", "receiver.replicas=5", "--set", "receiver.autoscaling.enabled=false")
    ) == checksums(template(*MINIMAL))


def test_a_generated_session_secret_does_not_roll_the_pods_but_a_given_one_does() -> None:
    # Rendered without a cluster, the console's session secret is drawn anew each time:
    # it lives in a Secret of its own that the checksum leaves out.
    first, second = template(*MINIMAL), template(*MINIMAL)
    generated = [s for s in first.of_kind("Secret") if s["metadata"]["name"].endswith("-console-session")]
    redrawn = [s for s in second.of_kind("Secret") if s["metadata"]["name"].endswith("-console-session")]
    assert generated and generated[0]["data"] != redrawn[0]["data"]
    assert checksums(first) == checksums(second)
    given = checksums(template(*MINIMAL, "--set", "secrets.consoleSessionSecret=" + "a" * 40))
    changed = checksums(template(*MINIMAL, "--set", "secrets.consoleSessionSecret=" + "b" * 40))
    for name in given:
        assert given[name]["checksum/secret"] != changed[name]["checksum/secret"], name


# --- monitoring -----------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_service_monitor_scrapes_each_component_as_its_job(scenario: str, render: Any) -> None:
    rendered = render(scenario)
    monitors = rendered.of_kind("ServiceMonitor")
    values = scenario_values(scenario)["metrics"]["serviceMonitor"]
    assert len(monitors) == (1 if values["enabled"] else 0)
    for monitor in monitors:
        spec = monitor["spec"]
        assert "jobLabel" not in spec, "the job label must stay the Service name (<fullname>-<component>)"
        for key, value in values["additionalLabels"].items():
            assert monitor["metadata"]["labels"][key] == value
        assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
        endpoint_ports = {e["port"] for e in spec["endpoints"]}
        # The Services Prometheus scrapes: selected, with a port an endpoint names.
        services = [
            s
            for s in rendered.of_kind("Service")
            if selector_matches(spec["selector"]["matchLabels"], s["metadata"]["labels"])
            and all(s["metadata"]["labels"].get(e["key"]) in e["values"] for e in spec["selector"]["matchExpressions"])
            and {p["name"] for p in s["spec"]["ports"]} & endpoint_ports
        ]
        values_all = scenario_values(scenario)
        exported = values_all["redis"]["enabled"] and values_all["redis"]["metrics"]["enabled"]
        expected = [*SCRAPED, *(["redis"] if exported else [])]
        assert sorted(s["metadata"]["labels"]["app.kubernetes.io/component"] for s in services) == sorted(expected)
        for endpoint in spec["endpoints"]:
            assert endpoint["path"] == "/metrics"
            assert endpoint["relabelings"][0] == {
                "sourceLabels": ["__meta_kubernetes_service_label_app_kubernetes_io_component"],
                "targetLabel": "component",
                "action": "replace",
            }
            # The user's relabelings come after the chart's, which they may build on.
            assert endpoint["relabelings"][1:] == values["relabelings"]
            assert endpoint.get("metricRelabelings", []) == values["metricRelabelings"]


def test_pod_monitor_sets_the_same_job_and_component_labels(render: Any) -> None:
    rendered = render("external-url")
    [monitor] = rendered.of_kind("PodMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    for endpoint in monitor["spec"]["podMetricsEndpoints"]:
        targets = {r["targetLabel"]: r for r in endpoint["relabelings"]}
        assert targets["job"]["replacement"] == f"{fullname(rendered)}-$1"
        assert targets["component"]["sourceLabels"] == ["__meta_kubernetes_pod_label_app_kubernetes_io_component"]


def test_prometheus_rule_carries_the_release_label(render: Any) -> None:
    [rule] = render("prod").of_kind("PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    jobs = set(re.findall(r'job=~?"([^"]+)"', yaml.safe_dump(rule["spec"])))
    # The rules select the chart's scrape jobs, <fullname>-<component>.
    assert any(job.startswith(f"{fullname(render('prod'))}-") for job in jobs), jobs


def test_fullname_override_renames_everything(render: Any) -> None:
    rendered = render("external-url")
    assert fullname(rendered) == "payments-hooks"
    for component in SCRAPED:
        assert rendered.component("Service", component)["metadata"]["name"] == f"payments-hooks-{component}"


# --- network -----------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_network_policies(scenario: str, render: Any) -> None:
    rendered = render(scenario)
    values = scenario_values(scenario)
    policies = {p["metadata"]["name"]: p for p in rendered.of_kind("NetworkPolicy")}
    if not values["networkPolicy"]["enabled"]:
        assert not policies
        return
    name = fullname(rendered)
    np = values["networkPolicy"]
    release_pods = {"app.kubernetes.io/name": "mp-webhooks", "app.kubernetes.io/instance": release_of(scenario)}
    assert policies[f"{name}-default-deny"]["spec"]["podSelector"]["matchLabels"] == release_pods
    if values["redis"]["enabled"]:
        redis_rules = policies[f"{name}-redis"]["spec"]["ingress"]
        peers = [{"podSelector": {"matchLabels": release_pods}}]
        if values["worker"]["keda"]["enabled"]:
            # KEDA's operator reads the queue length from its own namespace.
            namespace = values["worker"]["keda"]["operatorNamespace"]
            peers.append({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}})
        assert redis_rules[0] == {"from": peers, "ports": [{"port": "redis", "protocol": "TCP"}]}
        if values["redis"]["metrics"]["enabled"]:
            assert redis_rules[1]["ports"] == [{"port": "metrics", "protocol": "TCP"}]
            assert redis_rules[1].get("from", []) == np["metricsFrom"]
        assert len(redis_rules) == 1 + values["redis"]["metrics"]["enabled"]
    for component in SCRAPED:
        if not values[component].get("enabled", True):
            assert f"{name}-{component}" not in policies, component
            continue
        [rule] = policies[f"{name}-{component}"]["spec"]["ingress"]
        # The receiver and the console serve /metrics on their http port.
        assert [p["port"] for p in rule["ports"]] == ["http" if component in ("receiver", "console") else "metrics"]
        if component == "console":
            # Pages only from consoleFrom (any source when empty), plus the scrapers.
            if np["consoleFrom"]:
                assert rule["from"] == [*np["consoleFrom"], *np["metricsFrom"]]
            else:
                assert "from" not in rule
        elif component != "receiver":
            assert rule.get("from", []) == np["metricsFrom"]
        elif np["receiverFrom"]:
            # The receiver's port also serves /metrics and /readyz: the scrapers and the
            # release's `helm test` pod keep reaching it.
            test_pod = {"podSelector": {"matchLabels": {**release_pods, "app.kubernetes.io/component": "test"}}}
            assert rule["from"] == [*np["receiverFrom"], *np["metricsFrom"], test_pod]
        else:
            assert "from" not in rule
    egress = "Egress" in policies[f"{name}-default-deny"]["spec"]["policyTypes"]
    assert egress == np["egress"]["enabled"]
    if egress:
        redis_port = 6379 if values["redis"]["enabled"] else values["redis"]["external"]["port"]
        opened = {p["port"] for rule in policies[f"{name}-default-deny"]["spec"]["egress"] for p in rule["ports"]}
        assert redis_port in opened, f"egress does not open Redis' port {redis_port}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_ingress_routes_to_the_receiver_service(scenario: str, render: Any) -> None:
    rendered = render(scenario)
    receiver_service = rendered.component("Service", "receiver")["metadata"]["name"]
    for ingress in rendered.of_kind("Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"] == {"name": receiver_service, "port": {"name": "http"}}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_bundled_redis_keeps_its_data(scenario: str, render: Any) -> None:
    rendered = render(scenario)
    statefulsets = rendered.of_kind("StatefulSet")
    if not scenario_values(scenario)["redis"]["enabled"]:
        assert not statefulsets
        return
    [redis] = statefulsets
    container = main_container(redis)
    args = container["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    assert redis["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    assert {"mountPath": "/data", "name": "data"} in container["volumeMounts"]
    registry = scenario_values(scenario)["global"]["imageRegistry"] or "docker.io"
    assert container["image"].startswith(f"{registry}/library/redis:")
    service = rendered.get("Service", f"{fullname(rendered)}-redis")
    assert config_data(rendered)["REDIS_URL"] == f"redis://{service['metadata']['name']}:6379/0"


# --- NOTES.txt ----------------------------------------------------------------------------------


def notes(*args: str) -> str:
    # `helm install --dry-run=client` knows no cluster and takes no --api-versions.
    offline = ("--set", "checkApiVersions=false")
    result = run_helm(
        "install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--dry-run=client", *offline, *(args or MINIMAL)
    )
    return result.stdout.split("NOTES:", 1)[1]


def test_notes_tell_how_to_reach_the_receiver_and_retry(render: Any) -> None:
    rendered = render("minimal")
    text = notes()
    receiver = rendered.component("Service", "receiver")["metadata"]["name"]
    worker = rendered.component("Deployment", "worker")["metadata"]["name"]
    assert f"kubectl -n {NAMESPACE} port-forward svc/{receiver} 8000:8000" in text
    assert f"kubectl -n {NAMESPACE} exec deploy/{worker} -- mp-webhooks retry --status failed --dry-run" in text
    assert "https://<your public host>/webhooks/mp" in text
    assert "MP_WEBHOOK_SECRET" not in text  # set, as a production install requires


def test_notes_give_the_ingress_webhook_url() -> None:
    text = notes("-f", str(values_file("prod")))
    assert "https://webhooks.example.com/webhooks/mp" in text
    assert "MP_WEBHOOK_SECRET" not in text  # existingSecret: the chart cannot know, and does not nag
    dev = notes("-f", str(values_file("dev")))
    assert "ANY request is accepted" in dev
