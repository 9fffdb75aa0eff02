"""Where the observability assets live, and the external tools the tests drive."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "mp-webhooks"
RULES_TEMPLATE = CHART / "files" / "prometheus-rules.yaml"
DASHBOARDS = CHART / "files" / "dashboards"
PLAIN_RULES = ROOT / "k8s" / "prometheus" / "mp-webhooks.rules.yml"
PLAIN_RULES_TESTS = ROOT / "k8s" / "prometheus" / "mp-webhooks.rules.test.yml"
NO_NOTIFICATIONS_TESTS = Path(__file__).resolve().parent / "no-notifications.rules.test.yml"
RENDER_RULES = ROOT / "scripts" / "render-rules"
RUNTIME_CONTRACT = ROOT / "docs" / "runtime-contract.md"
# The README shows it; the live Prometheus test rewrites it when MPWH_UPDATE_SCREENSHOTS=1.
DOCS_PANEL_IMAGE = ROOT / "docs" / "images" / "dashboard-panel.png"


def tool(name: str) -> str:
    """Path of an external tool (.tools/bin first, as scripts/test arranges); a clear
    failure, never a skip, when it is missing."""
    local = ROOT / ".tools" / "bin" / name
    if local.exists() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise AssertionError(
            f"{name} is not installed: run the tests with scripts/test, which runs scripts/tools/install-*"
        )
    return found
