"""Runs scripts/render-rules (Helm's rendering of the chart's rules) the way a person
would, for the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.observability.paths import RENDER_RULES

# Every rule setting away from its default, a release name without "mp-webhooks" (so
# the fullname becomes "<release>-mp-webhooks"), and the optional rule switched on.
NON_DEFAULT_VALUES: dict[str, Any] = {
    "prometheusRule": {
        "runbookBaseUrl": "https://git.example.org/payments/mp-webhooks/blob/main/docs/runbooks",
        "rules": {
            "failureRatio": {"threshold": 0.2, "window": "30m", "for": "15m", "minEvents": 50},
            "failedEvents": {"for": "2m"},
            "backlogAge": {"minutes": 45},
            "receiverErrors": {"ratio": 0.25, "for": "1m"},
            "invalidSignatures": {"ratio": 0.5, "minCount": 12, "window": "20m", "for": "30m"},
            "reconcilerStale": {"seconds": 3600, "for": "20m"},
            "redisUnreachable": {"for": "1m"},
            "redisMemory": {"ratio": 0.8, "for": "5m"},
            "upstreamAuth": {"window": "5m", "minCount": 1, "for": "0m"},
            "schedulerLag": {"seconds": 120, "for": "5m"},
            "targetDown": {"for": "10m"},
            "noNotifications": {"enabled": True, "window": "24h"},
        },
        "slo": {"objective": 0.995, "latencySeconds": 600, "window": "28d", "minEvents": 100},
        "availabilitySlo": {"objective": 0.9995, "minRequests": 60},
    },
}


def render_rules(
    tmp_path: Path, values: dict[str, Any] | None = None, release: str = "mp-webhooks", name: str = "rules.yml"
) -> Path:
    """Render the chart's rules template into tmp_path/name and return that path."""
    output = tmp_path / name
    args = ["--release", release, "--output", str(output)]
    if values is not None:
        args += ["--values", str(values_file(tmp_path, f"{name}.values.yaml", values))]
    result = render_rules_cli(*args)
    assert result.returncode == 0, f"render-rules failed:\n{result.stderr}"
    return output


def values_file(directory: Path, name: str, values: dict[str, Any]) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(values))
    return path


def render_rules_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, str(RENDER_RULES), *args])


def run(command: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd)
