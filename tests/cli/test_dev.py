"""`mp-webhooks dev` on a machine with no Redis answering REDIS_URL and no credentials,
driven by `mp-webhooks send-test` exactly as the README tells a newcomer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading

import httpx
import pytest

from tests.support.servers import free_port
from tests.support.waiting import wait_until

CLI = [sys.executable, "-m", "services.cli.main"]


@pytest.fixture
def dev_stack(tmp_path):
    ports = {name: free_port() for name in ("port", "sandbox", "redis", "console")}
    ports["metrics"] = _free_pair()  # the worker's; the scheduler takes the next one
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MP_", "GHL_", "API_TOKEN", "REDIS_URL"))}
    env["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # nothing answers there
    env["NO_COLOR"] = "1"
    process = subprocess.Popen(
        [
            *CLI,
            "dev",
            "--port",
            str(ports["port"]),
            "--sandbox-port",
            str(ports["sandbox"]),
            "--metrics-port",
            str(ports["metrics"]),
            "--redis-port",
            str(ports["redis"]),
            "--console-port",
            str(ports["console"]),
            "--data-dir",
            str(tmp_path),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
    try:
        wait_until(
            lambda: any("Ctrl-C stops everything" in line for line in lines) or process.poll() is not None,
            timeout=60,
            message="the dev stack's banner",
        )
        assert process.poll() is None, "".join(lines)
        yield process, ports, lines, env, tmp_path
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _free_pair() -> int:
    """A free port whose next one is free too."""
    while True:
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


def _send(ports, env, *args):
    base = ["--url", f"http://127.0.0.1:{ports['port']}", "--sandbox-url", f"http://127.0.0.1:{ports['sandbox']}"]
    return subprocess.run([*CLI, "send-test", *base, *args], env=env, capture_output=True, text=True, timeout=120)


def test_dev_stack_runs_everything_and_send_test_follows_an_event(dev_stack):
    process, ports, lines, env, data_dir = dev_stack
    banner = "".join(lines)
    assert "SANDBOX MODE" in banner and "embedded server" in banner
    assert f"Webhook URL:  http://127.0.0.1:{ports['port']}/webhooks/mp" in banner
    assert "API token:    dev-token" in banner and "MP_ALLOW_UNSIGNED=true" in banner
    assert f"Console:      http://127.0.0.1:{ports['console']}/console/events" in banner
    sign_in = httpx.get(f"http://127.0.0.1:{ports['console']}/console/sign-in", timeout=5)
    assert sign_in.status_code == 200 and 'name="token"' in sign_in.text
    assert (data_dir / "redis").is_dir()

    followed = _send(ports, env, "--follow", "--status", "approved")
    # On failure, what the dev stack printed too (a component that exited stops them all).
    assert followed.returncode == 0, followed.stdout + followed.stderr + "".join(lines)
    assert '"status": "received"' in followed.stdout and "success    attempt 1/4" in followed.stdout
    assert '"tags": ["mp-payment-approved"]' in followed.stdout

    burst = _send(ports, env, "--count", "5")
    assert burst.returncode == 0 and "sent 5: 5 answered 200, 0 not" in burst.stdout, "".join(lines)

    ipn = _send(ports, env, "--ipn", "--status", "rejected", "--follow")
    assert ipn.returncode == 0 and '"tags": ["mp-payment-rejected"]' in ipn.stdout, "".join(lines)

    # One prefixed log stream from every component.
    wait_until(
        lambda: (
            {"receiver", "worker", "scheduler", "reconcile", "sandbox", "redis"}
            <= {line.split("|")[0].strip() for line in lines if "|" in line}
        ),
        message="output from every component",
    )

    os.kill(process.pid, signal.SIGINT)  # Ctrl-C
    assert process.wait(timeout=30) == 0
    children = subprocess.run(["pgrep", "-g", str(process.pid)], capture_output=True, text=True).stdout.split()
    assert children == []


def _group_left(pid: int) -> list[str]:
    return subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True).stdout.split()


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_dev_stops_cleanly_however_it_is_stopped(dev_stack, signum):
    process, ports, lines, _, _ = dev_stack
    os.kill(process.pid, signum)  # the dev process alone, as a process manager or a closed terminal does
    process.wait(timeout=30)
    if signum != signal.SIGKILL:
        assert process.returncode == 0, "".join(lines)
    wait_until(lambda: not _group_left(process.pid), timeout=30, message="every child to end")
    assert all(_port_free(ports[name]) for name in ("port", "sandbox", "metrics", "redis"))


def test_send_test_reports_an_unreachable_receiver():
    result = subprocess.run(
        [*CLI, "send-test", "--url", f"http://127.0.0.1:{free_port()}"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1 and "could not reach the receiver" in result.stderr
