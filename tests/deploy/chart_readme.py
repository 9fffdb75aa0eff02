"""charts/mp-webhooks/README.md from README.md.gotmpl, Chart.yaml and values.yaml's
helm-docs comments (`# -- description` above a key), rendered the way helm-docs renders
them so a team that has helm-docs can regenerate it with that tool instead. helm-docs is
not packaged for the registries this project reaches, so this renders the templates the
chart's README uses and refuses any other (a template it does not know is an error, not
a silently different README).

    python -m tests.deploy.chart_readme     # rewrite charts/mp-webhooks/README.md"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "charts" / "mp-webhooks"
TEMPLATE = CHART / "README.md.gotmpl"
README = CHART / "README.md"
_KEY = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z0-9_.-]+):(\s|$)")
_TEMPLATE_CALL = re.compile(r'\{\{\s*template\s+"([\w.]+)"\s+\.\s*\}\}')


@dataclass(frozen=True)
class Documented:
    key: str
    description: str


def documented_keys(text: str) -> list[Documented]:
    """Every key with a `# --` comment block directly above it, with its dotted path."""
    found: list[Documented] = []
    stack: list[tuple[int, str]] = []
    comments: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comments.append(stripped.lstrip("#").strip())
            continue
        match = _KEY.match(line)
        if not match or stripped.startswith("-"):
            comments = []
            continue
        indent = len(match.group("indent"))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group("key")))
        starts = [i for i, c in enumerate(comments) if c == "--" or c.startswith("-- ")]
        if starts:
            block = comments[starts[-1] :]
            description = " ".join([block[0].removeprefix("--").strip(), *block[1:]]).strip()
            found.append(Documented(".".join(k for _, k in stack), description))
        comments = []
    return found


def lookup(values: dict[str, Any], key: str) -> Any:
    node: Any = values
    for part in key.split("."):
        node = node[part]
    return node


def type_name(value: Any) -> str:
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "string"), (list, "list")):
        if isinstance(value, kind):
            return name
    return "object"


def values_table(values_text: str) -> str:
    values = yaml.safe_load(values_text)
    rows = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"]
    for entry in documented_keys(values_text):
        value = lookup(values, entry.key)
        default = json.dumps(value, separators=(",", ":")).replace("|", "\\|")
        description = entry.description.replace("|", "\\|")
        rows.append(f"| {entry.key} | {type_name(value)} | `{default}` | {description} |")
    return "\n".join(rows)


def render() -> str:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    pieces = {
        "chart.header": f"# {chart['name']}",
        "chart.description": chart["description"].strip(),
        "chart.versionBadge": f"![Version: {chart['version']}](https://img.shields.io/badge/Version-{chart['version']}-informational?style=flat-square)",
        "chart.typeBadge": f"![Type: {chart['type']}](https://img.shields.io/badge/Type-{chart['type']}-informational?style=flat-square)",
        "chart.appVersionBadge": f"![AppVersion: {chart['appVersion']}](https://img.shields.io/badge/AppVersion-{chart['appVersion']}-informational?style=flat-square)",
        "chart.kubeVersionLine": f"Kubernetes: `{chart['kubeVersion']}`",
        "chart.valuesSection": "## Values\n\n" + values_table((CHART / "values.yaml").read_text()),
    }

    def call(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in pieces:
            raise ValueError(f"README.md.gotmpl uses {name}, which this renderer does not know")
        return pieces[name]

    return _TEMPLATE_CALL.sub(call, TEMPLATE.read_text())


if __name__ == "__main__":
    README.write_text(render())
