"""Alert rules: the chart template, the plain rules file rendered from it, promtool's
syntax check and unit tests, and the promises every alert makes (annotations,
severity, runbook link, contract metric names)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.observability.paths import (
    NO_NOTIFICATIONS_TESTS,
    PLAIN_RULES,
    PLAIN_RULES_TESTS,
    RUNTIME_CONTRACT,
    tool,
)
from tests.observability.promql import contract_metric_names, metric_names
from tests.observability.queries import alert_expressions, alert_rules
from tests.observability.rendering import NON_DEFAULT_VALUES, render_rules, render_rules_cli, run

# Every alert the chart can render (MpwhNoNotifications only when enabled).
ALL_ALERTS = {
    "MpwhErrorBudgetBurnFast",
    "MpwhErrorBudgetBurnSlow",
    "MpwhWebhookAvailabilityBurnFast",
    "MpwhWebhookAvailabilityBurnSlow",
    "MpwhRedisUnreachable",
    "MpwhRedisMemoryHigh",
    "MpwhFailureRatioHigh",
    "MpwhEventsFailed",
    "MpwhBacklogStale",
    "MpwhQueueGrowing",
    "MpwhSchedulerLagging",
    "MpwhUpstreamAuthFailing",
    "MpwhGoHighLevelRateLimited",
    "MpwhUpstreamBreakerOpen",
    "MpwhReceiverUnavailable",
    "MpwhInvalidSignatures",
    "MpwhReconcilerStale",
    "MpwhReconcilerAbsent",
    "MpwhReconcilerRecoveriesRising",
    "MpwhMissedNotificationsBackfilled",
    "MpwhTargetDown",
    "MpwhComponentDown",
    "MpwhNoNotifications",
}


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run([tool("promtool"), *args], cwd=cwd)


def test_plain_rules_file_is_in_sync_with_the_chart_template() -> None:
    result = render_rules_cli("--check")
    assert result.returncode == 0, f"{result.stderr}(run scripts/render-rules and commit the result)"


def test_promtool_accepts_the_plain_rules_file() -> None:
    result = promtool("check", "rules", str(PLAIN_RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_accepts_the_template_rendered_with_non_default_values(tmp_path: Path) -> None:
    rules = render_rules(tmp_path, NON_DEFAULT_VALUES, release="shop")
    result = promtool("check", "rules", str(rules))
    assert result.returncode == 0, result.stdout + result.stderr

    text = rules.read_text()
    by_name = {rule["alert"]: rule for rule in alert_rules(rules)}
    # The values reached the rules: fullname, windows, thresholds, durations, URL.
    assert 'job="shop-mp-webhooks-worker"' in by_name["MpwhFailureRatioHigh"]["expr"]
    assert "[30m]" in by_name["MpwhFailureRatioHigh"]["expr"]
    assert "> 0.2" in by_name["MpwhFailureRatioHigh"]["expr"]
    assert ">= 50" in by_name["MpwhFailureRatioHigh"]["expr"]
    assert by_name["MpwhFailureRatioHigh"]["for"] == "15m"
    assert by_name["MpwhEventsFailed"]["for"] == "2m"
    assert "> 45 * 60" in by_name["MpwhBacklogStale"]["expr"]
    assert "> 0.25" in by_name["MpwhReceiverUnavailable"]["expr"]
    assert by_name["MpwhReceiverUnavailable"]["for"] == "1m"
    assert "> 0.5" in by_name["MpwhInvalidSignatures"]["expr"] and ">= 12" in by_name["MpwhInvalidSignatures"]["expr"]
    assert "[20m]" in by_name["MpwhInvalidSignatures"]["expr"]
    assert by_name["MpwhInvalidSignatures"]["for"] == "30m"
    assert "> 3600" in by_name["MpwhReconcilerStale"]["expr"]
    assert by_name["MpwhReconcilerStale"]["for"] == "20m"
    assert 'le="600.0"' in text and "> (14.4 * 0.005)" in by_name["MpwhErrorBudgetBurnFast"]["expr"]
    assert ">= 100" in by_name["MpwhErrorBudgetBurnSlow"]["expr"]
    assert "> (14.4 * 0.0005)" in by_name["MpwhWebhookAvailabilityBurnFast"]["expr"]
    assert ">= 60" in by_name["MpwhWebhookAvailabilityBurnSlow"]["expr"]
    assert by_name["MpwhRedisUnreachable"]["for"] == "1m"
    assert "> 0.8" in by_name["MpwhRedisMemoryHigh"]["expr"]
    assert ">= 1" in by_name["MpwhUpstreamAuthFailing"]["expr"]
    assert "> 120" in by_name["MpwhSchedulerLagging"]["expr"]
    assert by_name["MpwhReconcilerAbsent"]["for"] == "3600s"
    assert by_name["MpwhTargetDown"]["for"] == "10m"
    assert "[24h]" in by_name["MpwhNoNotifications"]["expr"]
    assert "offset 24h" in by_name["MpwhNoNotifications"]["expr"]
    assert 'mp-webhooks-worker"' not in text.replace('shop-mp-webhooks-worker"', "")
    assert "https://git.example.org/payments/mp-webhooks/blob/main/docs/runbooks/MpwhFailureRatioHigh.md" in text


def test_no_notifications_rule_is_rendered_only_when_enabled(tmp_path: Path) -> None:
    default_names = {name for name, _ in alert_expressions(PLAIN_RULES)}
    assert "MpwhNoNotifications" not in default_names
    assert default_names == ALL_ALERTS - {"MpwhNoNotifications"}
    enabled = render_rules(tmp_path, {"prometheusRule": {"rules": {"noNotifications": {"enabled": True}}}})
    assert {name for name, _ in alert_expressions(enabled)} == ALL_ALERTS


def test_promtool_unit_tests_pass_for_the_plain_rules_file() -> None:
    result = promtool("test", "rules", str(PLAIN_RULES_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass_for_the_optional_no_notifications_rule(tmp_path: Path) -> None:
    render_rules(tmp_path, {"prometheusRule": {"rules": {"noNotifications": {"enabled": True}}}})
    shutil.copy(NO_NOTIFICATIONS_TESTS, tmp_path / NO_NOTIFICATIONS_TESTS.name)
    result = promtool("test", "rules", NO_NOTIFICATIONS_TESTS.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_unit_tests_make_every_alert_fire_and_stay_quiet() -> None:
    """Keeps the promtool tests honest as alerts are added: each alert needs a case
    where it fires and one where it must not."""
    fires: set[str] = set()
    quiet: set[str] = set()
    for tests_file in (PLAIN_RULES_TESTS, NO_NOTIFICATIONS_TESTS):
        for case in yaml.safe_load(tests_file.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert ALL_ALERTS - fires == set(), "alerts with no firing case"
    assert ALL_ALERTS - quiet == set(), "alerts with no quiet case"


def test_every_alert_has_summary_description_severity_and_runbook(tmp_path: Path) -> None:
    base = "https://git.example.org/ops/mp-webhooks/blob/main/docs/runbooks"
    values = {"prometheusRule": {"runbookBaseUrl": base, "rules": {"noNotifications": {"enabled": True}}}}
    for rule in alert_rules(render_rules(tmp_path, values)):
        name = rule["alert"]
        annotations = rule.get("annotations", {})
        assert annotations.get("summary", "").strip(), f"{name}: no summary"
        assert annotations.get("description", "").strip(), f"{name}: no description"
        assert annotations.get("runbook_url") == f"{base}/{name}.md", name
        assert rule.get("labels", {}).get("severity") in {"critical", "warning"}, name
        assert re.fullmatch(r"Mpwh[A-Za-z]+", name), f"{name}: alert names are Mpwh + CamelCase"


def test_alerts_use_only_contract_metrics(tmp_path: Path) -> None:
    enabled = render_rules(tmp_path, {"prometheusRule": {"rules": {"noNotifications": {"enabled": True}}}})
    document = yaml.safe_load(enabled.read_text())
    recorded = {rule["record"] for group in document["groups"] for rule in group["rules"] if "record" in rule}
    # redis_exporter's series: see test_rules_lint.py.
    exporter = {"redis_up", "redis_memory_used_bytes", "redis_memory_max_bytes"}
    allowed = contract_metric_names(RUNTIME_CONTRACT) | {"up"} | recorded | exporter
    for name, expr in alert_expressions(enabled):
        used = metric_names(expr)
        assert used, f"{name}: no metric found in {expr!r}"
        assert used <= allowed, f"{name} uses metrics outside docs/runtime-contract.md: {used - allowed}"


def test_pipeline_gauges_are_aggregated_with_max() -> None:
    """mpwh_oldest_pending_age_seconds is reported identically by every replica: a sum
    would multiply it by the replica count."""
    expr = dict(alert_expressions())["MpwhBacklogStale"]
    assert re.search(r"\bmax by \(namespace\) \(mpwh_oldest_pending_age_seconds\{", expr), expr


def test_no_runbook_link_without_a_base_url() -> None:
    # A link to a placeholder host would send the on-call nowhere; none is better.
    assert all("runbook_url" not in rule.get("annotations", {}) for rule in alert_rules(PLAIN_RULES))
