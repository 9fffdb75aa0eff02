"""Just enough PromQL reading to list the metric names an expression uses, so tests can
hold dashboards and alerts to the metric contract."""

from __future__ import annotations

import re
from pathlib import Path

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
# An identifier not glued to a number ("5m", "1e3"), a variable ("$x") or a field.
# Whole identifiers only (no backtracking into "rat" of "rate("); a following "(" makes
# it a function or aggregation.
_IDENTIFIER = re.compile(r"(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![a-zA-Z0-9_:]|\s*\()")
_KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "inf",
    "nan",
    "atan2",
    "start",
    "end",
}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers left once strings, label
    matchers, ranges and grouping clauses are removed, minus function calls and
    keywords."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _BRACKETS.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    return {name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS}


_CONTRACT_ROW = re.compile(r"^\|\s*`(mpwh_[a-z0-9_]+)`\s*\|\s*(counter|gauge|histogram|summary)\s*\|", re.M)


def contract_metric_names(runtime_contract: Path) -> set[str]:
    """Every series name the runtime contract's metric table allows, with the
    _bucket/_sum/_count series of its histograms."""
    names: set[str] = set()
    for name, kind in _CONTRACT_ROW.findall(runtime_contract.read_text()):
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        elif kind == "summary":
            names |= {f"{name}_sum", f"{name}_count"}
    return names
