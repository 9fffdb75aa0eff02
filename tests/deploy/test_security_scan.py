"""checkov, the static security scanner, on everything this repository deploys: every
rendered chart scenario, k8s/dev and k8s/rendered, and the Dockerfile. The only
findings allowed are the checks .checkov.yaml skips (each with its reason there),
suppressions on single objects that carry their reason in the annotation, and the ones
listed in EXPECTED below with theirs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.conftest import ROOT, SCENARIOS, tool

CONFIG = ROOT / ".checkov.yaml"
# (check id, scenario file) -> why the finding is expected there.
EXPECTED = {
    ("CKV_K8S_22", "dev.yaml"): "the dev scenario (dev.reload) makes the receiver's, worker's and scheduler's "
    "root filesystem writable: skaffold's file sync writes the changed sources into it",
}


def checkov(*args: str) -> list[dict[str, Any]]:
    """Run checkov with the repository's config; its JSON reports (one per framework)."""
    command = [
        tool("checkov", "scripts/tools/install-checkov"),
        "--config-file",
        str(CONFIG),
        "--output",
        "json",
        "--skip-download",
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode in (0, 1), f"checkov failed to run:\n{result.stderr[-3000:]}"
    reports: list[dict[str, Any]] = []
    decoder, text, index = json.JSONDecoder(), result.stdout, 0
    while index < len(text):
        while index < len(text) and text[index].isspace():
            index += 1
        if index < len(text):
            report, index = decoder.raw_decode(text, index)
            reports.extend(report if isinstance(report, list) else [report])
    assert reports, f"checkov printed no report:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
    return reports


def findings(reports: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    failed = [f for r in reports for f in r.get("results", {}).get("failed_checks", [])]
    skipped = [f for r in reports for f in r.get("results", {}).get("skipped_checks", [])]
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    return failed, skipped, passed


def describe(items: list[dict[str, Any]]) -> str:
    return "\n".join(f"  {f['check_id']} {f['check_name']}: {f['resource']} ({f['file_path']})" for f in items)


def test_config_documents_every_skipped_check() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    lines = CONFIG.read_text().splitlines()
    for check in config["skip-check"]:
        [index] = [i for i, line in enumerate(lines) if line.strip() == f"- {check}"]
        assert lines[index - 1].strip().startswith("#"), f"{check} is skipped without a reason above it"


def test_kubernetes_manifests_have_no_unexplained_findings(render: Any, tmp_path: Path) -> None:
    scan = tmp_path / "scan"
    for scenario in SCENARIOS:
        (scan / "chart").mkdir(parents=True, exist_ok=True)
        (scan / "chart" / f"{scenario}.yaml").write_text(render(scenario).text)
    for directory in ("dev", "rendered"):
        shutil.copytree(ROOT / "k8s" / directory, scan / "k8s" / directory)
    failed, skipped, passed = findings(checkov("--framework", "kubernetes", "--directory", str(scan)))
    assert passed > 100, "checkov checked (almost) nothing: did it parse the manifests?"
    unexpected = [f for f in failed if (f["check_id"], Path(f["file_path"]).name) not in EXPECTED]
    assert not unexpected, "checkov findings:\n" + describe(unexpected)
    expected_seen = {(f["check_id"], Path(f["file_path"]).name) for f in failed}
    assert expected_seen == set(EXPECTED), (
        f"EXPECTED lists findings that no longer occur: {set(EXPECTED) - expected_seen}"
    )
    for suppression in skipped:
        comment = suppression.get("check_result", {}).get("suppress_comment") or suppression.get("suppress_comment")
        # checkov fills in "No comment provided" for an annotation without "=<reason>".
        assert (comment or "").strip() not in ("", "No comment provided"), (
            "a checkov.io/skip annotation without a reason:\n" + describe([suppression])
        )


def test_the_dockerfile_has_no_findings() -> None:
    failed, skipped, passed = findings(checkov("--framework", "dockerfile", "--file", str(ROOT / "Dockerfile")))
    assert passed > 20
    assert not failed, "checkov findings:\n" + describe(failed)
    # The one suppression: checkov reads `FROM ${BASE_IMAGE}` without the ARG's default,
    # which test_images.py checks is pinned by digest.
    assert {f["check_id"] for f in skipped} <= {"CKV_DOCKER_7"}, "Dockerfile checks are suppressed:\n" + describe(
        skipped
    )
