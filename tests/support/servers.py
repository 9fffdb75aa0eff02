"""Real servers for tests: uvicorn apps in a thread, private redis-server processes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@contextmanager
def serve_app(app, port: int | None = None) -> Iterator[str]:
    """Serves an ASGI app over real HTTP on 127.0.0.1; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass(frozen=True)
class TlsFiles:
    """A throwaway CA and a server certificate it signed for 127.0.0.1."""

    ca: Path
    cert: Path
    key: Path


def make_tls_files(directory: Path) -> TlsFiles:
    """Made with the `openssl` command, as an operator would."""

    def openssl(command: str) -> None:
        subprocess.run(["openssl", *command.split()], cwd=directory, check=True, capture_output=True)

    openssl("req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca -keyout ca.key -out ca.crt")
    openssl("req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr")
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl(
        "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile san.ext -out server.crt"
    )
    return TlsFiles(directory / "ca.crt", directory / "server.crt", directory / "server.key")


class PrivateRedis:
    """A redis-server of the test's own, so a test can stop and restart it."""

    def __init__(self, *, password: str | None = None, tls: TlsFiles | None = None) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed: run ./scripts/test, which installs it")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="mpwh-redis-")
        self.process: subprocess.Popen | None = None
        self.password = password
        self.tls = tls

    @property
    def url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        if self.tls:
            return redis.Redis(
                host="127.0.0.1", port=self.port, password=self.password, ssl=True, ssl_ca_certs=str(self.tls.ca)
            )
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password)

    def _listening(self) -> list[str]:
        if self.tls is None:
            return ["--port", str(self.port)]
        files = self.tls
        return [
            *("--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no"),
            *(
                "--tls-cert-file",
                str(files.cert),
                "--tls-key-file",
                str(files.key),
                "--tls-ca-cert-file",
                str(files.ca),
            ),
        ]

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                *self._listening(),
                *(("--requirepass", self.password) if self.password else ()),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client().ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def flushed_redis(url: str) -> redis.Redis:
    """A client of the test Redis database at `url`, emptied; a clear failure when no
    Redis answers (./scripts/test starts one)."""
    import pytest

    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.ConnectionError as error:
        pytest.fail(f"no Redis at {url} ({error}); ./scripts/test starts one", pytrace=False)
    client.flushdb()
    return client


def redis_test_url() -> str:
    db = os.environ.get("MPWH_TEST_REDIS_DB", "15")
    return os.environ.get("MPWH_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{db}")
