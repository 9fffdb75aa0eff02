"""The PromQL the observability assets run, for checks against a real Prometheus.

dashboard_queries(): every query of every dashboard in the chart, with Grafana's
variables replaced by concrete values so Prometheus can run them as they are.
alert_rules() / alert_expressions(): every alert of the plain rules file (chart
defaults, release "mp-webhooks")."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.observability.paths import DASHBOARDS, PLAIN_RULES


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """All panels, rows included, with those nested in collapsed rows."""
    found: list[dict[str, Any]] = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def substitute(expr: str, variables: dict[str, str]) -> str:
    """Replace $name and ${name} (longest names first, so $__range is not $__r...)."""
    for name in sorted(variables, key=len, reverse=True):
        expr = re.sub(
            r"\$\{" + re.escape(name) + r"\}|\$" + re.escape(name) + r"(?![A-Za-z0-9_])",
            lambda _match, value=variables[name]: value,
            expr,
        )
    return expr


def dashboard_queries(
    *,
    release: str = "mp-webhooks",
    namespace: str = ".*",
    rate_interval: str = "1m",
    range_: str = "1h",
) -> list[tuple[str, str]]:
    """(panel title, PromQL) for every target of every dashboard panel, in panel order.
    A panel with several queries gives several tuples with the same title. `release`
    is the chart fullname (scrape jobs are "<fullname>-<component>"); `namespace` is a
    regex ('.*' = any, also no namespace label at all)."""
    variables = {
        "__rate_interval": rate_interval,
        "__interval": rate_interval,
        "__range": range_,
        "release": release,
        "namespace": namespace,
    }
    queries: list[tuple[str, str]] = []
    for path in dashboard_files():
        for panel in panels(json.loads(path.read_text())):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    queries.append((panel["title"], substitute(target["expr"], variables)))
    return queries


def alert_rules(rules_file: Path = PLAIN_RULES) -> list[dict[str, Any]]:
    """Every alerting rule of a Prometheus rules file, as written."""
    document = yaml.safe_load(rules_file.read_text())
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


def alert_expressions(rules_file: Path = PLAIN_RULES) -> list[tuple[str, str]]:
    """(alert name, expr) for every alerting rule of a Prometheus rules file."""
    return [(rule["alert"], rule["expr"]) for rule in alert_rules(rules_file)]
