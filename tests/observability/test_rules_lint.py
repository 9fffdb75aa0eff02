"""The conventions Cloudflare's pint enforces (pint itself cannot be installed here),
checked on the chart's rules with every optional rule on, beside promtool: each alert
has severity, namespace, summary, description and runbook_url; a `for:` unless the
template says why not; rate windows of at least four scrape intervals; no gauge named
*_total; every metric a rule or dashboard panel reads is exported by the code (or is
redis_exporter's, documented in docs/metrics.md) or recorded by the rules themselves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.observability.paths import PLAIN_RULES_TESTS, ROOT, RULES_TEMPLATE, RUNTIME_CONTRACT
from tests.observability.promql import contract_metric_names, metric_names
from tests.observability.queries import dashboard_queries
from tests.observability.rendering import render_rules

SCRAPE_INTERVAL_SECONDS = 30  # metrics.serviceMonitor.interval / podMonitor.interval
BASE = "https://git.example.org/ops/mp-webhooks/blob/main/docs/runbooks"
# redis_exporter's series the rules read (docs/metrics.md, "Redis").
EXPORTER_METRICS = {"redis_up", "redis_memory_used_bytes", "redis_memory_max_bytes"}
METRICS_DOC = ROOT / "docs" / "metrics.md"
SERVICES = ROOT / "services"
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def seconds(duration: str) -> float:
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(int(n) * _UNITS[u] for n, u in parts)


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    values = {"prometheusRule": {"runbookBaseUrl": BASE, "rules": {"noNotifications": {"enabled": True}}}}
    rendered = render_rules(tmp_path_factory.mktemp("lint"), values)
    return [rule for group in yaml.safe_load(rendered.read_text())["groups"] for rule in group["rules"]]


def alerts(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for rule in rules if "alert" in rule]


def test_every_alert_has_severity_summary_description_and_runbook(rules: list[dict[str, Any]]) -> None:
    for rule in alerts(rules):
        name, annotations = rule["alert"], rule.get("annotations", {})
        assert rule.get("labels", {}).get("severity") in {"critical", "warning"}, name
        assert annotations.get("summary", "").strip(), name
        assert annotations.get("description", "").strip(), name
        assert annotations.get("runbook_url") == f"{BASE}/{name}.md", name


def test_every_alert_carries_namespace_in_its_unit_tests() -> None:
    """The promtool cases fire every alert (test_rules.py checks that); each firing
    alert carries a namespace label, so Alertmanager can route it per install."""
    for case in yaml.safe_load(PLAIN_RULES_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            for alert in check.get("exp_alerts", []):
                assert "namespace" in alert["exp_labels"], (case["name"], check["alertname"])


def test_every_alert_has_a_for_or_says_why_not(rules: list[dict[str, Any]]) -> None:
    template = RULES_TEMPLATE.read_text()
    for rule in alerts(rules):
        if "for" in rule:
            continue
        name = rule["alert"]
        comment = template.split(f"- alert: {name}\n")[0].rsplit("\n\n", 1)[-1]
        assert "No `for`" in comment, f"{name}: no `for:` and the comment above it does not say why"


def test_rate_windows_span_at_least_four_scrapes(rules: list[dict[str, Any]]) -> None:
    for rule in rules:
        for window in re.findall(r"\[(\d+(?:ms|s|m|h|d|w|y))(?::\d*\w*)?\]", rule["expr"]):
            assert seconds(window) >= 4 * SCRAPE_INTERVAL_SECONDS, (rule.get("alert") or rule["record"], window)


def test_no_gauge_is_named_total() -> None:
    rows = re.findall(r"^\|\s*`(mpwh_[a-z0-9_]+)`\s*\|\s*(\w+)", RUNTIME_CONTRACT.read_text(), re.M)
    gauges = [name for name, kind in rows if kind == "gauge"]
    assert gauges and not [name for name in gauges if name.endswith("_total")]
    counters = {name for name, kind in rows if kind == "counter"}
    assert not [name for name, kind in rows if name.endswith("_total") and name not in counters]


def exported_by_the_code(name: str) -> bool:
    """The metric's family name appears as a string in services/ (prometheus_client
    adds _total, _bucket, _sum and _count)."""
    family = re.sub(r"_(total|bucket|sum|count)$", "", name)
    return any(f'"{family}' in path.read_text() for path in SERVICES.rglob("*.py"))


def test_every_metric_read_is_exported_recorded_or_documented(rules: list[dict[str, Any]]) -> None:
    recorded = {rule["record"] for rule in rules if "record" in rule}
    documented = METRICS_DOC.read_text()
    assert all(f"`{name}`" in documented for name in EXPORTER_METRICS), "document redis_exporter's series"
    allowed = contract_metric_names(RUNTIME_CONTRACT) | recorded | EXPORTER_METRICS | {"up"}
    used: dict[str, set[str]] = {}
    for rule in rules:
        for name in metric_names(rule["expr"]):
            used.setdefault(name, set()).add(rule.get("alert") or rule["record"])
    for title, expr in dashboard_queries():
        for name in metric_names(expr):
            used.setdefault(name, set()).add(f"panel {title!r}")
    unknown = {name: sorted(users) for name, users in used.items() if name not in allowed}
    assert not unknown, f"not in docs/runtime-contract.md, recorded, or redis_exporter's: {unknown}"
    not_exported = sorted(n for n in used if n.startswith("mpwh_") and not exported_by_the_code(n))
    assert not not_exported, f"in the contract but exported by no code in services/: {not_exported}"


def test_the_slo_latency_is_a_bucket_of_the_completion_histogram() -> None:
    values = yaml.safe_load((ROOT / "charts" / "mp-webhooks" / "values.yaml").read_text())
    latency = values["prometheusRule"]["slo"]["latencySeconds"]
    source = (SERVICES / "worker" / "metrics.py").read_text()
    buckets = re.search(r'"mpwh_event_completion_seconds".*?buckets=\(([^)]*)\)', source, re.S)
    assert buckets, "no buckets found for mpwh_event_completion_seconds"
    assert latency in [float(b) for b in buckets.group(1).split(",") if b.strip()]


def test_the_lint_reads_the_template_it_claims(rules: list[dict[str, Any]]) -> None:
    assert len(alerts(rules)) >= 20 and Path(RULES_TEMPLATE).is_file()
