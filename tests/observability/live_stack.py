"""A real, local mp-webhooks watched by a real Prometheus, for
tests/observability/test_live_prometheus.py.

- `Process`: a component subprocess in its own session (killed by its id at the end),
  its output in a log file so failures can show it.
- `MiniPushgateway`: the few Pushgateway routes the reconciler uses (PUT/POST/DELETE
  /metrics/job/<job>/<label>/<value>...), serving what was pushed on /metrics with the
  grouping labels added, as the real Pushgateway does. Debian's `prometheus` package
  has no pushgateway binary, and this lets `mp-webhooks reconcile` push for real.
- `Prometheus`: Debian's prometheus on a free port (never 9090) with a config written
  for the test, and a small client for its HTTP API.
- `render_line_chart` / `write_png`: a query_range result drawn as a PNG with nothing
  but zlib and struct (matplotlib is not a project dependency).
"""

from __future__ import annotations

import base64
import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import zlib
from collections.abc import Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.observability.paths import ROOT

INSTALL_HINT = "run ./scripts/tools/install-prometheus (./scripts/test runs it before pytest)"


def prometheus_binary() -> str:
    """.tools/bin first (scripts/tools/install-prometheus links it there), then PATH and
    Debian's own path. A missing binary is a failure, never a skip."""
    for candidate in (ROOT / ".tools" / "bin" / "prometheus", shutil.which("prometheus"), "/usr/bin/prometheus"):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    raise AssertionError(f"prometheus is not installed: {INSTALL_HINT}")


# --------------------------------------------------------------------------- processes


class Process:
    """A subprocess in its own session; stop() kills its process group by id."""

    def __init__(self, name: str, command: Sequence[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            list(command), env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return f"--- last lines of {self.name} ({self.log_path}) ---\n" + "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait()
        self._log.close()


def component_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "services.cli.main", *args]


def process_env(env: dict[str, str]) -> dict[str, str]:
    """The component's environment on top of ours, never believing it runs in a cluster."""
    full = {**os.environ, **env}
    full.pop("KUBERNETES_SERVICE_HOST", None)
    return full


# ------------------------------------------------------------------- mini pushgateway


def _unescape_segment(key: str, value: str) -> tuple[str, str]:
    if key.endswith("@base64"):
        padded = value + "=" * (-len(value) % 4)
        return key[: -len("@base64")], base64.urlsafe_b64decode(padded).decode()
    return key, urllib.parse.unquote_plus(value)


def _grouping_key(path: str) -> tuple[tuple[str, str], ...] | None:
    """/metrics/job/<job>[/<label>/<value>]... -> (("job", job), (label, value), ...)."""
    parts = path.strip("/").split("/")
    if len(parts) < 3 or parts[0] != "metrics" or len(parts) % 2 == 0:
        return None
    pairs = [_unescape_segment(parts[i], parts[i + 1]) for i in range(1, len(parts), 2)]
    if pairs[0][0] != "job":
        return None
    return tuple(pairs)


def _escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class MiniPushgateway:
    """Stores pushes per grouping key (PUT replaces the group, POST replaces the metric
    families it carries, DELETE drops the group) and serves them on GET /metrics."""

    def __init__(self) -> None:
        self.groups: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
        self.pushes: list[tuple[str, tuple[tuple[str, str], ...]]] = []
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:  # quiet
                pass

            def _push(self, method: str) -> None:
                key = _grouping_key(urllib.parse.urlsplit(self.path).path)
                if key is None:
                    self._reply(400, b"expected /metrics/job/<job>[/<label>/<value>]...\n")
                    return
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                try:
                    families = {family.name: family for family in text_string_to_metric_families(body)}
                except Exception as error:  # noqa: BLE001 - a bad push is the client's error
                    self._reply(400, f"cannot parse push: {error}\n".encode())
                    return
                with gateway.lock:
                    gateway.pushes.append((method, key))
                    if method == "DELETE":
                        gateway.groups.pop(key, None)
                    elif method == "PUT":
                        gateway.groups[key] = families
                    else:
                        gateway.groups.setdefault(key, {}).update(families)
                self._reply(200, b"")

            def do_PUT(self) -> None:
                self._push("PUT")

            def do_POST(self) -> None:
                self._push("POST")

            def do_DELETE(self) -> None:
                self._push("DELETE")

            def do_GET(self) -> None:
                if urllib.parse.urlsplit(self.path).path != "/metrics":
                    self._reply(404, b"not found\n")
                    return
                self._reply(200, gateway.exposition().encode(), "text/plain; version=0.0.4; charset=utf-8")

            def _reply(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MiniPushgateway:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def exposition(self) -> str:
        """The text format, every sample carrying its group's labels (a sample's own
        label of the same name wins, as in the Pushgateway)."""
        lines: list[str] = []
        with self.lock:
            by_name: dict[str, list[tuple[tuple[tuple[str, str], ...], Any]]] = {}
            for key, families in self.groups.items():
                for name, family in families.items():
                    by_name.setdefault(name, []).append((key, family))
        for name in sorted(by_name):
            first = by_name[name][0][1]
            lines.append(f"# HELP {name} {first.documentation}")
            lines.append(f"# TYPE {name} {first.type}")
            for key, family in by_name[name]:
                for sample in family.samples:
                    labels = {**dict(key), **sample.labels}
                    text = ",".join(f'{k}="{_escape_label_value(v)}"' for k, v in sorted(labels.items()))
                    lines.append(f"{sample.name}{{{text}}} {_format_value(sample.value)}")
        return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------- prometheus


class Prometheus:
    """prometheus on 127.0.0.1:<port>, scraping every second, with the given rule files."""

    def __init__(self, workdir: Path, port: int, jobs: dict[str, dict[str, Any]], rule_files: Iterable[Path]) -> None:
        self.workdir = workdir
        self.port = port
        self.config_path = workdir / "prometheus.yml"
        scrape_configs = []
        for job, spec in jobs.items():
            config: dict[str, Any] = {
                "job_name": job,
                "static_configs": [{"targets": [spec["target"]], "labels": spec.get("labels", {})}],
            }
            if spec.get("honor_labels"):
                config["honor_labels"] = True
            scrape_configs.append(config)
        self.config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": scrape_configs,
        }
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        self.process: Process | None = None
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        self.started_at = 0.0

    def start(self, timeout: float = 30.0) -> None:
        command = [
            prometheus_binary(),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        self.started_at = time.time()
        self.process = Process("prometheus", command, dict(os.environ), self.workdir)
        deadline = time.monotonic() + timeout
        while True:
            if not self.process.alive():
                raise AssertionError("prometheus exited at start-up\n" + self.process.log_tail())
            try:
                if self.client.get("/-/ready").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"prometheus not ready after {timeout}s\n" + self.process.log_tail())
            time.sleep(0.1)

    def stop(self) -> None:
        self.client.close()
        if self.process is not None:
            self.process.stop()

    def api(self, path: str, **params: Any) -> dict[str, Any]:
        """GET /api/v1/<path>; the whole answer (status, data or errorType/error)."""
        response = self.client.get(f"/api/v1/{path}", params=params)
        try:
            return response.json()
        except ValueError:
            return {"status": "error", "errorType": f"HTTP {response.status_code}", "error": response.text[:500]}

    def query(self, expr: str, at: float | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return self.api("query", **params)

    def query_range(self, expr: str, start: float, end: float, step: float = 1.0) -> dict[str, Any]:
        return self.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step=str(step))

    def vector(self, expr: str) -> list[dict[str, Any]]:
        """An instant query that must succeed; its result list."""
        answer = self.query(expr)
        assert answer.get("status") == "success", f"{expr}: {answer}"
        return answer["data"]["result"]

    def scalar_sum(self, expr: str) -> float | None:
        """The sum of an instant vector's values, None when it is empty."""
        result = self.vector(expr)
        return sum(float(item["value"][1]) for item in result) if result else None


# --------------------------------------------------------------------------------- png

# A 5x7 bitmap font (capitals, digits and the punctuation labels use); lower case is
# drawn in capitals. Each glyph: 7 rows of 5 pixels.
_FONT_ROWS = {
    "A": ".###. #...# #...# ##### #...# #...# #...#",
    "B": "####. #...# #...# ####. #...# #...# ####.",
    "C": ".###. #...# #.... #.... #.... #...# .###.",
    "D": "####. #...# #...# #...# #...# #...# ####.",
    "E": "##### #.... #.... ####. #.... #.... #####",
    "F": "##### #.... #.... ####. #.... #.... #....",
    "G": ".###. #...# #.... #.### #...# #...# .####",
    "H": "#...# #...# #...# ##### #...# #...# #...#",
    "I": ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    "J": "..### ...#. ...#. ...#. ...#. #..#. .##..",
    "K": "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
    "L": "#.... #.... #.... #.... #.... #.... #####",
    "M": "#...# ##.## #.#.# #.#.# #...# #...# #...#",
    "N": "#...# #...# ##..# #.#.# #..## #...# #...#",
    "O": ".###. #...# #...# #...# #...# #...# .###.",
    "P": "####. #...# #...# ####. #.... #.... #....",
    "Q": ".###. #...# #...# #...# #.#.# #..#. .##.#",
    "R": "####. #...# #...# ####. #.#.. #..#. #...#",
    "S": ".###. #...# #.... .###. ....# #...# .###.",
    "T": "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "U": "#...# #...# #...# #...# #...# #...# .###.",
    "V": "#...# #...# #...# #...# #...# .#.#. ..#..",
    "W": "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
    "X": "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
    "Y": "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
    "Z": "##### ....# ...#. ..#.. .#... #.... #####",
    "0": ".###. #...# #..## #.#.# ##..# #...# .###.",
    "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
    "2": ".###. #...# ....# ...#. ..#.. .#... #####",
    "3": "##### ...#. ..#.. ...#. ....# #...# .###.",
    "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
    "5": "##### #.... ####. ....# ....# #...# .###.",
    "6": "..##. .#... #.... ####. #...# #...# .###.",
    "7": "##### ....# ...#. ..#.. .#... .#... .#...",
    "8": ".###. #...# #...# .###. #...# #...# .###.",
    "9": ".###. #...# #...# .#### ....# ...#. .##..",
    " ": "..... ..... ..... ..... ..... ..... .....",
    ".": "..... ..... ..... ..... ..... .##.. .##..",
    ",": "..... ..... ..... ..... .##.. ..#.. .#...",
    "-": "..... ..... ..... ##### ..... ..... .....",
    "/": "..... ....# ...#. ..#.. .#... #.... .....",
    "%": "##... ##..# ...#. ..#.. .#... #..## ...##",
    ":": "..... .##.. .##.. ..... .##.. .##.. .....",
    "(": "...#. ..#.. .#... .#... .#... ..#.. ...#.",
    ")": ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",
    "_": "..... ..... ..... ..... ..... ..... #####",
    "=": "..... ..... ##### ..... ##### ..... .....",
    "+": "..... ..#.. ..#.. ##### ..#.. ..#.. .....",
    "<": "...#. ..#.. .#... #.... .#... ..#.. ...#.",
    ">": ".#... ..#.. ...#. ....# ...#. ..#.. .#...",
    "[": ".###. .#... .#... .#... .#... .#... .###.",
    "]": ".###. ...#. ...#. ...#. ...#. ...#. .###.",
    "?": ".###. #...# ....# ...#. ..#.. ..... ..#..",
    "*": "..... ..#.. #.#.# .###. #.#.# ..#.. .....",
    "|": "..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    '"': ".#.#. .#.#. ..... ..... ..... ..... .....",
    "'": "..#.. ..#.. ..... ..... ..... ..... .....",
}
FONT = {char: [row for row in rows.split()] for char, rows in _FONT_ROWS.items()}

PALETTE = [
    (31, 119, 180),
    (214, 39, 40),
    (44, 160, 44),
    (255, 127, 14),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
]


class Canvas:
    def __init__(self, width: int, height: int, background: tuple[int, int, int] = (255, 255, 255)) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(background) * (width * height))

    def set(self, x: int, y: int, color: tuple[int, int, int]) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            i = (y * self.width + x) * 3
            self.pixels[i : i + 3] = bytes(color)

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: tuple[int, int, int]) -> None:
        for y in range(max(0, y0), min(self.height, y1 + 1)):
            for x in range(max(0, x0), min(self.width, x1 + 1)):
                self.set(x, y, color)

    def line(self, x0: int, y0: int, x1: int, y1: int, color: tuple[int, int, int], width: int = 1) -> None:
        """Bresenham, each point a width x width square."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        half = width // 2
        while True:
            self.rect(x0 - half, y0 - half, x0 - half + width - 1, y0 - half + width - 1, color)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def text(self, x: int, y: int, text: str, color: tuple[int, int, int] = (0, 0, 0), scale: int = 1) -> int:
        """Draws text with its top-left at (x, y); returns the x after it."""
        for char in text:
            glyph = FONT.get(char.upper(), FONT["?"])
            for row, bits in enumerate(glyph):
                for col, bit in enumerate(bits):
                    if bit == "#":
                        self.rect(
                            x + col * scale,
                            y + row * scale,
                            x + (col + 1) * scale - 1,
                            y + (row + 1) * scale - 1,
                            color,
                        )
            x += 6 * scale
        return x


def text_width(text: str, scale: int = 1) -> int:
    return len(text) * 6 * scale


def write_png(path: Path, canvas: Canvas) -> None:
    """An 8-bit RGB PNG: signature, IHDR, one zlib IDAT (filter 0 per row), IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    stride = canvas.width * 3
    raw = b"".join(b"\x00" + bytes(canvas.pixels[y * stride : (y + 1) * stride]) for y in range(canvas.height))
    header = struct.pack(">IIBBBBB", canvas.width, canvas.height, 8, 2, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    )


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / ticks if span > 0 else 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _tick_label(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:.{decimals}f}"


def legend_label(template: str, labels: dict[str, str]) -> str:
    """Grafana's legendFormat ({{label}} substituted); the label set when there is none."""
    if template and template != "__auto":
        text = template
        for name, value in labels.items():
            text = text.replace("{{" + name + "}}", value).replace("{{ " + name + " }}", value)
        return text
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "value"


def render_line_chart(
    path: Path,
    title: str,
    series: list[tuple[str, list[tuple[float, float]]]],
    *,
    y_unit: str = "",
    subtitle: str = "",
    width: int = 1100,
    height: int = 560,
) -> None:
    """One Grafana-like time-series panel: (legend label, [(unix time, value)]) per
    series; NaN or missing points break the line."""
    canvas = Canvas(width, height)
    left, right, top, bottom = 80, 300, 62, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    canvas.text(16, 12, title, (20, 20, 20), scale=2)
    if subtitle:
        canvas.text(16, 36, subtitle, (90, 90, 90))

    points = [(t, v) for _, values in series for t, v in values if math.isfinite(v)]
    t_min = min((t for t, _ in points), default=time.time() - 60)
    t_max = max((t for t, _ in points), default=time.time())
    t_max = t_max if t_max > t_min else t_min + 1
    v_max = max((v for _, v in points), default=1.0)
    v_min = min(0.0, min((v for _, v in points), default=0.0))
    step = _nice_step(v_max - v_min if v_max > v_min else 1.0)
    v_top = math.ceil(v_max / step) * step if v_max > 0 else step
    v_bottom = math.floor(v_min / step) * step

    def to_xy(t: float, v: float) -> tuple[int, int]:
        x = left + round((t - t_min) / (t_max - t_min) * plot_w)
        y = top + plot_h - round((v - v_bottom) / (v_top - v_bottom) * plot_h)
        return x, y

    # Grid, y ticks and labels.
    tick = v_bottom
    while tick <= v_top + step / 2:
        _, y = to_xy(t_min, tick)
        canvas.line(left, y, left + plot_w, y, (225, 225, 225))
        label = _tick_label(tick, step)
        canvas.text(left - 8 - text_width(label), y - 3, label, (60, 60, 60))
        tick += step
    # x ticks: wall-clock UTC, about every plot_w / 6 pixels on a whole-second boundary.
    span = t_max - t_min
    x_step = max(1, math.ceil(_nice_step(span, 6)))
    first = math.ceil(t_min / x_step) * x_step
    t = first
    while t <= t_max:
        x, _ = to_xy(t, v_bottom)
        canvas.line(x, top, x, top + plot_h, (235, 235, 235))
        canvas.line(x, top + plot_h, x, top + plot_h + 4, (60, 60, 60))
        label = time.strftime("%H:%M:%S", time.gmtime(t))
        canvas.text(x - text_width(label) // 2, top + plot_h + 10, label, (60, 60, 60))
        t += x_step
    canvas.text(left + plot_w // 2 - text_width("time (UTC)") // 2, top + plot_h + 28, "time (UTC)", (60, 60, 60))
    if y_unit:
        canvas.text(8, top - 14, y_unit, (60, 60, 60))
    # Axes.
    canvas.line(left, top, left, top + plot_h, (40, 40, 40))
    canvas.line(left, top + plot_h, left + plot_w, top + plot_h, (40, 40, 40))

    # Lines, then the legend.
    for index, (_, values) in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        previous: tuple[int, int] | None = None
        for t, v in values:
            if not math.isfinite(v):
                previous = None
                continue
            point = to_xy(t, v)
            if previous is not None:
                canvas.line(*previous, *point, color, width=2)
            previous = point
    legend_x, legend_y = left + plot_w + 24, top
    for index, (label, values) in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        canvas.rect(legend_x, legend_y + 1, legend_x + 14, legend_y + 6, color)
        finite = [v for _, v in values if math.isfinite(v)]
        peak = f" (max {max(finite):.2f})" if finite else ""
        canvas.text(legend_x + 20, legend_y, f"{label}{peak}"[:44], (30, 30, 30))
        legend_y += 14
    write_png(path, canvas)


def read_png_header(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG, checking its signature and every chunk's CRC."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    offset, size, kinds = 8, None, []
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, f"bad CRC in {kind!r} chunk of {path}"
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        kinds.append(kind)
        offset += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds, f"chunks of {path}: {kinds}"
    assert size is not None
    width, height = size
    idat = b"".join(
        data[o + 8 : o + 8 + struct.unpack(">I", data[o : o + 4])[0]]
        for o in _chunk_offsets(data)
        if data[o + 4 : o + 8] == b"IDAT"
    )
    assert len(zlib.decompress(idat)) == height * (1 + 3 * width), f"{path}: image data does not match its header"
    return width, height


def _chunk_offsets(data: bytes) -> list[int]:
    offsets, offset = [], 8
    while offset < len(data):
        offsets.append(offset)
        offset += 12 + struct.unpack(">I", data[offset : offset + 4])[0]
    return offsets
