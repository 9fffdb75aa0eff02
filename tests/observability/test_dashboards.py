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

from tests.observability.paths import RUNTIME_CONTRACT, tool
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
    allowed = contract_metric_names(RUNTIME_CONTRACT)
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
