"""Grafana dashboards: valid JSON, the datasource chosen through a `datasource`
template variable, only contract metric names, a title and a unique id on every panel,
and queries Prometheus can parse."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.observability.paths import PLAIN_RULES, RUNTIME_CONTRACT, tool
from tests.observability.promql import contract_metric_names, metric_names
from tests.observability.queries import dashboard_files, dashboard_queries, panels
from tests.observability.rendering import run

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
DASHBOARDS = dashboard_files()


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def datasource_refs(node: Any) -> Iterator[Any]:
    """Every "datasource" value anywhere in the dashboard."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            yield from datasource_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from datasource_refs(item)


def test_there_is_an_overview_dashboard() -> None:
    assert any("overview" in path.name for path in DASHBOARDS), [p.name for p in DASHBOARDS]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_valid_json_with_uid_and_title(path: Path) -> None:
    dashboard = load(path)
    assert dashboard.get("uid") and len(dashboard["uid"]) <= 40
    assert dashboard.get("title")
    assert dashboard.get("panels")


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_datasource_is_a_prometheus_template_variable(path: Path) -> None:
    dashboard = load(path)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel.get("datasource") == DATASOURCE, panel["title"]
        for target in panel.get("targets", []):
            assert target.get("datasource") == DATASOURCE, panel["title"]
    # Nothing names a concrete datasource (Grafana's built-in annotations aside).
    for ref in datasource_refs(dashboard):
        assert ref == DATASOURCE or ref == {"type": "grafana", "uid": "-- Grafana --"}, ref


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_panels_have_titles_unique_ids_and_do_not_overlap(path: Path) -> None:
    all_panels = panels(load(path))
    ids = [panel.get("id") for panel in all_panels]
    assert None not in ids
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    occupied: set[tuple[int, int]] = set()
    for panel in all_panels:
        assert panel.get("title", "").strip(), f"panel {panel.get('id')} has no title"
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        cells = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not cells & occupied, f"{panel['title']} overlaps another panel"
        occupied |= cells
        if panel["type"] != "row":
            assert panel.get("targets"), f"{panel['title']} has no query"


def test_queries_use_only_contract_metric_names() -> None:
    """Or a series the rules record, or redis_exporter's (test_rules_lint.py)."""
    document = yaml.safe_load(PLAIN_RULES.read_text())
    recorded = {rule["record"] for group in document["groups"] for rule in group["rules"] if "record" in rule}
    exporter = {"redis_up", "redis_memory_used_bytes", "redis_memory_max_bytes"}
    allowed = contract_metric_names(RUNTIME_CONTRACT) | recorded | exporter | {"up"}
    for title, expr in dashboard_queries():
        used = metric_names(expr)
        assert used, f"{title}: no metric found in {expr!r}"
        assert used <= allowed, f"{title} uses metrics outside docs/runtime-contract.md: {used - allowed}"


def test_overview_shows_what_the_issue_asks_for() -> None:
    used = set().union(*(metric_names(expr) for _, expr in dashboard_queries()))
    for metric in (
        "mpwh_webhooks_received_total",
        "mpwh_receive_duration_seconds_bucket",
        "mpwh_events_processed_total",
        "mpwh_events",
        "mpwh_queue_depth",
        "mpwh_oldest_pending_age_seconds",
        "mpwh_scheduled_retries",
        "mpwh_upstream_requests_total",
        "mpwh_upstream_request_duration_seconds_bucket",
        "mpwh_ghl_rate_limit_waits_total",
        "mpwh_reconciler_recovered_total",
    ):
        assert metric in used, f"no panel shows {metric}"
    exprs = [expr for _, expr in dashboard_queries()]
    assert any("histogram_quantile(0.99" in e and "mpwh_receive_duration_seconds_bucket" in e for e in exprs)
    assert any("histogram_quantile(0.5" in e and "mpwh_receive_duration_seconds_bucket" in e for e in exprs)


def test_pipeline_gauges_are_aggregated_with_max() -> None:
    """Every component reports the same pipeline gauges: sum would multiply them."""
    gauges = {"mpwh_events", "mpwh_queue_depth", "mpwh_oldest_pending_age_seconds", "mpwh_scheduled_retries"}
    for title, expr in dashboard_queries():
        if metric_names(expr) & gauges:
            assert expr.startswith("max(") or expr.startswith("max by"), f"{title}: {expr}"


def test_failure_ratio_panel_draws_the_default_alert_threshold() -> None:
    overview = load(next(p for p in DASHBOARDS if "overview" in p.name))
    [panel] = [p for p in panels(overview) if p["title"].startswith("Failure ratio vs alert threshold")]
    defaults = panel["fieldConfig"]["defaults"]
    assert defaults["custom"]["thresholdsStyle"]["mode"] in {"line", "line+area", "dashed"}
    assert [s["value"] for s in defaults["thresholds"]["steps"] if s["value"] is not None] == [0.05]


def test_queries_parse_as_promql(tmp_path: Path) -> None:
    """promtool has no offline query checker; a recording rule per query gets each
    expression through Prometheus' own parser."""
    rules = [{"record": f"dashboard:query_{i}", "expr": expr} for i, (_, expr) in enumerate(dashboard_queries())]
    rules_file = tmp_path / "dashboard-queries.rules.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}))
    result = run([tool("promtool"), "check", "rules", "--lint=none", str(rules_file)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_query_is_filtered_by_namespace_and_release() -> None:
    """The reconciler's pushed series carry the install's namespace but no release (its
    job is mpwh-reconciler; prefix tells installs apart), so they are filtered by
    namespace only."""
    for path in DASHBOARDS:
        for panel in panels(load(path)):
            for target in panel.get("targets", []):
                expr = target["expr"]
                assert 'namespace=~"$namespace"' in expr, (panel["title"], expr)
                assert "$release" in expr or 'job="mpwh-reconciler"' in expr, (panel["title"], expr)


def test_the_top_row_answers_the_first_minute() -> None:
    overview = load(next(p for p in DASHBOARDS if "overview" in p.name))
    top = [p for p in panels(overview) if p["gridPos"]["y"] < 9 and p["type"] != "row"]
    exprs = " ".join(t["expr"] for p in top for t in p["targets"])
    for needle in (
        "mpwh:event_slo_errors:ratio_rate1h",  # SLO burn
        "mpwh_event_completion_seconds_count",  # arrivals vs completions
        "up{",  # up by component
        "mpwh_queue_depth",  # Redis reachable, how much is stuck
        "redis_memory_used_bytes",
        'outcome="failed"}[1h]',  # failures in the last hour, not stored failures
        "mpwh_upstream_breaker_open",
        "mpwh_upstream_requests_total",  # which upstream
    ):
        assert needle in exprs, needle
    # A Redis outage empties panels: they say why instead of "No data".
    for panel in top:
        assert panel["fieldConfig"]["defaults"].get("noValue"), panel["title"]


def test_firing_alerts_are_annotated_on_the_time_series() -> None:
    overview = load(next(p for p in DASHBOARDS if "overview" in p.name))
    exprs = [a.get("expr", "") for a in overview["annotations"]["list"]]
    assert any(e.startswith("ALERTS{") and 'alertname=~"Mpwh.*"' in e and "$namespace" in e for e in exprs), exprs
