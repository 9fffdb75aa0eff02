"""Secure by default, on the rendered objects of every ci values file: the Ingress routes
only the webhook, every Redis password travels only as a Secret reference (never in a
ConfigMap or a URL), the bundled Redis requires it, and the API tokens of both scopes
come from the Secret (or from your own Secret's keys)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.deploy.conftest import MINIMAL, Rendered, containers, main_container, template
from tests.deploy.test_chart_render import SCENARIOS, scenario_values


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def _app_containers(rendered: Rendered) -> list[dict[str, Any]]:
    """The product's container of every workload but Redis (sidecars are the user's)."""
    return [
        main_container(w)
        for w in rendered.workloads()
        if w["metadata"]["labels"].get("app.kubernetes.io/component") != "redis"
    ]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_ingress_routes_only_post_webhooks_mp(scenario: str, render: Any) -> None:
    for ingress in render(scenario).of_kind("Ingress"):
        for rule in ingress["spec"]["rules"]:
            paths = [(p["path"], p["pathType"]) for p in rule["http"]["paths"]]
            assert paths == [("/webhooks/mp", "Exact")], paths
    assert not any(
        path.startswith(("/api", "/docs", "/openapi", "/metrics"))
        for ingress in render(scenario).of_kind("Ingress")
        for rule in ingress["spec"]["rules"]
        for path in (p["path"] for p in rule["http"]["paths"])
    )


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_redis_passwords_travel_only_as_secret_references(scenario: str, render: Any) -> None:
    rendered = render(scenario)
    values = scenario_values(scenario)
    for config in rendered.of_kind("ConfigMap"):
        data = config.get("data") or {}
        assert "REDIS_PASSWORD" not in data
        assert "@" not in data.get("REDIS_URL", ""), "a URL with credentials in a ConfigMap"
    password_expected = values["redis"]["enabled"] or bool(values["redis"]["external"]["passwordSecret"])
    for container in _app_containers(rendered):
        env = _env(container)
        if not password_expected:
            assert "REDIS_PASSWORD" not in env
            continue
        assert set(env["REDIS_PASSWORD"]) == {"name", "valueFrom"}, "the password must come from a Secret"
        assert "secretKeyRef" in env["REDIS_PASSWORD"]["valueFrom"]
    assert "requirepass" not in rendered.text.replace('--requirepass "$REDIS_PASSWORD"', "")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_bundled_redis_requires_its_generated_password(scenario: str, render: Any) -> None:
    values = scenario_values(scenario)
    if not values["redis"]["enabled"]:
        return
    rendered = render(scenario)
    redis = rendered.component("StatefulSet", "redis")
    server = main_container(redis)
    assert "--protected-mode" not in server["args"]
    assert server["command"][-2:] == ['exec redis-server "$@" --requirepass "$REDIS_PASSWORD"', "redis-server"]
    ref = _env(server)["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert _env(server)["REDISCLI_AUTH"]["valueFrom"]["secretKeyRef"] == ref
    if not values["redis"]["auth"]["existingSecret"]:
        secret = rendered.get("Secret", ref["name"])
        assert len(base64.b64decode(secret["data"][ref["key"]])) == 40
    for container in [*_app_containers(rendered), *(c for c in containers(redis) if c["name"] == "metrics")]:
        assert _env(container)["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == ref, container["name"]
    for scaled in rendered.of_kind("ScaledObject"):
        auth = rendered.get("TriggerAuthentication", scaled["spec"]["triggers"][0]["authenticationRef"]["name"])
        [target] = auth["spec"]["secretTargetRef"]
        assert target == {"parameter": "password", "name": ref["name"], "key": ref["key"]}


def test_the_bundled_redis_takes_your_secret() -> None:
    rendered = template(
        *MINIMAL, "--set", "redis.auth.existingSecret=my-redis", "--set", "redis.auth.existingSecretKey=pw"
    )
    assert not [s for s in rendered.of_kind("Secret") if s["metadata"]["name"].endswith("-redis")]
    for workload in rendered.workloads():
        container = main_container(workload)
        assert _env(container)["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "my-redis", "key": "pw"}


def test_an_external_redis_with_a_password_secret_and_a_ca_bundle() -> None:
    rendered = template(
        *MINIMAL,
        *("--set", "redis.enabled=false", "--set", "redis.external.url=rediss://redis.example:6380/0"),
        *("--set", "redis.external.passwordSecret=ext-redis", "--set", "redis.external.username=mpwh"),
        *("--set", "redis.external.caBundle.configMapName=corp-ca"),
    )
    [config] = rendered.of_kind("ConfigMap")
    assert config["data"]["REDIS_CA_CERT_PATH"] == "/etc/mp-webhooks/redis-ca/ca.crt"
    assert config["data"]["REDIS_USERNAME"] == "mpwh"
    for workload in rendered.workloads():
        [container] = containers(workload)
        ref = _env(container)["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "ext-redis", "key": "REDIS_PASSWORD"}
        assert {"name": "redis-ca", "mountPath": "/etc/mp-webhooks/redis-ca", "readOnly": True} in container[
            "volumeMounts"
        ]
        assert {"name": "redis-ca", "configMap": {"name": "corp-ca"}} in _volumes(workload)


def _volumes(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = workload["spec"]
    if "jobTemplate" in spec:
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]["volumes"]


def test_both_token_kinds_come_from_the_secret() -> None:
    rendered = template(*MINIMAL, "--set", "secrets.apiToken=op-1\\,op-2", "--set", "secrets.apiReadToken=read-1")
    secret = rendered.get(
        "Secret",
        f"{rendered.of_kind('Service')[0]['metadata']['labels']['app.kubernetes.io/instance']}-mp-webhooks-secrets",
    )
    assert base64.b64decode(secret["data"]["API_READ_TOKEN"]).decode() == "read-1"
    assert base64.b64decode(secret["data"]["API_TOKEN"]).decode() == "op-1,op-2"
    receiver = main_container(rendered.component("Deployment", "receiver"))
    for name in ("API_TOKEN", "API_READ_TOKEN"):
        assert _env(receiver)[name]["valueFrom"]["secretKeyRef"]["key"] == name


def test_your_secret_can_name_each_token_key() -> None:
    rendered = template(
        *MINIMAL,
        *("--set", "secrets.existingSecret=mine", "--set", "secrets.existingSecretKeys.API_TOKEN=operator-tokens"),
        *("--set", "secrets.existingSecretKeys.API_READ_TOKEN=readonly-tokens"),
    )
    receiver = _env(main_container(rendered.component("Deployment", "receiver")))
    assert receiver["API_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "mine",
        "key": "operator-tokens",
        "optional": True,
    }
    assert receiver["API_READ_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "readonly-tokens"
    assert receiver["MP_WEBHOOK_SECRET"]["valueFrom"]["secretKeyRef"]["key"] == "MP_WEBHOOK_SECRET"
