"""What operators rely on: metrics with the contract's names and labels, the OpenAPI
document, start-up refusals, probes, and that the queued job is a real RQ job."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import httpx
import pytest
from fastapi.routing import APIRoute
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue

from services.core.heartbeat import Heartbeat
from services.core.jobguard import ProductJob
from services.core.keys import Keys
from services.core.settings import ConfigError
from services.receiver import events_api, health, webhooks
from services.receiver.app import create_app
from services.worker import tasks
from services.worker.runner import product_worker
from tests.support.servers import free_port, wait_for_port
from tests.support.waiting import wait_until

from .conftest import Receiver, signed_headers, webhook_body

# Metrics.


def _scrape(receiver: Receiver) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = receiver.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _received_deltas(before: dict, after: dict) -> Counter:
    deltas: Counter = Counter()
    for (name, labels), value in after.items():
        if name == "mpwh_webhooks_received_total":
            labels = dict(labels)
            delta = value - before.get((name, tuple(sorted(labels.items()))), 0.0)
            if delta:
                deltas[(labels["type"], labels["outcome"])] = delta
    return deltas


def test_metrics_count_every_outcome_with_bounded_labels(receiver: Receiver, start_receiver):
    dead = start_receiver(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    before = _scrape(receiver)

    body = webhook_body("1")
    assert receiver.post_webhook(body).json()["status"] == "received"
    assert receiver.post_webhook(body).json()["status"] == "already_received"
    assert receiver.post_webhook(webhook_body("2"), secret="wrong").status_code == 401
    assert receiver.post_webhook(webhook_body("3", event_type="something_new")).status_code == 200
    assert receiver.post_ipn("4", topic="merchant_order").status_code == 200
    assert receiver.http.post("/webhooks/mp", content=b"{oops", headers=signed_headers("1")).status_code == 400
    assert receiver.http.post("/webhooks/mp", content=b"x" * 70_000, headers=signed_headers("1")).status_code == 413
    assert dead.post_webhook(webhook_body("5")).status_code == 503
    assert dead.post_ipn("6").status_code == 503

    after = _scrape(receiver)
    assert _received_deltas(before, after) == Counter(
        {
            ("payment", "received"): 1,
            ("payment", "duplicate"): 1,
            ("payment", "invalid_signature"): 1,
            ("other", "received"): 1,  # an unknown type never becomes a label value of its own
            ("merchant_order", "received"): 1,
            ("unknown", "bad_request"): 1,
            ("unknown", "too_large"): 1,
            ("payment", "unavailable"): 2,
        }
    )
    count = ("mpwh_receive_duration_seconds_count", ())
    assert after[count] - before.get(count, 0.0) == 9
    inf_bucket = ("mpwh_receive_duration_seconds_bucket", (("le", "+Inf"),))
    assert after[inf_bucket] - before.get(inf_bucket, 0.0) == 9
    duration_sum = ("mpwh_receive_duration_seconds_sum", ())
    assert after[duration_sum] > before.get(duration_sum, 0.0)
    assert {name for name, _ in after} >= {"mpwh_webhooks_received_total", "mpwh_receive_duration_seconds_bucket"}


def test_metrics_include_the_pipeline_gauges_of_this_install(receiver: Receiver):
    for data_id in ("10", "11", "12"):
        assert receiver.post_webhook(webhook_body(data_id)).status_code == 200
    samples = _scrape(receiver)
    assert samples[("mpwh_events", (("status", "pending"),))] == 3
    assert samples[("mpwh_events", (("status", "processing"),))] == 0
    assert samples[("mpwh_queue_depth", (("queue", receiver.keys.queue_name),))] == 3
    assert ("mpwh_oldest_pending_age_seconds", ()) in samples


# OpenAPI.


def test_openapi_documents_every_endpoint(start_receiver):
    receiver = start_receiver(RECEIVER_DOCS_ENABLED="true")
    response = receiver.http.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    expected = {
        "/webhooks/mp": {"post"},
        "/api/webhook-events": {"get"},
        "/api/webhook-events/stats": {"get"},
        "/api/webhook-events/{event_id}": {"get"},
        "/api/webhook-events/{event_id}/retry": {"post"},
        "/healthz": {"get"},
        "/readyz": {"get"},
        "/metrics": {"get"},
    }
    documented = {path: set(operations) for path, operations in paths.items()}
    for path, methods in expected.items():
        assert methods <= documented.get(path, set()), f"{path} is not documented"
    # And nothing the receiver's routers serve is left out of the document.
    for router in (webhooks.router, events_api.router, health.router):
        for route in router.routes:
            assert isinstance(route, APIRoute)
            assert {m.lower() for m in route.methods} <= documented.get(route.path, set()), (
                f"{route.path} is not documented"
            )
    for path, operations in paths.items():
        for operation in operations.values():
            assert operation.get("summary"), f"{path} has no summary"

    webhook = paths["/webhooks/mp"]["post"]
    assert {"200", "400", "401", "413", "503"} <= set(webhook["responses"])
    for code in ("200", "400", "401", "413", "503"):
        assert webhook["responses"][code]["description"]
    assert "application/json" in webhook["requestBody"]["content"]
    parameters = {(p["in"], p["name"]) for p in webhook["parameters"]}
    assert {
        ("query", "data.id"),
        ("query", "type"),
        ("query", "topic"),
        ("query", "id"),
        ("header", "x-signature"),
        ("header", "x-request-id"),
    } <= parameters

    listing = paths["/api/webhook-events"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"status", "type", "since", "until", "limit", "cursor"}
    for path in ("/api/webhook-events", "/api/webhook-events/stats", "/api/webhook-events/{event_id}"):
        assert {"401", "503"} <= set(paths[path]["get"]["responses"])
    retry = paths["/api/webhook-events/{event_id}/retry"]["post"]
    assert {"202", "401", "404", "409", "503"} <= set(retry["responses"])
    assert "404" in paths["/api/webhook-events/{event_id}"]["get"]["responses"]
    assert "503" in paths["/readyz"]["get"]["responses"]


def test_docs_page_is_served_when_enabled(start_receiver):
    response = start_receiver(RECEIVER_DOCS_ENABLED="true").http.get("/docs")
    assert response.status_code == 200
    assert "openapi.json" in response.text


def test_docs_are_off_by_default(receiver: Receiver):
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert receiver.http.get(path).status_code == 404, path


# Start-up configuration.


@pytest.mark.parametrize("secret", [None, "", " , "])
def test_receiver_refuses_to_start_without_a_secret(make_settings, secret):
    settings = make_settings(MP_WEBHOOK_SECRET=secret)
    with pytest.raises(ConfigError) as refused:
        create_app(settings)
    assert str(refused.value).startswith("MP_WEBHOOK_SECRET")
    assert "MP_ALLOW_UNSIGNED" in str(refused.value)


def _cli_env(make_env, **env) -> dict[str, str]:
    full = {**os.environ, **make_env(**env)}
    for name in ("MP_ALLOW_UNSIGNED", "MP_SIGNATURE_TOLERANCE_SECONDS", "MP_ACCEPT_IPN"):
        if name not in env:
            full.pop(name, None)
    return {k: v for k, v in full.items() if v is not None}


def test_cli_receiver_exits_with_one_line_naming_the_variable(make_env):
    env = _cli_env(make_env)
    env.pop("MP_WEBHOOK_SECRET")
    result = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "receiver", "--host", "127.0.0.1", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mp-webhooks: configuration error: MP_WEBHOOK_SECRET")


def test_cli_receiver_serves_signed_notifications(make_env, redis_client):
    env = _cli_env(make_env)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli.main", "receiver", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, timeout=30)
        body = webhook_body("20001")
        response = httpx.post(f"http://127.0.0.1:{port}/webhooks/mp", json=body, headers=signed_headers("20001"))
        assert response.status_code == 200, response.text
        event_id = response.json()["event_id"]
        prefix = env["MPWH_KEY_PREFIX"]
        assert redis_client.hget(Keys(prefix).event(event_id), "resource_id") == "20001"
        assert redis_client.lrange(Keys(prefix).queue, 0, -1) == [
            redis_client.hget(Keys(prefix).event(event_id), "job_id")
        ]
        assert httpx.post(f"http://127.0.0.1:{port}/webhooks/mp", json=webhook_body("20002")).status_code == 401
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    # One JSON log line per accepted notification, naming its event.
    assert f'"event_id": "{event_id}"' in output


def test_allow_unsigned_accepts_unsigned_notifications(start_receiver):
    receiver = start_receiver(MP_WEBHOOK_SECRET=None, MP_ALLOW_UNSIGNED="true")
    response = receiver.http.post("/webhooks/mp", json=webhook_body("30001"))
    assert response.status_code == 200, response.text
    receiver.assert_stored_and_queued(response.json()["event_id"], resource_id="30001")


def test_a_secret_wins_over_allow_unsigned(start_receiver):
    receiver = start_receiver(MP_ALLOW_UNSIGNED="true")
    response = receiver.http.post("/webhooks/mp", json=webhook_body("30002"))
    assert response.status_code == 401
    receiver.assert_nothing_stored()


def test_health_probes(receiver: Receiver):
    assert receiver.http.get("/healthz").json() == {"status": "ok"}
    ready = receiver.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok"}


# The queued job is RQ's own.


def test_stored_job_loads_as_an_rq_job(receiver: Receiver):
    event_id = receiver.post_webhook(webhook_body("40001")).json()["event_id"]
    job_id = receiver.event(event_id)["job_id"]
    job = receiver.job(job_id)
    assert job.id == job_id
    assert job.func_name == "services.worker.tasks.process_event"
    assert job.args == [event_id]
    assert job.kwargs == {}
    assert job.origin == receiver.keys.queue_name
    assert job.get_status() == "queued"
    assert job.enqueued_at is not None
    assert job.timeout and job.timeout > receiver.settings.job_timeout_seconds
    queue = Queue(receiver.keys.queue_name, connection=receiver.raw)
    assert queue.job_ids == [job_id]
    assert queue.key.encode() in receiver.raw.smembers(receiver.keys.queues)


class _RecordingProcessor:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def process(self, event_id: str, job_id: str) -> dict[str, str]:
        self.calls.append((event_id, job_id))
        return {"event_id": event_id}


def test_an_rq_worker_runs_the_stored_job(receiver: Receiver, monkeypatch):
    """The worker's RQ SimpleWorker, in burst mode on the install's queue, fetches the
    job the receiver's Lua script wrote and calls process_event(event_id) with it."""
    recorder = _RecordingProcessor()
    monkeypatch.setattr(tasks, "_processor", recorder)
    first = receiver.post_webhook(webhook_body("40002")).json()["event_id"]
    second = receiver.post_ipn("40003").json()["event_id"]
    jobs = [receiver.event(first)["job_id"], receiver.event(second)["job_id"]]

    worker = product_worker(receiver.keys.queue_name, receiver.raw, Heartbeat(60))
    worked = worker.work(burst=True)
    queue = worker.queues[0]

    assert worked
    assert recorder.calls == [(first, jobs[0]), (second, jobs[1])]
    assert queue.count == 0
    for event_id, job_id in zip((first, second), jobs, strict=False):
        job = receiver.job(job_id)
        assert job.get_status() == "finished"
        assert job.return_value() == {"event_id": event_id}
    wait_until(lambda: queue.finished_job_registry.count == 2, timeout=5, message="finished registry")


def test_stored_job_hash_is_what_rq_itself_writes(store):
    """The job the store's script writes holds the fields RQ's own Job.create().to_dict()
    gives (empty ones left out), and RQ loads it."""
    import zlib

    from rq.job import Job
    from rq.serializers import JSONSerializer

    from services.core import rqjobs
    from services.core.events import NewEvent

    _, event_id = store.receive(NewEvent(source="webhook", type="payment", resource_id="1", webhook_id="w1"))
    job_id = store.get(event_id).job_id
    stored = {k.decode(): v for k, v in store.redis.hgetall(store.keys.job(job_id)).items()}
    theirs = Job.create(
        rqjobs.PROCESS_EVENT,
        args=(event_id,),
        id=job_id,
        connection=store.redis,
        serializer=JSONSerializer,
        origin=store.keys.queue_name,
        timeout=store.calls.settings.job_timeout_seconds + 30,
        result_ttl=rqjobs.RESULT_TTL_SECONDS,
        failure_ttl=rqjobs.FAILURE_TTL_SECONDS,
        description=f"process event {event_id}",
    ).to_dict()
    assert zlib.decompress(stored.pop("data")) == zlib.decompress(theirs.pop("data"))
    assert stored.pop("status") == b"queued" and stored.pop("enqueued_at") == stored.pop("created_at")
    theirs.pop("created_at"), theirs.pop("status")
    assert stored == {k: str(v).encode() for k, v in theirs.items() if v != ""}
    job = ProductJob.fetch(job_id, connection=store.redis)
    assert job.func_name == rqjobs.PROCESS_EVENT and job.args == [event_id] and job.get_status() == "queued"


def test_the_webhook_path_answers_405_to_anything_but_post(receiver: Receiver):
    # The Ingress routes the path whatever the method (it cannot filter methods).
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        assert receiver.http.request(method, "/webhooks/mp").status_code == 405, method
