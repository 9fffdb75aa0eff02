"""charts/mp-webhooks/README.md is generated (tests/deploy/chart_readme.py, helm-docs
conventions) and must be current; every value is documented by a `# --` comment, on the
key itself or on a map above it."""

from __future__ import annotations

from typing import Any

import yaml

from tests.deploy.chart_readme import CHART, README, documented_keys, render


def leaves(values: dict[str, Any], prefix: str = "") -> list[str]:
    found = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        found += leaves(value, f"{path}.") if isinstance(value, dict) and value else [path]
    return found


def test_chart_readme_is_current() -> None:
    assert README.read_text() == render(), (
        "charts/mp-webhooks/README.md is stale: run `.venv/bin/python -m tests.deploy.chart_readme`"
    )


def test_every_value_is_documented() -> None:
    text = (CHART / "values.yaml").read_text()
    documented = {d.key for d in documented_keys(text)}
    for leaf in leaves(yaml.safe_load(text)):
        parts = leaf.split(".")
        covering = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
        assert covering & documented, f"{leaf} has no `# --` comment (on it or a map above it)"


def test_the_table_has_the_defaults() -> None:
    text = README.read_text()
    assert '| image.repository | string | `"mp-webhooks"` |' in text
    assert '| profile | string | `"production"` |' in text
