"""The worker's and scheduler's HTTP side on METRICS_PORT: `/metrics`, `/healthz` (the
process answers) and `/livez` (its work loop beat recently), served from a daemon thread
so it never holds up a shutdown."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from .heartbeat import Heartbeat


def _handler(heartbeat: Heartbeat) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                self._send(200, b'{"status": "ok"}', "application/json")
            elif path == "/livez":
                alive = heartbeat.alive()
                body = {"status": "ok" if alive else "stalled", "silent_seconds": round(heartbeat.silence(), 1)}
                self._send(200 if alive else 503, json.dumps(body).encode(), "application/json")
            else:
                self._send(404, b'{"error": "not found"}', "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # scrapes every 15 s would drown the JSON logs

    return Handler


def start_metrics_server(port: int, heartbeat: Heartbeat, host: str = "0.0.0.0") -> ThreadingHTTPServer:  # nosec B104 - a pod's port, reached through its Service and NetworkPolicy
    server = ThreadingHTTPServer((host, port), _handler(heartbeat))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-server", daemon=True).start()
    return server
