"""skaffold.yaml without Skaffold: the fields Skaffold's v4beta14 schema requires, no key
it does not know in the sections this file uses (its schema sets additionalProperties
false there, so a typo is an error at `skaffold dev` time), and every path, image
template and port-forward target pointing at something that exists."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import CHART, ROOT, template

SKAFFOLD = ROOT / "skaffold.yaml"

# Known keys of the skaffold/v4beta14 objects skaffold.yaml uses (from the schema; "*"
# marks a free-form map), and which of them the schema requires.
KNOWN: dict[str, set[str]] = {
    "config": {"apiVersion", "kind", "metadata", "build", "manifests", "deploy", "portForward", "profiles",
               "requires", "test", "verify", "customActions", "resourceSelector"},
    "metadata": {"name", "labels", "annotations"},
    "build": {"artifacts", "tagPolicy", "local", "insecureRegistries", "platforms", "hooks", "googleCloudBuild",
              "cluster"},
    "artifact": {"image", "context", "docker", "sync", "hooks", "platforms", "requires", "runtimeType"},
    "docker": {"dockerfile", "target", "buildArgs", "cacheFrom", "cliFlags", "network", "noCache", "pullParent",
               "secrets", "squash", "ssh", "addHost"},
    "sync": {"manual", "infer", "auto", "hooks"},
    "syncRule": {"src", "dest", "strip"},
    "tagPolicy": {"gitCommit", "sha256", "envTemplate", "dateTime", "customTemplate", "inputDigest"},
    "local": {"push", "useBuildkit", "useDockerCLI", "concurrency", "tryImportMissing"},
    "manifests": {"rawYaml", "helm", "kustomize", "kpt", "hooks", "output", "remoteManifests", "transform",
                  "validate"},
    "deploy": {"helm", "kubectl", "kpt", "docker", "cloudrun", "kubeContext", "logs", "statusCheck",
               "statusCheckDeadlineSeconds", "tolerateFailuresUntilDeadline"},
    "kubectl": {"defaultNamespace", "flags", "hooks", "remoteManifests"},
    "helm": {"releases", "flags", "hooks", "concurrency"},
    "release": {"name", "chartPath", "remoteChart", "namespace", "createNamespace", "valuesFiles", "setValues",
                "setValueTemplates", "setFiles", "version", "wait", "recreatePods", "skipBuildDependencies",
                "skipTests", "upgradeOnChange", "useHelmSecrets", "repo", "overrides", "packaged", "dependsOn"},
    "portForward": {"resourceType", "resourceName", "namespace", "port", "localPort", "address"},
    "profile": {"name", "activation", "build", "manifests", "deploy", "portForward", "patches",
                "requiresAllActivations", "test", "verify", "customActions", "resourceSelector"},
    "activation": {"command", "env", "kubeContext"},
}
REQUIRED = {"config": {"apiVersion", "kind"}, "artifact": {"image"}, "syncRule": {"src", "dest"},
            "release": {"name"}, "profile": {"name"}, "helm": {"releases"}}


def check(kind: str, obj: Any, where: str) -> None:
    assert isinstance(obj, dict), f"{where}: expected a mapping"
    unknown = set(obj) - KNOWN[kind]
    assert not unknown, f"{where}: unknown keys {sorted(unknown)}"
    missing = REQUIRED.get(kind, set()) - set(obj)
    assert not missing, f"{where}: missing required {sorted(missing)}"


def pipelines(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The base pipeline and each profile, as (name, sections)."""
    return [("base", config)] + [(f"profile {p['name']}", p) for p in config.get("profiles", [])]


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return yaml.safe_load(SKAFFOLD.read_text())


def test_schema_fields(config: dict[str, Any]) -> None:
    check("config", config, "skaffold.yaml")
    assert config["apiVersion"] == "skaffold/v4beta14" and config["kind"] == "Config"
    check("metadata", config["metadata"], "metadata")
    for where, section in pipelines(config):
        if where != "base":
            check("profile", section, where)
            for activation in section.get("activation", []):
                check("activation", activation, f"{where}.activation")
        if "build" in section:
            build = section["build"]
            check("build", build, f"{where}.build")
            check("tagPolicy", build.get("tagPolicy", {}), f"{where}.build.tagPolicy")
            check("local", build.get("local", {}), f"{where}.build.local")
            for artifact in build["artifacts"]:
                check("artifact", artifact, f"{where}.build.artifacts")
                check("docker", artifact["docker"], f"{where}.{artifact['image']}.docker")
                if "sync" in artifact:
                    check("sync", artifact["sync"], f"{where}.{artifact['image']}.sync")
                    for rule in artifact["sync"].get("manual", []):
                        check("syncRule", rule, f"{where}.{artifact['image']}.sync.manual")
        if "manifests" in section:
            check("manifests", section["manifests"], f"{where}.manifests")
        if "deploy" in section:
            deploy = section["deploy"]
            check("deploy", deploy, f"{where}.deploy")
            if "kubectl" in deploy:
                check("kubectl", deploy["kubectl"], f"{where}.deploy.kubectl")
            check("helm", deploy["helm"], f"{where}.deploy.helm")
            for release in deploy["helm"]["releases"]:
                check("release", release, f"{where}.deploy.helm.releases")
        for forward in section.get("portForward", []):
            check("portForward", forward, f"{where}.portForward")


def test_dev_and_prod_profiles(config: dict[str, Any]) -> None:
    profiles = {p["name"]: p for p in config["profiles"]}
    assert {"dev", "prod"} <= set(profiles)
    assert {"command": "dev"} in profiles["dev"]["activation"], "`skaffold dev` must pick the dev profile"
    assert profiles["prod"]["build"]["local"]["push"] is True


def test_both_images_are_built_from_existing_dockerfiles(config: dict[str, Any]) -> None:
    for where, section in pipelines(config):
        if "build" not in section:
            continue
        images = {a["image"]: a for a in section["build"]["artifacts"]}
        assert set(images) == {"mp-webhooks-receiver", "mp-webhooks-worker"}, where
        for artifact in images.values():
            dockerfile = ROOT / artifact.get("context", ".") / artifact["docker"]["dockerfile"]
            assert dockerfile.exists(), f"{where}: {dockerfile}"
            target = artifact["docker"].get("target")
            if target:
                assert re.search(rf"^FROM .+ AS {target}$", dockerfile.read_text(), re.M), f"{dockerfile}: no stage {target}"


def test_file_sync_lands_where_the_dev_image_imports_from(config: dict[str, Any]) -> None:
    [dev] = [p for p in config["profiles"] if p["name"] == "dev"]
    for artifact in dev["build"]["artifacts"]:
        assert artifact["docker"]["target"] == "dev"
        [rule] = artifact["sync"]["manual"]
        assert rule["src"] == "services/**/*.py"
        # services/x/y.py is copied to <dest>/services/x/y.py; the dev stage puts the sources
        # (and PYTHONPATH) there.
        dockerfile = (ROOT / artifact["docker"]["dockerfile"]).read_text()
        dev_stage = dockerfile.split("AS dev", 1)[1].split("\nFROM ", 1)[0]
        assert f"services {rule['dest']}/services" in dev_stage
        assert f"ENV PYTHONPATH={rule['dest']}" in dev_stage
    [release] = dev["deploy"]["helm"]["releases"]
    rendered = template("-f", str(ROOT / release["valuesFiles"][0]))
    for component in ("receiver", "worker", "scheduler"):
        [container] = rendered.component("Deployment", component)["spec"]["template"]["spec"]["containers"]
        assert container["command"][0] == "watchfiles" and container["command"][-1] == f"{rule['dest']}/services"
        assert container["securityContext"]["readOnlyRootFilesystem"] is False, "the sync writes into the container"


def flatten(values: dict[str, Any], prefix: str = "") -> set[str]:
    keys = set()
    for key, value in values.items():
        keys.add(prefix + key)
        if isinstance(value, dict):
            keys |= flatten(value, f"{prefix}{key}.")
    return keys


def test_helm_releases_point_at_the_chart_and_real_values(config: dict[str, Any]) -> None:
    known_values = flatten(yaml.safe_load((CHART / "values.yaml").read_text()))
    for where, section in pipelines(config):
        if "deploy" not in section:
            continue
        artifacts = {a["image"] for a in (section.get("build") or config["build"])["artifacts"]}
        sanitized = {re.sub(r"[^A-Za-z0-9]", "_", a) for a in artifacts}
        for release in section["deploy"]["helm"]["releases"]:
            assert (ROOT / release["chartPath"]) == CHART, where
            for values in release.get("valuesFiles", []):
                assert (ROOT / values).exists(), f"{where}: {values}"
            for key, value in release.get("setValueTemplates", {}).items():
                assert key in known_values, f"{where}: {key} is not a chart value"
                for name in re.findall(r"\.IMAGE_(?:REPO|TAG|DIGEST)_(\w+)", value):
                    assert name in sanitized, f"{where}: {value} names no artifact ({sorted(sanitized)})"


def test_port_forwards_target_rendered_services(config: dict[str, Any]) -> None:
    [dev] = [p for p in config["profiles"] if p["name"] == "dev"]
    [release] = dev["deploy"]["helm"]["releases"]
    chart = template("-f", str(ROOT / release["valuesFiles"][0]), release=release["name"],
                     namespace=release["namespace"])
    raw = [o for path in dev["manifests"]["rawYaml"] for o in yaml.safe_load_all((ROOT / path).read_text()) if o]
    services = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in chart.objects + raw
                if o["kind"] == "Service"}
    forwarded = {f["resourceName"] for f in dev["portForward"]}
    assert {"mp-webhooks-receiver", "grafana"} <= forwarded
    for forward in dev["portForward"]:
        assert forward["resourceType"] == "service"
        service = services.get((forward["namespace"], forward["resourceName"]))
        assert service, f"port-forward to a Service that is not deployed: {forward}"
        assert forward["port"] in [p["port"] for p in service["spec"]["ports"]], forward


def test_raw_manifests_and_hook_files_exist(config: dict[str, Any]) -> None:
    [dev] = [p for p in config["profiles"] if p["name"] == "dev"]
    for path in dev["manifests"]["rawYaml"]:
        assert (ROOT / path).exists(), path
    hook = " ".join(dev["deploy"]["kubectl"]["hooks"]["before"][0]["host"]["command"])
    for path in re.findall(r"=(k8s/\S+)", hook):
        assert (ROOT / path).exists(), path
    namespaces = {o["metadata"]["name"] for path in dev["manifests"]["rawYaml"]
                  for o in yaml.safe_load_all((ROOT / path).read_text()) if o and o["kind"] == "Namespace"}
    assert namespaces == {dev["deploy"]["helm"]["releases"][0]["namespace"]}


def test_dockerignore_keeps_the_context_to_the_package() -> None:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[0] == "*", "ignore everything, then allow what the images need"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "services"}
    assert Path(ROOT / "services").is_dir()
