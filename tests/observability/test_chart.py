"""The chart ships exactly these assets: `helm template` renders the PrometheusRule
whose spec is the plain rules file (so people without the Prometheus Operator load the
rules Helm users get), scripts/render-rules hands the release and values files to Helm,
and one dashboard ConfigMap per JSON file with the file untouched (dashboards hold
Grafana's own {{legend}} templates and must not go through `tpl`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.observability.paths import CHART, PLAIN_RULES, tool
from tests.observability.queries import dashboard_files
from tests.observability.rendering import NON_DEFAULT_VALUES, render_rules, run, values_file


def helm_template(release: str, tmp_path: Path, values: dict[str, Any], show_only: str) -> list[dict]:
    values_path = values_file(tmp_path, "helm-values.yaml", values)
    # profile=development: no credentials needed to render; the Prometheus Operator's API
    # is declared as a cluster that has it would.
    command = [tool("helm"), "template", release, str(CHART), "-f", str(values_path), "--show-only", show_only]
    command += ["--set", "profile=development", "--api-versions", "monitoring.coreos.com/v1/PrometheusRule"]
    result = run(command)
    assert result.returncode == 0, f"helm template failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def with_rules_enabled(values: dict[str, Any]) -> dict[str, Any]:
    merged = json.loads(json.dumps(values))
    merged.setdefault("prometheusRule", {})["enabled"] = True
    return merged


def test_helm_renders_the_plain_rules_file_with_default_values(tmp_path: Path) -> None:
    [rule] = helm_template("mp-webhooks", tmp_path, with_rules_enabled({}), "templates/prometheusrule.yaml")
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"] == yaml.safe_load(PLAIN_RULES.read_text())


def test_render_rules_passes_release_and_values_to_helm(tmp_path: Path) -> None:
    [rule] = helm_template("shop", tmp_path, with_rules_enabled(NON_DEFAULT_VALUES), "templates/prometheusrule.yaml")
    rendered = render_rules(tmp_path, NON_DEFAULT_VALUES, release="shop")
    assert rule["spec"] == yaml.safe_load(rendered.read_text())
    assert any(r.get("alert") == "MpwhNoNotifications" for g in rule["spec"]["groups"] for r in g["rules"])


def test_each_dashboard_ships_unchanged_in_a_configmap(tmp_path: Path) -> None:
    configmaps = helm_template("mp-webhooks", tmp_path, {"dashboards": {"enabled": True}}, "templates/dashboards.yaml")
    shipped = {name: content for cm in configmaps for name, content in cm["data"].items()}
    files = {path.name: path for path in dashboard_files()}
    assert set(shipped) == set(files)
    for name, path in files.items():
        assert json.loads(shipped[name]) == json.loads(path.read_text()), name
