"""The static checks are part of the suite: ruff (lint and format) over every Python
file, mypy in strict mode over services/ (pyproject.toml holds both configurations), and
bandit over services/ (no medium or high finding but those a `nosec` explains), and every
suppression of a finding says why."""

from __future__ import annotations

import json
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
# A bare `nosec` would hide every finding on its line, the next one included.
NOSEC_NAMES_TESTS = re.compile(r"#\s*nosec\s+B\d{3}(,\s*B\d{3})*\s+-\s+\S")


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


def test_bandit_finds_no_medium_or_high_issue_in_services():
    result = _run(
        str(BIN / "bandit"), "--recursive", "--quiet", "--severity-level", "medium", "--format", "json", "services"
    )
    report = json.loads(result.stdout)
    findings = [
        f"{r['filename']}:{r['line_number']}: {r['test_id']} {r['issue_severity']}: {r['issue_text']}"
        for r in report["results"]
    ]
    assert not findings, "explain each with `# nosec BNNN - why` or fix it:\n" + "\n".join(findings)
    assert not report["errors"], report["errors"]
    assert report["metrics"]["_totals"]["loc"] > 1000  # it read the code


def test_every_nosec_names_the_finding_it_silences():
    bare = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in (ROOT / "services").rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "nosec" in line and not NOSEC_NAMES_TESTS.search(line)
    ]
    assert not bare, "a nosec names its test id and reason (# nosec B104 - why):\n" + "\n".join(bare)
