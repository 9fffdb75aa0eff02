"""Every alert the chart can fire has its runbook, docs/runbooks/<AlertName>.md (the
file name its runbook_url ends with), which opens with the commands the on-call runs
first; the runbooks show how to retry failed events. Whether those commands are right
is tests/deploy/test_readme_commands.py's job."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs.markdown import RUNBOOKS, code_blocks, links, shell_commands
from tests.observability.paths import RULES_TEMPLATE

INDEX = RUNBOOKS / "README.md"
FIRST_COMMANDS = 3
SECTIONS = ["Means", "Check", "Do"]


def alert_names() -> list[str]:
    """Every alert of the rules template, the optional ones included."""
    return re.findall(r"^\s*- alert:\s*(\S+)\s*$", RULES_TEMPLATE.read_text(), re.M)


ALERTS = alert_names()


def test_the_rules_template_defines_alerts() -> None:
    assert len(ALERTS) >= 10 and len(set(ALERTS)) == len(ALERTS), ALERTS
    assert "MpwhNoNotifications" in ALERTS, "an alert rendered only when enabled is still found"


@pytest.mark.parametrize("alert", ALERTS)
def test_every_alert_has_a_runbook_named_after_it(alert: str) -> None:
    runbook = RUNBOOKS / f"{alert}.md"
    assert runbook.is_file(), f"no {runbook.relative_to(RUNBOOKS.parents[1])}"
    assert runbook.read_text().splitlines()[0] == f"# {alert}"


@pytest.mark.parametrize("alert", ALERTS)
def test_a_runbook_opens_with_the_commands_to_run_first(alert: str) -> None:
    text = (RUNBOOKS / f"{alert}.md").read_text()
    after_title = text.split("\n", 1)[1].lstrip("\n")
    assert after_title.startswith("```sh\n"), f"{alert}: the first thing under the title is a sh block"
    first_block = code_blocks(after_title)[0][1]
    assert len(shell_commands(f"```sh\n{first_block}```")) == FIRST_COMMANDS, first_block


@pytest.mark.parametrize("alert", ALERTS)
def test_a_runbook_says_what_it_means_what_to_check_and_what_to_do(alert: str) -> None:
    headings = re.findall(r"^## (.+)$", (RUNBOOKS / f"{alert}.md").read_text(), re.M)
    assert headings == SECTIONS, f"{alert}: sections {headings}, expected {SECTIONS}"


def test_every_runbook_belongs_to_an_alert() -> None:
    pages = {path.stem for path in RUNBOOKS.glob("*.md")} - {"README"}
    assert pages <= set(ALERTS), f"runbooks without an alert: {sorted(pages - set(ALERTS))}"


def test_the_index_links_every_runbook() -> None:
    linked = set(links(INDEX.read_text()))
    missing = [alert for alert in ALERTS if f"{alert}.md" not in linked]
    assert not missing, f"docs/runbooks/README.md does not link {missing}"


@pytest.mark.parametrize("page", [INDEX, RUNBOOKS / "MpwhEventsFailed.md"], ids=lambda p: p.name)
def test_runbooks_show_the_retry_commands(page: Path) -> None:
    commands = shell_commands(page.read_text())
    dry_run = "kubectl exec deploy/<release>-worker -- mp-webhooks retry --status failed --dry-run"
    real = "kubectl exec deploy/<release>-worker -- mp-webhooks retry --status failed"
    assert dry_run in commands
    assert real in commands
    assert commands.index(dry_run) < commands.index(real), "the dry run comes first"
