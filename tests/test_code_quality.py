"""The static checks are part of the suite: ruff (lint and format) over every Python
file, mypy in strict mode over services/ (pyproject.toml holds both configurations), and
every suppression of a finding says why."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PYTHON_TREES = ("services", "tests", "benchmarks", "scripts")
SCRIPTS = ("scripts/render-rules",)
# A suppression names its reason after " - " (e.g. "noqa" BLE001 - why, "nosec" B311 - why).
SUPPRESSION = re.compile(r"#\s*(noqa|type:\s*ignore|nosec)\b(?P<rest>[^\n]*)")


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_finds_nothing():
    result = _run(str(BIN / "ruff"), "check", *PYTHON_TREES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_code_is_formatted_as_ruff_formats_it():
    result = _run(str(BIN / "ruff"), "format", "--check", *PYTHON_TREES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing_in_services():
    result = _run(str(BIN / "mypy"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_suppressed_finding_says_why():
    unexplained = []
    for tree in PYTHON_TREES:
        for path in [*(ROOT / tree).rglob("*.py"), *(ROOT / script for script in SCRIPTS if script.startswith(tree))]:
            for number, line in enumerate(path.read_text().splitlines(), 1):
                for match in SUPPRESSION.finditer(line):
                    if " - " not in match.group("rest"):
                        unexplained.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not unexplained, "suppressions without a reason:\n" + "\n".join(unexplained)
