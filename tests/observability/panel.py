"""A Grafana-like time-series panel drawn with matplotlib from a Prometheus query_range
result, for a person to look at (tests/observability/test_live_prometheus.py)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure

WIDTH, HEIGHT, DPI = 1100, 560, 100

Series = list[tuple[str, list[tuple[float, float]]]]


def legend_label(template: str, labels: dict[str, str]) -> str:
    """Grafana's legendFormat ({{label}} substituted); the label set when there is none."""
    if template and template != "__auto":
        text = template
        for name, value in labels.items():
            text = text.replace("{{" + name + "}}", value).replace("{{ " + name + " }}", value)
        return text
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "value"


def draw_panel(path: Path, title: str, series: Series, *, y_unit: str = "", subtitle: str = "") -> None:
    """One PNG of WIDTH x HEIGHT pixels: (legend label, [(unix time, value)]) per series,
    each labelled with its peak; NaN points break the line, as in Grafana."""
    # A bare Figure on the Agg canvas: no pyplot, so no global state and no display.
    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    figure.suptitle(title, x=0.01, ha="left", fontsize=14, fontweight="bold")
    if subtitle:
        axes.set_title(subtitle, loc="left", fontsize=9, color="dimgray")
    for label, points in series:
        times = [datetime.fromtimestamp(t, tz=UTC) for t, _ in points]
        values = [v for _, v in points]
        peak = max((v for v in values if math.isfinite(v)), default=None)
        axes.plot(times, values, linewidth=2, label=f"{label} (max {peak:.2f})" if peak is not None else label)
    axes.xaxis.set_major_formatter(DateFormatter("%H:%M:%S", tz=UTC))
    axes.set_xlabel("time (UTC)")
    axes.set_ylabel(y_unit)
    axes.set_ylim(bottom=0)
    axes.grid(color="0.9")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
