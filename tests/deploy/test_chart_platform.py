"""The chart as a platform team installs it (issue #14): a default install that would
crash-loop is refused with a message naming the value, optional CRD objects only when
enabled and only on a cluster that serves their API, names valid for any release name,
the extension points landing where they should, the preStop pause, the probes, the
bundled Redis' PDB and memory headroom, runbook links from a value, Artifact Hub
metadata, the `helm test` pod and the retry Job for operators without exec rights."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import (
    CHART,
    MINIMAL,
    SCENARIO_RELEASES,
    SCENARIOS,
    Rendered,
    containers,
    main_container,
    pod_template,
    run_helm,
    template,
)
from tests.deploy.test_chart_render import scenario_values

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def refused(*args: str, api_versions: tuple[str, ...] = ()) -> str:
    """stderr of a `helm template` that must fail."""
    apis = [a for version in api_versions for a in ("--api-versions", version)]
    result = run_helm("template", "mpwh", str(CHART), *apis, *args, check=False)
    assert result.returncode != 0, f"rendered: {args}"
    return result.stderr


# --- a default install must not "succeed" into crash loops -----------------------------------


def test_values_yaml_alone_is_refused_naming_the_value() -> None:
    assert "secrets.mpAccessToken is required" in refused()


@pytest.mark.parametrize(
    ("unset", "named"),
    [
        ("secrets.mpAccessToken", "secrets.mpAccessToken is required"),
        ("secrets.ghlApiToken", "secrets.ghlApiToken is required"),
        ("secrets.mpWebhookSecret", "secrets.mpWebhookSecret is required"),
        ("config.ghlLocationId", "config.ghlLocationId is required"),
    ],
)
def test_each_missing_setting_is_named(unset: str, named: str) -> None:
    assert named in refused(*MINIMAL, "--set", f"{unset}=")


def test_development_profile_existing_secret_and_unsigned_relax_what_they_should() -> None:
    template("--set", "profile=development")
    # The chart cannot look into a Secret you manage; the location id is still its own.
    assert "config.ghlLocationId" in refused("--set", "secrets.existingSecret=mine")
    template("--set", "secrets.existingSecret=mine", "--set", "config.ghlLocationId=loc")
    template(*MINIMAL, "--set", "secrets.mpWebhookSecret=", "--set", "config.allowUnsigned=true")


# --- optional CRDs: only when enabled, only when the cluster serves them ---------------------

CRD_OBJECTS = [
    ("metrics.serviceMonitor.enabled", "ServiceMonitor", "monitoring.coreos.com/v1"),
    ("metrics.podMonitor.enabled", "PodMonitor", "monitoring.coreos.com/v1"),
    ("prometheusRule.enabled", "PrometheusRule", "monitoring.coreos.com/v1"),
    ("worker.keda.enabled", "ScaledObject", "keda.sh/v1alpha1"),
]


@pytest.mark.parametrize(("value", "kind", "api"), CRD_OBJECTS, ids=[k for _, k, _ in CRD_OBJECTS])
def test_crd_objects_need_their_api(value: str, kind: str, api: str) -> None:
    enabled = (*MINIMAL, "--set", f"{value}=true")
    message = refused(*enabled)
    assert value in message and f"{api} {kind}" in message, message
    # Either form Helm's Capabilities carry serves it: the group/version, or with the kind.
    for served in (api, f"{api}/{kind}"):
        [obj] = template(*enabled, api_versions=(served,)).of_kind(kind)
        assert obj["apiVersion"] == api
    # Off: nothing of that kind, and no API needed.
    assert not template(*MINIMAL, api_versions=()).of_kind(kind)


def test_offline_rendering_can_skip_the_api_check() -> None:
    rendered = template(
        *MINIMAL, "--set", "prometheusRule.enabled=true", "--set", "checkApiVersions=false", api_versions=()
    )
    assert rendered.of_kind("PrometheusRule")


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_object_names_fit_kubernetes_limits_and_stay_unique(scenario: str, render: Any) -> None:
    rendered = render(scenario)
    seen: set[tuple[str, str]] = set()
    for obj in rendered.objects:
        kind, name = obj["kind"], obj["metadata"]["name"]
        # CronJobs: their Jobs append 11 characters and are label values (63). StatefulSets:
        # their pods carry controller-revision-hash=<name>-<10 characters>.
        limit = 52 if kind in ("CronJob", "StatefulSet") else 63
        assert len(name) <= limit and DNS_LABEL.match(name), f"{kind} {name} ({len(name)} characters)"
        assert (kind, name) not in seen, f"two {kind}s named {name}"
        seen.add((kind, name))
        for port in [
            p
            for c in (containers(obj) if obj["kind"] in ("Deployment", "StatefulSet") else [])
            for p in c.get("ports", [])
        ]:
            assert len(port["name"]) <= 15, port


def test_the_long_release_name_is_really_long(render: Any) -> None:
    assert len(SCENARIO_RELEASES["long-release"]) == 53
    names = [o["metadata"]["name"] for o in render("long-release").objects]
    assert max(len(n) for n in names) > 50, "the scenario no longer exercises the limits"


def test_notes_job_names_stay_valid_on_every_run() -> None:
    release = SCENARIO_RELEASES["long-release"]
    notes = run_helm(
        "install",
        release,
        str(CHART),
        "--dry-run=client",
        "--set",
        "checkApiVersions=false",
        "-f",
        str(CHART / "ci" / "long-release-values.yaml"),
    ).stdout.split("NOTES:", 1)[1]
    jobs = re.findall(r"create job --from=cronjob/(\S+) (\S+ \+%s\))", notes)
    assert {cronjob.rsplit("-", 1)[1] for cronjob, _ in jobs} == {"reconciler", "retry"}
    for _, name in jobs:
        # A second run must not collide: each name carries the time it was created.
        assert name.endswith("-$(date +%s)"), name
        assert len(name.replace("$(date +%s)", "1" * 10)) <= 63


# --- the receiver, worker and scheduler pods ---------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_receiver_pauses_before_stopping_within_its_grace(scenario: str, render: Any) -> None:
    receiver = render(scenario).component("Deployment", "receiver")
    container = main_container(receiver)
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    seconds = scenario_values(scenario)["receiver"]["preStopSleepSeconds"]
    assert command == ["sleep", str(seconds)]
    assert pod_template(receiver)["spec"]["terminationGracePeriodSeconds"] > seconds


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_worker_and_scheduler_liveness_follows_the_work_loop(scenario: str, render: Any) -> None:
    for component in ("worker", "scheduler"):
        container = main_container(render(scenario).component("Deployment", component))
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez", component
        assert container["readinessProbe"]["httpGet"]["path"] == "/healthz", component


# --- the bundled Redis -------------------------------------------------------------------------

_BYTES = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "ki": 1024, "mi": 1024**2, "gi": 1024**3}


def to_bytes(quantity: str) -> int:
    match = re.fullmatch(r"(\d+)([a-z]*)", quantity.lower())
    assert match and match.group(2) in _BYTES, quantity
    return int(match.group(1)) * _BYTES[match.group(2)]


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if scenario_values(s)["redis"]["enabled"]])
def test_redis_memory_limit_leaves_room_for_the_aof_rewrite(scenario: str, render: Any) -> None:
    """An AOF rewrite forks: the child's copy-on-write pages can reach the parent's whole
    dataset, so the limit holds twice maxmemory plus 64Mi of buffers and fragmentation."""
    container = main_container(render(scenario).component("StatefulSet", "redis"))
    maxmemory = to_bytes(container["args"][container["args"].index("--maxmemory") + 1])
    limit = to_bytes(container["resources"]["limits"]["memory"])
    assert limit >= 2 * maxmemory + 64 * 1024**2, f"limit {limit} for maxmemory {maxmemory}"


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if scenario_values(s)["redis"]["enabled"]])
def test_redis_has_a_disruption_budget(scenario: str, render: Any) -> None:
    rendered = render(scenario)
    [pdb] = [
        p
        for p in rendered.of_kind("PodDisruptionBudget")
        if p["metadata"]["labels"]["app.kubernetes.io/component"] == "redis"
    ]
    redis = rendered.component("StatefulSet", "redis")
    assert pdb["spec"]["selector"]["matchLabels"] == redis["spec"]["selector"]["matchLabels"]
    assert pdb["spec"]["maxUnavailable"] == scenario_values(scenario)["redis"]["podDisruptionBudget"]["maxUnavailable"]


def test_redis_exporter_sidecar_is_scraped(render: Any) -> None:
    rendered = render("long-release")
    redis = rendered.component("StatefulSet", "redis")
    [exporter] = [c for c in pod_template(redis)["spec"]["containers"] if c["name"] == "metrics"]
    port = exporter["ports"][0]["containerPort"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in exporter["env"]}
    password = {"secretKeyRef": {"name": f"{redis['metadata']['name']}", "key": "REDIS_PASSWORD"}}
    assert env == {
        "REDIS_ADDR": "redis://127.0.0.1:6379",
        "REDIS_PASSWORD": password,
        "REDIS_EXPORTER_WEB_LISTEN_ADDRESS": f":{port}",
    }
    service = rendered.get("Service", redis["metadata"]["name"])
    assert {"name": "metrics", "port": port, "targetPort": "metrics", "protocol": "TCP"} in service["spec"]["ports"]
    assert not template(*MINIMAL).component("StatefulSet", "redis")["spec"]["template"]["spec"]["containers"][1:]


# --- extension points ---------------------------------------------------------------------------


def pod_specs(rendered: Rendered) -> list[dict[str, Any]]:
    specs = [pod_template(w)["spec"] for w in rendered.workloads()]
    return specs + [p["spec"] for p in rendered.of_kind("Pod")]


def test_every_extension_point_lands_where_it_should(render: Any) -> None:
    rendered, values = render("extensions"), scenario_values("extensions")
    for obj in rendered.objects:
        assert obj["metadata"]["labels"]["team"] == "payments", obj["metadata"]["name"]
        assert obj["metadata"]["annotations"]["owner"] == "payments-platform", obj["metadata"]["name"]
    for spec in pod_specs(rendered):
        assert spec["imagePullSecrets"] == [{"name": "mirror-pull"}]
        for container in spec.get("initContainers", []) + spec["containers"]:
            assert container["image"].startswith("mirror.internal/"), container["image"]
    for component, kind in (
        ("receiver", "Deployment"),
        ("worker", "Deployment"),
        ("scheduler", "Deployment"),
        ("reconciler", "CronJob"),
    ):
        own = values[component]
        workload = rendered.component(kind, component)
        template_ = pod_template(workload)
        spec, container = template_["spec"], main_container(workload)
        assert template_["metadata"]["labels"]["cost-center"] == "payments", component
        assert [c["name"] for c in spec["initContainers"]] == [c["name"] for c in own["initContainers"]]
        assert [c["name"] for c in spec["containers"]] == [component, *(c["name"] for c in own["sidecars"])]
        assert [v for v in spec["volumes"] if v["name"] != "tmp"] == own["extraVolumes"]
        assert [m for m in container["volumeMounts"] if m["name"] != "tmp"] == own["extraVolumeMounts"]
        assert container["env"][-len(own["extraEnv"]) :] == own["extraEnv"], component
        assert container["envFrom"][1:] == own["extraEnvFrom"]
    redis = rendered.component("StatefulSet", "redis")
    assert pod_template(redis)["metadata"]["labels"]["tier"] == "data"
    [monitor] = rendered.of_kind("ServiceMonitor")
    assert monitor["metadata"]["namespace"] == "monitoring"


def test_global_registry_prefixes_every_image_and_digest_pins(render: Any) -> None:
    rendered = render("external-url")
    images = {c["image"] for spec in pod_specs(rendered) for c in spec.get("initContainers", []) + spec["containers"]}
    assert images == {"registry.internal:5000/payments/mp-webhooks@sha256:" + "0123456789abcdef" * 4}


# --- monitoring links and metadata -----------------------------------------------------------


def alerts(rendered: Rendered) -> list[dict[str, Any]]:
    [rule] = rendered.of_kind("PrometheusRule")
    return [r for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r]


def test_runbook_links_come_from_the_value_or_not_at_all() -> None:
    enabled = (*MINIMAL, "--set", "prometheusRule.enabled=true")
    assert not [a for a in alerts(template(*enabled)) if "runbook_url" in a.get("annotations", {})]
    base = "https://github.com/acme/mp-webhooks/blob/main/docs/runbooks"
    linked = alerts(template(*enabled, "--set", f"prometheusRule.runbookBaseUrl={base}"))
    assert linked
    for alert in linked:
        assert alert["annotations"]["runbook_url"] == f"{base}/{alert['alert']}.md"


def test_no_placeholder_urls_in_the_chart_metadata_and_defaults() -> None:
    for name in ("Chart.yaml", "values.yaml"):
        text = (CHART / name).read_text()
        assert not re.search(r"example\.(com|org)|github\.com/example", text), name


def test_artifact_hub_annotations_match_the_defaults() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    annotations = chart["annotations"]
    listed = {i["name"]: i["image"] for i in yaml.safe_load(annotations["artifacthub.io/images"])}

    def reference(image: dict[str, str], tag: str) -> str:
        return "/".join(p for p in (image["registry"], image["repository"]) if p) + f":{image['tag'] or tag}"

    assert listed == {
        "mp-webhooks": reference(values["image"], chart["appVersion"]),
        "redis": reference(values["redis"]["image"], ""),
        "redis-exporter": reference(values["redis"]["metrics"]["image"], ""),
    }
    assert annotations["artifacthub.io/license"]
    changes = yaml.safe_load(annotations["artifacthub.io/changes"])
    assert changes and all(
        c["kind"] in ("added", "changed", "deprecated", "removed", "fixed", "security") for c in changes
    )


# --- day two: helm test and the retry Job ---------------------------------------------------------


def test_helm_test_pod_checks_the_receiver_service_then_the_store(render: Any) -> None:
    rendered = render("minimal")
    [pod] = rendered.of_kind("Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    [ready] = pod["spec"]["initContainers"]
    service = rendered.component("Service", "receiver")
    assert f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}/readyz" in ready["command"][-1]
    [check] = pod["spec"]["containers"]
    assert check["command"] + check["args"] == ["mp-webhooks", "events", "stats"]
    assert pod["spec"]["restartPolicy"] == "Never"
    assert "--skip-tests" not in rendered.text  # rendered with the hook, as `helm install` does


def test_retry_cronjob_is_suspended_and_runs_retry(render: Any) -> None:
    cronjob = render("minimal").component("CronJob", "retry")
    assert cronjob["spec"]["suspend"] is True
    container = main_container(cronjob)
    assert container["command"] + container["args"] == ["mp-webhooks", "retry", "--status", "failed", "--yes"]
    assert not template(*MINIMAL, "--set", "retryJob.enabled=false").of_kind("CronJob")[1:]
