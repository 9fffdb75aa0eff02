"""The console in the chart: its own Deployment and ClusterIP Service on 8080 with probes,
the session secret generated once (or given), its own ingress (off by default, never the
webhook one), its NetworkPolicy, scraped like the others, NOTES showing port-forward."""

from __future__ import annotations

import base64

from tests.deploy.conftest import CHART, MINIMAL, NAMESPACE, RELEASE, main_container, run_helm, template


def _secret_data(rendered, suffix: str = "-secrets") -> dict[str, str]:
    [secret] = [s for s in rendered.of_kind("Secret") if s["metadata"]["name"].endswith(suffix)]
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


def _session_secret_ref(rendered) -> dict[str, str]:
    env = {e["name"]: e for e in main_container(rendered.component("Deployment", "console"))["env"]}
    return env["CONSOLE_SESSION_SECRET"]["valueFrom"]["secretKeyRef"]


def test_console_deployment_service_and_probes():
    rendered = template(*MINIMAL)
    deployment = rendered.component("Deployment", "console")
    container = main_container(deployment)
    assert container["args"][-4:] == ["console", "--host", "0.0.0.0", "--port", "8080"][-4:]
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    env = {e["name"]: e for e in container["env"]}
    assert env["CONSOLE_SECURE_COOKIE"]["value"] == "false" and env["CONSOLE_SESSION_SECONDS"]["value"] == "28800"
    service = rendered.component("Service", "console")
    assert service["spec"]["type"] == "ClusterIP" and service["spec"]["ports"][0]["port"] == 8080
    assert not [i for i in rendered.of_kind("Ingress") if "console" in i["metadata"]["name"]]
    policy = [p for p in rendered.of_kind("NetworkPolicy") if p["metadata"]["name"].endswith("-console")]
    assert policy and policy[0]["spec"]["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]


def test_session_secret_generated_in_its_own_secret_unless_given():
    rendered = template(*MINIMAL)
    generated = _secret_data(rendered, "-console-session")["CONSOLE_SESSION_SECRET"]
    assert len(generated) == 48 and generated.isalnum()
    assert "CONSOLE_SESSION_SECRET" not in _secret_data(rendered)
    assert _session_secret_ref(rendered)["name"].endswith("-console-session")
    given = "s" * 40
    rendered = template(*MINIMAL, "--set", f"secrets.consoleSessionSecret={given}")
    assert _secret_data(rendered)["CONSOLE_SESSION_SECRET"] == given
    assert _session_secret_ref(rendered)["name"].endswith("-secrets")
    assert not [s for s in rendered.of_kind("Secret") if s["metadata"]["name"].endswith("-console-session")]
    # A Secret you manage holds it too: the console reads it from there.
    rendered = template(*MINIMAL, "--set", "secrets.existingSecret=mine")
    assert _session_secret_ref(rendered) == {"name": "mine", "key": "CONSOLE_SESSION_SECRET", "optional": True}
    # Only the bundled Redis's password Secret is left to the chart.
    assert [s["metadata"]["name"] for s in rendered.of_kind("Secret")] == ["mpwh-mp-webhooks-redis"]
    off = template(*MINIMAL, "--set", "console.enabled=false")
    assert "CONSOLE_SESSION_SECRET" not in _secret_data(off)
    assert not [
        o for o in off.objects if o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "console"
    ]


def test_console_ingress_of_its_own_with_auth_proxy_annotations():
    annotation = "nginx.ingress.kubernetes.io/auth-url"
    rendered = template(
        *MINIMAL,
        "--set", "ingress.enabled=true",
        "--set", "console.ingress.enabled=true",
        "--set", f"console.ingress.annotations.{annotation.replace('.', chr(92) + '.')}=https://auth.example/check",
        "--set", "console.ingress.hosts[0].host=console.example.com",
    )  # fmt: skip
    ingresses = {i["metadata"]["name"]: i for i in rendered.of_kind("Ingress")}
    console = next(i for name, i in ingresses.items() if name.endswith("-console"))
    webhook = next(i for name, i in ingresses.items() if name.endswith("-receiver"))
    assert console["metadata"]["annotations"][annotation] == "https://auth.example/check"
    assert console["spec"]["rules"][0]["host"] == "console.example.com"
    assert console["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"].endswith("-console")
    backends = {p["backend"]["service"]["name"] for r in webhook["spec"]["rules"] for p in r["http"]["paths"]}
    assert not any(name.endswith("-console") for name in backends)


def test_notes_show_the_console_port_forward():
    notes = run_helm("install", RELEASE, str(CHART), "--dry-run", "--namespace", NAMESPACE, *MINIMAL).stdout
    assert f"port-forward svc/{RELEASE}-mp-webhooks-console 8080:8080" in notes or "-console 8080:8080" in notes
