"""`mp-webhooks retry` and `mp-webhooks events`, run as an operator would, against real Redis."""

from __future__ import annotations

import json
import time

import pytest

from services.cli.main import main
from services.core.attempts import FailureKind
from services.core.events import NewEvent
from services.core.timestamps import iso
from services.upstream.breaker import breaker_for
from services.upstream.errors import RetryableError
from tests.support.store import end_attempt, start_attempt


@pytest.fixture
def cli(make_env, monkeypatch, store):
    env = make_env(MPWH_KEY_PREFIX=store.calls.settings.key_prefix)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def run(*argv: str) -> int:
        return main(list(argv))

    return run


def _failed(store, resource: str, event_type: str = "payment", received_at: float | None = None) -> str:
    notification = NewEvent(source="webhook", type=event_type, resource_id=resource, webhook_id=f"w{resource}")
    _, event_id = store.receive(notification, now=received_at)
    attempt = start_attempt(store, event_id, "job", "w.x")
    assert (
        end_attempt(store, event_id, attempt, FailureKind.PERMANENT, error="mercadopago GET /v1/payments/x: 404")
        == "failed"
    )
    return event_id


def _queued_jobs(store) -> int:
    return store.redis.llen(store.keys.queue)


def test_dry_run_prints_the_selection_and_changes_nothing(cli, store, capsys):
    failed = [_failed(store, str(n)) for n in range(3)]
    queued_before = _queued_jobs(store)
    assert cli("retry", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "selected 3 event(s) (dry run: nothing changes)" in out
    assert all(event_id in out for event_id in failed)
    assert all(store.get(e).status == "failed" for e in failed)
    assert _queued_jobs(store) == queued_before


def test_retry_queues_selected_events_with_fresh_budget_and_history_kept(cli, store, capsys):
    payment = _failed(store, "1")
    order = _failed(store, "2", event_type="merchant_order")
    queued_before = _queued_jobs(store)
    assert cli("retry", "--type", "payment") == 0
    out = capsys.readouterr().out
    assert "selected 1 event(s)" in out and "queued 1, skipped 0, unknown 0" in out
    event = store.get(payment)
    assert event.status == "pending" and event.max_attempts == event.attempts + store.calls.settings.max_attempts
    assert len(event.history) == 2 and event.history[0]["outcome"] == "failed"
    # The retry is in the history, saying who asked.
    assert event.history[1]["requested_by"] == "cli" and event.history[1]["previous_status"] == "failed"
    assert store.get(order).status == "failed"
    assert _queued_jobs(store) == queued_before + 1


def test_retry_by_id_reports_unknown_ids_without_failing(cli, store, capsys):
    known = _failed(store, "1")
    assert cli("retry", "--id", known, "--id", "nope123") == 0
    out = capsys.readouterr().out
    assert "unknown event id: nope123" in out and "queued 1, skipped 0, unknown 1" in out
    assert store.get(known).status == "pending"


def test_retry_filters_by_time_and_limit(cli, store, capsys):
    old = store.receive(NewEvent(source="ipn", type="payment", resource_id="old"), now=time.time() - 7200)[1]
    attempt = start_attempt(store, old, "j", "w.x", now=time.time() - 7200)
    end_attempt(store, old, attempt, FailureKind.PERMANENT, now=time.time() - 7200)
    # A second apart: ids order by millisecond, and within one millisecond arbitrarily.
    recent = [_failed(store, str(n), received_at=time.time() - 10 + n) for n in range(3)]
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    assert cli("retry", "--since", since, "--limit", "2", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "selected 2 event(s)" in out and old not in out
    assert recent[2] in out and recent[1] in out  # newest first


def test_more_than_ten_needs_confirmation(cli, store, capsys, monkeypatch):
    events = [_failed(store, str(n)) for n in range(11)]
    # No terminal (kubectl exec without -t): refuse rather than guess.
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert cli("retry") == 1
    assert "pass --yes" in capsys.readouterr().out
    assert all(store.get(e).status == "failed" for e in events)
    # On a terminal, "n" retries nothing and "y" retries all.
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert cli("retry") == 1
    assert all(store.get(e).status == "failed" for e in events)
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert cli("retry") == 0
    assert all(store.get(e).status == "pending" for e in events)


def test_yes_skips_confirmation(cli, store, capsys, monkeypatch):
    events = [_failed(store, str(n)) for n in range(12)]
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert cli("retry", "--yes") == 0
    assert "queued 12" in capsys.readouterr().out
    assert all(store.get(e).status == "pending" for e in events)


def test_processing_events_are_skipped_and_said(cli, store, capsys):
    _, event_id = store.receive(NewEvent(source="ipn", type="payment", resource_id="busy"))
    store.claim(event_id, "j", "w.x")
    assert cli("retry", "--id", event_id) == 0
    out = capsys.readouterr().out
    assert f"{event_id}: not retried (processing)" in out and "queued 0, skipped 1" in out


def test_events_list_show_stats(cli, store, capsys):
    failed = _failed(store, "77")
    store.receive(NewEvent(source="ipn", type="merchant_order", resource_id="9"))
    assert cli("events", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["type"] for e in listed] == ["merchant_order", "payment"]
    assert cli("events", "list", "--status", "failed") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["id", "type", "resource_id", "status", "attempts", "received_at", "last_error"]
    assert failed in table[1] and "1/4" in table[1]
    assert cli("events", "show", failed) == 0
    shown = capsys.readouterr().out
    assert "#1" in shown and "failed" in shown and "404" in shown
    assert cli("events", "show", failed, "--json") == 0
    assert json.loads(capsys.readouterr().out)["history"][0]["outcome"] == "failed"
    assert cli("events", "stats", "--json") == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["by_status"]["failed"] == 1 and stats["by_type"] == {"merchant_order": 1, "payment": 1}
    assert cli("events", "show", "missing") == 1


def test_events_show_the_attempts_last_sign_of_life(cli, store, capsys):
    # Whole seconds: the history's times are kept to 0.1 ms (docs/http-api.md), so an
    # arbitrary instant can read a millisecond off once stored there.
    started = float(int(time.time()) - 30)
    notification = NewEvent(source="webhook", type="payment", resource_id="88", webhook_id="w88")
    _, event_id = store.receive(notification, now=started)
    attempt = start_attempt(store, event_id, now=started)
    assert store.keep(event_id, attempt, now=started + 12)
    assert cli("events", "show", event_id, "--json") == 0
    [running] = json.loads(capsys.readouterr().out)["history"]
    assert running["end"] is None and running["alive_at"] == iso(started + 12)
    assert cli("events", "show", event_id) == 0
    assert f"-> (running, alive at {iso(started + 12)})" in capsys.readouterr().out

    assert end_attempt(store, event_id, attempt, FailureKind.RETRYABLE, error="503", now=started + 20) == "retry"
    assert cli("events", "show", event_id, "--json") == 0
    [ended] = json.loads(capsys.readouterr().out)["history"]
    assert ended["end"] == iso(started + 20) and ended["alive_at"] == iso(started + 12)


def test_events_stats_show_the_breakers(cli, store, capsys):
    settings = store.calls.settings
    breaker = breaker_for(store, "mercadopago")
    for _ in range(settings.breaker_failures):
        breaker.failed(RetryableError("mercadopago GET /v1/payments/1", "503"))
    assert cli("events", "stats") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith("breakers:  mercadopago OPEN since ") and "next probe" in lines[2]
    assert lines[2].endswith("highlevel closed")
    assert cli("events", "stats", "--json") == 0
    breakers = json.loads(capsys.readouterr().out)["breakers"]
    assert breakers["mercadopago"]["state"] == "open" and breakers["highlevel"]["state"] == "closed"


def test_bad_configuration_is_one_clear_line(monkeypatch, capsys):
    monkeypatch.setenv("JOB_TIMEOUT_SECONDS", "soon")
    assert main(["events", "stats"]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "mp-webhooks: configuration error: JOB_TIMEOUT_SECONDS: expected an integer, got 'soon'"
    )


def test_payments_list_and_show(pipeline, sandbox, make_env, monkeypatch, capsys):
    state, _ = sandbox
    run = pipeline()
    for name, value in make_env().items():
        monkeypatch.setenv(name, value)
    state.put_payment("9001", "approved", amount=42.5)
    event_id = run.notify("9001")
    run.drain()

    assert main(["payments", "list", "--status", "approved"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["id", "status", "amount", "currency", "payer_email", "contact_id",
                                           "date_last_updated"]  # fmt: skip
    assert "9001" in out and "42.5" in out and "BRL" in out
    assert main(["payments", "show", "9001", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["event_ids"] == [event_id] and shown["tags_applied"][0]["status"] == "approved"
    assert main(["payments", "show", "9001"]) == 0
    assert "mp-payment-approved" in capsys.readouterr().out
    assert main(["payments", "show", "nope"]) == 1
    assert capsys.readouterr().out.strip() == "no payment nope"
