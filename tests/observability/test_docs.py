"""README.md has a runbook for every alert, under a
heading whose GitHub anchor is exactly the one the alert's runbook_url points at."""

from __future__ import annotations

import re
from pathlib import Path

from tests.observability.paths import OBSERVABILITY_DOC
from tests.observability.queries import alert_expressions
from tests.observability.rendering import render_rules


def github_anchor(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped (hyphens and
    underscores kept), spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    in_code = False
    found: set[str] = set()
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and (match := re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)):
            found.add(github_anchor(match[1]))
    return found


def test_github_anchor_matches_the_documented_example() -> None:
    assert github_anchor("Runbook: MpwhFailureRatioHigh") == "runbook-mpwhfailureratiohigh"


def test_every_alert_has_a_runbook_heading_with_its_anchor(tmp_path: Path) -> None:
    enabled = render_rules(tmp_path, {"prometheusRule": {"rules": {"noNotifications": {"enabled": True}}}})
    documented = anchors(OBSERVABILITY_DOC.read_text())
    for name, _ in alert_expressions(enabled):
        assert f"runbook-{name.lower()}" in documented, f"no '#### Runbook: {name}' heading"


def test_runbooks_show_the_retry_commands() -> None:
    text = OBSERVABILITY_DOC.read_text()
    dry_run = "kubectl exec deploy/<release>-worker -- mp-webhooks retry --status failed --dry-run"
    real = "kubectl exec deploy/<release>-worker -- mp-webhooks retry --status failed\n"
    assert dry_run in text
    assert real in text
    assert text.index(dry_run) < text.index(real), "the dry run comes first"
