"""skaffold.yaml without Skaffold: the fields Skaffold's v4beta14 schema requires, no key
it does not know in the sections this file uses (its schema sets additionalProperties
false there, so a typo is an error at `skaffold dev` time), every path, image template
and port-forward target pointing at something that exists, and the dev profile's value
templates (expanded here for the forms this file uses) wiring the worker and reconciler
to k8s/dev/sandbox.yaml with its credentials unless real ones are exported."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
import yaml

from services.cli.main import build_parser
from tests.deploy.conftest import CHART, ROOT, Rendered, template
from tests.deploy.test_chart_render import scenario_values

SKAFFOLD = ROOT / "skaffold.yaml"

# Known keys of the skaffold/v4beta14 objects skaffold.yaml uses (from the schema; "*"
# marks a free-form map), and which of them the schema requires.
KNOWN: dict[str, set[str]] = {
    "config": {
        "apiVersion",
        "kind",
        "metadata",
        "build",
        "manifests",
        "deploy",
        "portForward",
        "profiles",
        "requires",
        "test",
        "verify",
        "customActions",
        "resourceSelector",
    },
    "metadata": {"name", "labels", "annotations"},
    "build": {
        "artifacts",
        "tagPolicy",
        "local",
        "insecureRegistries",
        "platforms",
        "hooks",
        "googleCloudBuild",
        "cluster",
    },
    "artifact": {"image", "context", "docker", "sync", "hooks", "platforms", "requires", "runtimeType"},
    "docker": {
        "dockerfile",
        "target",
        "buildArgs",
        "cacheFrom",
        "cliFlags",
        "network",
        "noCache",
        "pullParent",
        "secrets",
        "squash",
        "ssh",
        "addHost",
    },
    "sync": {"manual", "infer", "auto", "hooks"},
    "syncRule": {"src", "dest", "strip"},
    "tagPolicy": {"gitCommit", "sha256", "envTemplate", "dateTime", "customTemplate", "inputDigest"},
    "local": {"push", "useBuildkit", "useDockerCLI", "concurrency", "tryImportMissing"},
    "manifests": {"rawYaml", "helm", "kustomize", "kpt", "hooks", "output", "remoteManifests", "transform", "validate"},
    "deploy": {
        "helm",
        "kubectl",
        "kpt",
        "docker",
        "cloudrun",
        "kubeContext",
        "logs",
        "statusCheck",
        "statusCheckDeadlineSeconds",
        "tolerateFailuresUntilDeadline",
    },
    "kubectl": {"defaultNamespace", "flags", "hooks", "remoteManifests"},
    "helm": {"releases", "flags", "hooks", "concurrency"},
    "release": {
        "name",
        "chartPath",
        "remoteChart",
        "namespace",
        "createNamespace",
        "valuesFiles",
        "setValues",
        "setValueTemplates",
        "setFiles",
        "version",
        "wait",
        "recreatePods",
        "skipBuildDependencies",
        "skipTests",
        "upgradeOnChange",
        "useHelmSecrets",
        "repo",
        "overrides",
        "packaged",
        "dependsOn",
    },
    "portForward": {"resourceType", "resourceName", "namespace", "port", "localPort", "address"},
    "profile": {
        "name",
        "activation",
        "build",
        "manifests",
        "deploy",
        "portForward",
        "patches",
        "requiresAllActivations",
        "test",
        "verify",
        "customActions",
        "resourceSelector",
    },
    "activation": {"command", "env", "kubeContext"},
}
REQUIRED = {
    "config": {"apiVersion", "kind"},
    "artifact": {"image"},
    "syncRule": {"src", "dest"},
    "release": {"name"},
    "profile": {"name"},
    "helm": {"releases"},
}


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


def dev_profile() -> dict[str, Any]:
    [dev] = [p for p in yaml.safe_load(SKAFFOLD.read_text())["profiles"] if p["name"] == "dev"]
    return dev


# Skaffold expands setValueTemplates as Go templates over its environment (plus
# IMAGE_REPO_<artifact>/IMAGE_TAG_<artifact>); these are the forms skaffold.yaml uses.
_IF_ELSE = re.compile(r"\{\{\s*if\s+\.(\w+)\s*\}\}(.*?)\{\{\s*else\s*\}\}(.*?)\{\{\s*end\s*\}\}", re.S)
_DEFAULT = re.compile(r'\{\{\s*default\s+"([^"]*)"\s+\.(\w+)\s*\}\}')
_VARIABLE = re.compile(r"\{\{\s*\.(\w+)\s*\}\}")


def expand(value: str, env: dict[str, str]) -> str:
    """A setValueTemplates value as Skaffold renders it with this environment (an unset
    variable is empty, as for Go's `if` and Sprig's `default`)."""
    text = _IF_ELSE.sub(lambda m: m.group(2) if env.get(m.group(1)) else m.group(3), value)
    text = _DEFAULT.sub(lambda m: env.get(m.group(2)) or m.group(1), text)
    text = _VARIABLE.sub(lambda m: env.get(m.group(1), ""), text)
    assert "{{" not in text, f"a template form this test does not expand: {value}"
    return text


def dev_set_values(env: dict[str, str] | None = None) -> dict[str, str]:
    """What `skaffold dev` hands helm with --set, for this environment (images: the
    artifact names with tag `dev`)."""
    dev = dev_profile()
    images = {
        f"IMAGE_{part}_{re.sub(r'[^A-Za-z0-9]', '_', a['image'])}": a["image"] if part == "REPO" else "dev"
        for a in dev["build"]["artifacts"]
        for part in ("REPO", "TAG")
    }
    [release] = dev["deploy"]["helm"]["releases"]
    return {key: expand(value, {**images, **(env or {})}) for key, value in release["setValueTemplates"].items()}


def dev_redis_secret() -> dict[str, Any]:
    """k8s/dev/redis-secret.yaml: the bundled Redis' fixed dev password, which the dev
    profile's before-hook applies next to the chart."""
    [secret] = [o for o in yaml.safe_load_all((ROOT / "k8s" / "dev" / "redis-secret.yaml").read_text()) if o]
    return secret


def render_dev_release(env: dict[str, str] | None = None) -> Rendered:
    """The chart as `skaffold dev` installs it: release, namespace, dev values, --set's."""
    [release] = dev_profile()["deploy"]["helm"]["releases"]
    args = [a for path in release["valuesFiles"] for a in ("-f", str(ROOT / path))]
    args += [a for key, value in dev_set_values(env).items() for a in ("--set", f"{key}={value}")]
    return template(*args, release=release["name"], namespace=release["namespace"])


def sandbox_manifest() -> tuple[dict[str, Any], dict[str, Any]]:
    """k8s/dev/sandbox.yaml's Deployment and Service."""
    objects = [o for o in yaml.safe_load_all((ROOT / "k8s" / "dev" / "sandbox.yaml").read_text()) if o]
    [deployment] = [o for o in objects if o["kind"] == "Deployment"]
    [service] = [o for o in objects if o["kind"] == "Service"]
    return deployment, service


def sandbox_url() -> str:
    """The sandbox Service's in-cluster base URL."""
    _, service = sandbox_manifest()
    [port] = service["spec"]["ports"]
    return f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc:{port['port']}"


def sandbox_env() -> dict[str, str]:
    deployment, _ = sandbox_manifest()
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: str(e["value"]) for e in container["env"]}


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


def test_the_one_image_is_built_from_the_dockerfile(config: dict[str, Any]) -> None:
    for where, section in pipelines(config):
        if "build" not in section:
            continue
        images = {a["image"]: a for a in section["build"]["artifacts"]}
        assert set(images) == {"mp-webhooks"}, where
        for artifact in images.values():
            dockerfile = ROOT / artifact.get("context", ".") / artifact["docker"]["dockerfile"]
            assert dockerfile.exists(), f"{where}: {dockerfile}"
            target = artifact["docker"].get("target")
            if target:
                assert re.search(rf"^FROM .+ AS {target}$", dockerfile.read_text(), re.M), (
                    f"{dockerfile}: no stage {target}"
                )


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
    chart = template(
        "-f", str(ROOT / release["valuesFiles"][0]), release=release["name"], namespace=release["namespace"]
    )
    raw = [o for path in dev["manifests"]["rawYaml"] for o in yaml.safe_load_all((ROOT / path).read_text()) if o]
    services = {
        (o["metadata"]["namespace"], o["metadata"]["name"]): o for o in chart.objects + raw if o["kind"] == "Service"
    }
    forwarded = {f["resourceName"] for f in dev["portForward"]}
    assert {"mp-webhooks-receiver", "sandbox", "grafana"} <= forwarded
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
    assert re.findall(r"(?:=|-f )(k8s/\S+)", hook)
    for path in re.findall(r"(?:=|-f )(k8s/\S+)", hook):
        assert (ROOT / path).exists(), path
    namespaces = {
        o["metadata"]["name"]
        for path in dev["manifests"]["rawYaml"]
        for o in yaml.safe_load_all((ROOT / path).read_text())
        if o and o["kind"] == "Namespace"
    }
    assert namespaces == {dev["deploy"]["helm"]["releases"][0]["namespace"]}


def test_the_sandbox_is_deployed_and_forwarded_where_send_test_looks(monkeypatch: pytest.MonkeyPatch) -> None:
    """`mp-webhooks send-test --follow` with its defaults (receiver :8000, sandbox :8010,
    API token dev-token) works through `skaffold dev`'s port-forwards."""
    dev = dev_profile()
    assert "k8s/dev/sandbox.yaml" in dev["manifests"]["rawYaml"]
    monkeypatch.delenv("API_TOKEN", raising=False)
    monkeypatch.delenv("MP_WEBHOOK_SECRET", raising=False)
    defaults = build_parser().parse_args(["send-test", "--follow"])
    forwards = {f["resourceName"]: f for f in dev["portForward"]}
    _, service = sandbox_manifest()
    [port] = service["spec"]["ports"]
    sandbox = forwards[service["metadata"]["name"]]
    assert (sandbox["namespace"], sandbox["port"]) == (service["metadata"]["namespace"], port["port"])
    assert defaults.sandbox_url == f"http://127.0.0.1:{sandbox['localPort']}"
    assert defaults.url == f"http://127.0.0.1:{forwards['mp-webhooks-receiver']['localPort']}"
    # --follow reads /api/webhook-events/<id> with send-test's default token; the receiver
    # accepts unsigned notifications (send-test signs only with MP_WEBHOOK_SECRET set).
    values = scenario_values("dev")
    assert values["secrets"]["apiToken"] == defaults.api_token  # send-test's --api-token default
    assert values["config"]["allowUnsigned"] is True and not defaults.secret


def test_dev_upstreams_are_the_sandbox_with_its_credentials() -> None:
    """No credentials exported: the worker and reconciler call the sandbox Service with
    exactly the tokens, location and API version the sandbox demands, in the dev values
    and in what skaffold.yaml sets over them."""
    values, sandbox = scenario_values("dev"), sandbox_env()
    expected = {
        "config.mpApiBaseUrl": f"{sandbox_url()}/mp",
        "config.ghlApiBaseUrl": f"{sandbox_url()}/ghl",
        "secrets.mpAccessToken": sandbox["MP_ACCESS_TOKEN"],
        "secrets.ghlApiToken": sandbox["GHL_API_TOKEN"],
        "config.ghlLocationId": sandbox["GHL_LOCATION_ID"],
    }
    for key, value in expected.items():
        group, name = key.split(".")
        assert values[group][name] == value, f"dev values {key}"
    set_values = dev_set_values()
    for key, value in expected.items():
        assert set_values[key] == value, f"skaffold.yaml's {key} without credentials"
    assert values["config"]["ghlApiVersion"] == sandbox["GHL_API_VERSION"]
    assert "config.ghlApiVersion" not in set_values


def test_exported_credentials_switch_each_upstream_to_the_real_api() -> None:
    chart = yaml.safe_load((CHART / "values.yaml").read_text())["config"]
    real_mp, real_ghl = chart["mpApiBaseUrl"], chart["ghlApiBaseUrl"]
    assert real_mp.startswith("https://") and real_ghl.startswith("https://")
    sandbox = sandbox_env()
    both = dev_set_values({"MP_ACCESS_TOKEN": "TEST-123", "GHL_API_TOKEN": "pit-456", "GHL_LOCATION_ID": "loc-789"})
    assert (both["config.mpApiBaseUrl"], both["secrets.mpAccessToken"]) == (real_mp, "TEST-123")
    assert (both["config.ghlApiBaseUrl"], both["secrets.ghlApiToken"], both["config.ghlLocationId"]) == (
        real_ghl,
        "pit-456",
        "loc-789",
    )
    # One upstream real, the other still the sandbox with the sandbox's credentials (a
    # location id without a GoHighLevel token does not leak into the sandbox calls).
    mp_only = dev_set_values({"MP_ACCESS_TOKEN": "TEST-123", "GHL_LOCATION_ID": "loc-789"})
    assert (mp_only["config.mpApiBaseUrl"], mp_only["secrets.mpAccessToken"]) == (real_mp, "TEST-123")
    assert (mp_only["config.ghlApiBaseUrl"], mp_only["secrets.ghlApiToken"], mp_only["config.ghlLocationId"]) == (
        f"{sandbox_url()}/ghl",
        sandbox["GHL_API_TOKEN"],
        sandbox["GHL_LOCATION_ID"],
    )
    ghl_only = dev_set_values({"GHL_API_TOKEN": "pit-456", "GHL_LOCATION_ID": "loc-789"})
    assert (ghl_only["config.mpApiBaseUrl"], ghl_only["secrets.mpAccessToken"]) == (
        f"{sandbox_url()}/mp",
        sandbox["MP_ACCESS_TOKEN"],
    )
    assert (ghl_only["config.ghlApiBaseUrl"], ghl_only["config.ghlLocationId"]) == (real_ghl, "loc-789")


def test_dev_release_hands_the_sandbox_settings_to_worker_and_reconciler() -> None:
    rendered = render_dev_release()
    [configmap] = [c for c in rendered.of_kind("ConfigMap") if c["metadata"]["name"].endswith("-config")]
    data, sandbox = configmap["data"], sandbox_env()
    assert data["MP_API_BASE_URL"] == f"{sandbox_url()}/mp"
    assert data["GHL_API_BASE_URL"] == f"{sandbox_url()}/ghl"
    assert (data["GHL_LOCATION_ID"], data["GHL_API_VERSION"]) == (
        sandbox["GHL_LOCATION_ID"],
        sandbox["GHL_API_VERSION"],
    )
    [secret] = [s for s in rendered.of_kind("Secret") if s["metadata"]["name"].endswith("-secrets")]
    tokens = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert (tokens["MP_ACCESS_TOKEN"], tokens["GHL_API_TOKEN"]) == (
        sandbox["MP_ACCESS_TOKEN"],
        sandbox["GHL_API_TOKEN"],
    )
    for kind, component, keys in (
        ("Deployment", "worker", {"MP_ACCESS_TOKEN", "GHL_API_TOKEN"}),
        ("CronJob", "reconciler", {"MP_ACCESS_TOKEN"}),
    ):
        workload = rendered.component(kind, component)
        spec = workload["spec"].get("jobTemplate", workload)["spec"]["template"]["spec"]
        [container] = spec["containers"]
        assert {"configMapRef": {"name": configmap["metadata"]["name"]}} in container["envFrom"], component
        refs = {
            e["name"]: e["valueFrom"]["secretKeyRef"]["name"]
            for e in container["env"]
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        assert keys <= set(refs) and {refs[k] for k in keys} == {secret["metadata"]["name"]}, component


def test_the_dev_redis_password_comes_from_the_dev_secret_the_hook_applies(config: dict[str, Any]) -> None:
    """The bundled Redis requires a password in the dev stack too: the fixed one of
    k8s/dev/redis-secret.yaml, applied by the before-hook into the release's namespace,
    read by Redis and by every component from that Secret (none generated by the chart)."""
    [dev] = [p for p in config["profiles"] if p["name"] == "dev"]
    [release] = dev["deploy"]["helm"]["releases"]
    hook = " ".join(dev["deploy"]["kubectl"]["hooks"]["before"][0]["host"]["command"])
    assert "kubectl apply -f k8s/dev/redis-secret.yaml" in hook
    secret = dev_redis_secret()
    assert secret["kind"] == "Secret" and secret["metadata"]["namespace"] == release["namespace"]
    name, password = secret["metadata"]["name"], secret["stringData"]["REDIS_PASSWORD"]
    assert password

    rendered = render_dev_release()
    assert not [s for s in rendered.of_kind("Secret") if s["metadata"]["name"].endswith("-redis")]
    workloads = [*rendered.of_kind("Deployment"), *rendered.of_kind("StatefulSet"), *rendered.of_kind("CronJob")]
    readers = set()
    for workload in workloads:
        spec = workload["spec"].get("jobTemplate", workload)["spec"]["template"]["spec"]
        for container in spec["containers"]:
            for env in container.get("env", []):
                if env["name"] == "REDIS_PASSWORD":
                    assert env["valueFrom"]["secretKeyRef"] == {"name": name, "key": "REDIS_PASSWORD"}
                    readers.add(workload["metadata"]["name"])
    assert {"redis", "receiver", "worker", "scheduler", "reconciler"} <= {r.rsplit("-", 1)[-1] for r in readers}
    assert password not in yaml.safe_dump_all(rendered.objects)
