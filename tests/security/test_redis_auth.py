"""Redis with a password, and Redis over TLS: every component and operator command works
with the right credentials and stops at start-up, with one line naming the setting,
with none or the wrong ones."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.core.events import EventStatus
from services.core.redis_client import check_credentials, sync_redis
from services.core.settings import ConfigError, load_settings
from services.core.store import EventCalls, EventStore
from services.receiver.app import create_app
from tests.conftest import Pipeline
from tests.receiver.conftest import signed_headers, webhook_body
from tests.support.servers import PrivateRedis, free_port, make_tls_files, serve_app

PASSWORD = "redis-pass-4f1c9e"

# Every command that talks to Redis, in a form that returns on its own.
COMMANDS = [
    ("worker", "--burst"),
    ("scheduler", "--burst"),
    ("reconcile",),
    ("events", "list"),
    ("events", "stats"),
    ("retry", "--dry-run"),
]


@pytest.fixture
def locked_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis(password=PASSWORD)
    server.start()
    yield server
    server.cleanup()


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args],
        env={**os.environ, **env, "METRICS_PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_works_with_the_password(worker_env, locked_redis, command):
    result = cli(worker_env(REDIS_URL=locked_redis.url, REDIS_PASSWORD=PASSWORD), *command)
    assert result.returncode == 0, result.stdout + result.stderr
    assert PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize("password", [None, "wrong-password"], ids=["missing", "wrong"])
# The receiver stops at the credentials check, before it would bind its port.
@pytest.mark.parametrize(
    "command", [*COMMANDS, ("receiver", "--port", "18765"), ("console", "--port", "18766")], ids=" ".join
)
def test_without_the_right_password_every_command_stops_with_one_line(worker_env, locked_redis, command, password):
    result = cli(worker_env(REDIS_URL=locked_redis.url, REDIS_PASSWORD=password), *command)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mp-webhooks: configuration error: REDIS_PASSWORD: Redis refused the credentials")
    assert "wrong-password" not in result.stdout + result.stderr


def test_the_password_setting_wins_over_the_urls(make_settings, locked_redis):
    url = locked_redis.url.replace("redis://", "redis://:stale-password@")
    check_credentials(make_settings(REDIS_URL=url, REDIS_PASSWORD=PASSWORD))
    with pytest.raises(ConfigError, match="REDIS_PASSWORD"):
        check_credentials(make_settings(REDIS_URL=url))


def test_an_acl_user_and_password(make_settings, locked_redis):
    locked_redis.client().acl_setuser("mpwh", enabled=True, passwords=["+acl-pass"], keys=["*"], commands=["+@all"])
    check_credentials(make_settings(REDIS_URL=locked_redis.url, REDIS_USERNAME="mpwh", REDIS_PASSWORD="acl-pass"))
    with pytest.raises(ConfigError, match="REDIS_PASSWORD"):
        check_credentials(make_settings(REDIS_URL=locked_redis.url, REDIS_USERNAME="mpwh", REDIS_PASSWORD=PASSWORD))


def _process_one_event(env: dict[str, str]) -> Callable[[], str]:
    """Receives one signed notification over HTTP and works it off; returns its status."""
    settings = load_settings(env)
    store = EventStore(sync_redis(settings), EventCalls(settings))
    with serve_app(create_app(settings)) as url:
        import httpx

        body = webhook_body("77001")
        response = httpx.post(f"{url}/webhooks/mp", json=body, headers=signed_headers("77001"), timeout=10)
    assert response.status_code == 200, response.text
    event_id = response.json()["event_id"]
    Pipeline(settings, store).drain()
    return lambda: store.get(event_id).status


def test_an_event_goes_end_to_end_through_a_password_protected_redis(worker_env, sandbox, locked_redis):
    sandbox[0].put_payment("77001", "approved", email="payer@example.com")
    status = _process_one_event(worker_env(REDIS_URL=locked_redis.url, REDIS_PASSWORD=PASSWORD))
    assert status() == EventStatus.SUCCESS


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(password=PASSWORD, tls=make_tls_files(tmp_path))
    server.start()
    yield server
    server.cleanup()


def test_an_event_goes_end_to_end_over_tls_with_the_ca_bundle(worker_env, sandbox, tls_redis):
    sandbox[0].put_payment("77001", "approved", email="payer@example.com")
    assert tls_redis.url.startswith("rediss://") and tls_redis.tls is not None
    env = worker_env(REDIS_URL=tls_redis.url, REDIS_PASSWORD=PASSWORD, REDIS_CA_CERT_PATH=str(tls_redis.tls.ca))
    check_credentials(load_settings(env))
    assert _process_one_event(env)() == EventStatus.SUCCESS


def test_tls_without_the_ca_bundle_stops_with_one_line(worker_env, tls_redis):
    result = cli(worker_env(REDIS_URL=tls_redis.url, REDIS_PASSWORD=PASSWORD), "events", "stats")
    assert result.returncode == 2
    assert result.stderr.startswith("mp-webhooks: configuration error: REDIS_CA_CERT_PATH: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_ca_file_is_a_configuration_error(make_settings, tmp_path):
    with pytest.raises(ConfigError, match="REDIS_CA_CERT_PATH: no such file"):
        make_settings(REDIS_CA_CERT_PATH=str(tmp_path / "absent.crt"))
