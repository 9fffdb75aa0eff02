"""The documentation as the tests read it: README.md and every page under docs/, with
their fenced blocks, shell commands, links and heading anchors."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
RUNBOOKS = DOCS / "runbooks"

# A fence may be indented (a block inside a list item); it closes at the next fence line.
_FENCE = re.compile(r"^ *```(\w*)\n(.*?)^ *```", re.S | re.M)
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)[^)]*\)")


def pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def code_blocks(markdown: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block; the language is "" when none is given."""
    return _FENCE.findall(markdown)


def shell_commands(markdown: str) -> list[str]:
    """The commands of the sh/bash blocks: continuation lines joined, comments dropped."""
    commands = []
    for language, body in code_blocks(markdown):
        if language not in ("sh", "bash"):
            continue
        for line in body.replace("\\\n", " ").splitlines():
            line = line.split("  #", 1)[0].strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def _outside_blocks(markdown: str) -> str:
    return _FENCE.sub("", markdown)


def links(markdown: str) -> list[str]:
    """Targets of the inline links and images, outside code."""
    return _LINK.findall(re.sub(r"`[^`\n]*`", "", _outside_blocks(markdown)))


def github_anchor(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped (hyphens and
    underscores kept), spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every heading's anchor; a repeated heading gets GitHub's -1, -2, ... suffix."""
    seen: Counter[str] = Counter()
    found = set()
    for match in re.finditer(r"^#{1,6}\s+(.*?)\s*#*\s*$", _outside_blocks(markdown), re.M):
        anchor = github_anchor(match[1])
        found.add(f"{anchor}-{seen[anchor]}" if seen[anchor] else anchor)
        seen[anchor] += 1
    return found
