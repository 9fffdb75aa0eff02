"""README.md stays a landing page, every page it and docs/ link to exists (anchors
included), and the README's table reaches every page of docs/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs.markdown import DOCS, README, ROOT, anchors, github_anchor, links, name, pages

README_LIMIT_BYTES = 15_000
# A scheme (https:, mailto:) means the link leaves the repository.
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def test_the_readme_stays_under_15_kb() -> None:
    size = len(README.read_bytes())
    assert size < README_LIMIT_BYTES, f"README.md is {size} bytes: move details into docs/"


def test_github_anchor_matches_githubs_own() -> None:
    assert github_anchor("Worker class: why SimpleWorker") == "worker-class-why-simpleworker"
    assert github_anchor("How the delivery is tested (no cluster, no Docker)") == (
        "how-the-delivery-is-tested-no-cluster-no-docker"
    )
    assert anchors("# Top\n```sh\n# not a heading\n```\n## Top\n") == {"top", "top-1"}


@pytest.mark.parametrize("page", pages(), ids=name)
def test_relative_links_point_at_files_that_exist(page: Path) -> None:
    for target in links(page.read_text()):
        if EXTERNAL.match(target):
            continue
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        assert destination.is_relative_to(ROOT), f"{name(page)}: {target} leaves the repository"
        assert destination.exists(), f"{name(page)}: {target} does not exist"
        if anchor and destination.suffix == ".md":
            assert anchor in anchors(destination.read_text()), f"{name(page)}: {target}: no such heading"


def test_the_readme_links_every_page_of_docs() -> None:
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in links(README.read_text())}
    missing = [name(page) for page in sorted(DOCS.glob("*.md")) if page.resolve() not in linked]
    assert not missing, f"README.md's documentation table misses {missing}"
    assert (DOCS / "runbooks" / "README.md").resolve() in linked, "README.md must link the runbooks' index"
