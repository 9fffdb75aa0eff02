"""Proof against a real Prometheus (issue #5): Debian's prometheus scrapes a locally
running receiver, worker and scheduler (and, through Debian's Pushgateway, what
`mp-webhooks reconcile` pushes to PUSHGATEWAY_URL) while the test drives successes, retries, permanent
failures, duplicates and rejected requests through the system. Then every dashboard
query and every alert expression is run through Prometheus's HTTP API: each must parse,
and each must show the series it is meant to show (or, for the alerts that watch for
trouble this run does not cause, stay silent); the failure-ratio alert's expression
must cross its threshold once failures are injected. The stack has a redis-server of
its own (and Debian's redis_exporter on it, as the chart's sidecar): the last test stops
that Redis while everything runs, sees MpwhRedisUnreachable, and only it, go off, then
starts Redis again and sees it clear. One dashboard panel is drawn with
matplotlib to tests/artifacts/dashboard-panel.png for a person to look at (and, with
MPWH_UPDATE_SCREENSHOTS=1, to docs/images/dashboard-panel.png, which the README shows).

Grafana's $__rate_interval is replaced by 15s: with a 1s scrape that is ~15 samples
per window; fixed windows ([5m], [10m], [1h]) stay as the dashboards and rules have
them, which works because rate()/increase() extrapolate from the samples present.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread
from redis import Redis

from services.receiver.signature import sign
from services.sandbox.state import SandboxState
from tests.conftest import (
    TEST_API_TOKEN,
    TEST_GHL_LOCATION,
    TEST_GHL_TOKEN,
    TEST_MP_TOKEN,
    TEST_SECRET,
    serve_sandbox,
)
from tests.observability.live_stack import (
    Process,
    Prometheus,
    Pushgateway,
    RedisExporter,
    component_command,
    process_env,
)
from tests.observability.panel import HEIGHT, WIDTH, draw_panel, legend_label
from tests.observability.paths import DOCS_PANEL_IMAGE, PLAIN_RULES, ROOT, tool
from tests.observability.queries import alert_expressions, alert_rules, dashboard_files, dashboard_queries, panels
from tests.observability.rendering import render_rules
from tests.support.servers import PrivateRedis, free_port, wait_for_port

RELEASE = "mp-webhooks"
WORKER_JOB = f"{RELEASE}-worker"
RATE_INTERVAL = "15s"
FAILURE_RATIO_THRESHOLD = 0.05  # MpwhFailureRatioHigh at chart defaults (k8s/prometheus/mp-webhooks.rules.yml)
ARTIFACT = ROOT / "tests" / "artifacts" / "dashboard-panel.png"
PANEL_TO_RENDER = "Notifications received by type and outcome"

# The traffic. Phase 1 (successes only) must already be >= 10 attempts, the failure-ratio
# alert's minimum, so that "below the threshold" is a real judgement, not "too few".
HEALTHY_IDS = [f"71{i:02d}" for i in range(10)]  # known to the sandbox: one attempt, success
RETRIED_IDS = [f"72{i:02d}" for i in range(4)]  # two injected 500s each: retry, retry, success
UNKNOWN_IDS = [f"79{i:02d}" for i in range(8)]  # unknown to Mercado Pago: 404, failed at once
MISSED_IDS = [f"73{i:02d}" for i in range(2)]  # never notified: the reconciler's sweep finds them
STATUSES = ["approved", "pending", "rejected", "in_process"]
DUPLICATES = 3
INVALID_SIGNATURES = 60  # MpwhInvalidSignatures: > 0.1/s over 5m needs > 30 in the window
RETRY_DELAYS = "1,1"

EXPECTED_EVENTS = len(HEALTHY_IDS) + len(RETRIED_IDS) + len(UNKNOWN_IDS) + len(MISSED_IDS)
EXPECTED_OUTCOMES = {
    "success": len(HEALTHY_IDS) + len(RETRIED_IDS) + len(MISSED_IDS),
    "retry": 2 * len(RETRIED_IDS),
    "failed": len(UNKNOWN_IDS),
}

# Alerts that watch for trouble this run does not cause. Each must still parse; after the
# traffic each must be empty (a series here would be a false alarm). Everything else
# must return a series.
EXPECTED_SILENT = {
    # Nothing waits 15 minutes: every event settled within seconds.
    "MpwhBacklogStale": "no event waited 15 minutes",
    # Redis answered throughout, so no 503s (tests/receiver/test_redis_outage.py covers them).
    "MpwhReceiverUnavailable": "the receiver never answered 503",
    "MpwhWebhookAvailabilityBurnFast": "the receiver never answered 503",
    "MpwhWebhookAvailabilityBurnSlow": "the receiver never answered 503",
    # The reconciler pushed a success seconds ago.
    "MpwhReconcilerStale": "the reconciler succeeded seconds ago",
    # absent() is empty once the timestamp exists; the fixture checks it was NOT empty
    # before the reconciler's first push.
    "MpwhReconcilerAbsent": "the reconciler's timestamp exists (checked non-empty before the first push)",
    # Every target is up (test_prometheus_scrapes_every_component checks up == 1).
    "MpwhTargetDown": "every target is up",
    "MpwhComponentDown": "every target is up",
    # Redis answered until the last test, which stops it and sees this alert (only) go off.
    "MpwhRedisUnreachable": "Redis answered (until test_a_real_redis_outage_...)",
    "MpwhRedisMemoryHigh": "Redis uses a few MB of its 64 MB maxmemory",
    "MpwhQueueGrowing": "the queue never grew past 50",
    "MpwhSchedulerLagging": "the scheduler moved retries every 0.5 s",
    "MpwhUpstreamAuthFailing": "no upstream answered 401/403",
    "MpwhGoHighLevelRateLimited": "two 429s among the GoHighLevel calls: below 10%",
    "MpwhUpstreamBreakerOpen": "no breaker opened",
    "MpwhReconcilerRecoveriesRising": "nothing was abandoned or lost",
    # Off by default (so not in the plain rules): rendered with noNotifications.enabled
    # and evaluated too. Notifications did arrive, and a fresh Prometheus has no 6h of
    # history for the rule to judge from.
    "MpwhNoNotifications": "notifications arrived (and there is no 6h history)",
}

# Dashboard queries that may be empty over the run. None: the traffic makes every panel
# show data (the GoHighLevel 429s make the rate-limit panel move, the reconciler's two
# passes give "per hour" increases). Add a query here only with the reason it cannot.
DASHBOARD_MAY_BE_EMPTY: dict[str, str] = {
    "Breaker state": "mpwh_upstream_breaker_open comes with the breaker (branch rel)",
}


# ---------------------------------------------------------------------------- the stack


@dataclass
class LiveStack:
    prometheus: Prometheus
    sandbox: SandboxState
    receiver_url: str
    components: dict[str, Process]
    processes: list[Process]
    pushgateway: Pushgateway
    redis: PrivateRedis
    started_at: float
    healthy_settled_at: float = 0.0
    absent_before_push: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def logs(self) -> str:
        return "\n".join(process.log_tail(25) for process in self.processes)


def _component_env(redis_url: str, sandbox_url: str, pushgateway_url: str) -> dict[str, str]:
    """As tests/conftest.py's make_env (which is function-scoped, and this stack is
    per module), pointed at the sandbox and the Pushgateway."""
    return {
        "REDIS_URL": redis_url,
        "MPWH_KEY_PREFIX": f"t{uuid.uuid4().hex[:10]}",
        "MP_WEBHOOK_SECRET": TEST_SECRET,
        "API_TOKEN": TEST_API_TOKEN,
        "MP_ACCESS_TOKEN": TEST_MP_TOKEN,
        "GHL_API_TOKEN": TEST_GHL_TOKEN,
        "GHL_LOCATION_ID": TEST_GHL_LOCATION,
        "MP_API_BASE_URL": f"{sandbox_url}/mp",
        "GHL_API_BASE_URL": f"{sandbox_url}/ghl",
        "RETRY_DELAYS": RETRY_DELAYS,
        "SCHEDULER_INTERVAL_SECONDS": "0.5",
        "PUSHGATEWAY_URL": pushgateway_url,
    }


def _wait(predicate, timeout: float, what: str, stack: LiveStack | None = None, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = predicate()
        except (httpx.HTTPError, AssertionError) as error:
            last = error
        if last and not isinstance(last, Exception):
            return last
        if time.monotonic() > deadline:
            logs = stack.logs() if stack else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})\n{logs}")
        time.sleep(interval)


class Traffic:
    """Mercado Pago's side: signed notifications to the receiver."""

    def __init__(self, receiver_url: str) -> None:
        self.client = httpx.Client(base_url=receiver_url, timeout=10)
        self.sent: dict[str, int] = {}

    def notify(self, payment_id: str, notification_id: int, *, valid: bool = True) -> httpx.Response:
        request_id = f"req-{notification_id}-{uuid.uuid4().hex[:6]}"
        ts = str(int(time.time()))
        signature = sign(TEST_SECRET, payment_id, request_id, ts) if valid else f"ts={ts},v1={'0' * 64}"
        body = {
            "id": notification_id,
            "type": "payment",
            "action": "payment.updated",
            "live_mode": False,
            "date_created": "2024-05-01T12:00:00Z",
            "user_id": 1234,
            "data": {"id": payment_id},
        }
        return self.client.post(
            f"/webhooks/mp?data.id={payment_id}&type=payment",
            content=json.dumps(body),
            headers={"x-signature": signature, "x-request-id": request_id, "content-type": "application/json"},
        )

    def expect(self, response: httpx.Response, code: int, outcome: str) -> None:
        assert response.status_code == code, f"{outcome}: {response.status_code} {response.text}"
        self.sent[outcome] = self.sent.get(outcome, 0) + 1

    def stats(self) -> dict[str, Any]:
        answer = self.client.get("/api/webhook-events/stats", headers={"authorization": f"Bearer {TEST_API_TOKEN}"})
        answer.raise_for_status()
        return answer.json()

    def settled(self, events: int) -> bool:
        by_status = self.stats()["by_status"]
        return (
            sum(by_status.values()) == events
            and by_status.get("pending", 0) == 0
            and by_status.get("processing", 0) == 0
        )


def _reconcile(env: dict[str, str], log_dir: Path, name: str) -> None:
    reconciler = Process(name, component_command("reconcile"), process_env(env), log_dir)
    try:
        code = reconciler.process.wait(timeout=60)
    finally:
        reconciler.stop()
    assert code == 0, f"mp-webhooks reconcile exited {code}\n{reconciler.log_tail()}"


def _prometheus_sees(prometheus: Prometheus, expr: str, expected: float) -> bool:
    value = prometheus.scalar_sum(expr)
    return value is not None and abs(value - expected) < 1e-9


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    tool("prometheus")  # fails (never skips) with how to install it
    workdir = tmp_path_factory.mktemp("live-prometheus")
    with ExitStack() as cleanup:
        state, sandbox_url = cleanup.enter_context(serve_sandbox())
        # A redis-server of the stack's own (never the shared one): the last test stops it.
        redis_server = PrivateRedis()
        cleanup.callback(redis_server.cleanup)
        redis_server.start()
        # A maxmemory, as the bundled Redis has, so the memory panel and alert have a ratio.
        with Redis.from_url(redis_server.url) as client:
            client.config_set("maxmemory", "64mb")
        exporter = RedisExporter(workdir, free_port(), redis_server.url)
        cleanup.callback(exporter.stop)
        pushgateway = Pushgateway(workdir, free_port())
        cleanup.callback(pushgateway.stop)
        env = _component_env(redis_server.url, sandbox_url, pushgateway.url)

        ports = {"receiver": free_port(), "worker": free_port(), "scheduler": free_port()}
        components = [
            Process(
                "receiver",
                component_command("receiver", "--host", "127.0.0.1", "--port", str(ports["receiver"])),
                process_env(env),
                workdir,
            ),
            Process(
                "worker",
                component_command("worker"),
                process_env({**env, "METRICS_PORT": str(ports["worker"])}),
                workdir,
            ),
            Process(
                "scheduler",
                component_command("scheduler"),
                process_env({**env, "METRICS_PORT": str(ports["scheduler"])}),
                workdir,
            ),
        ]
        for process in components:
            cleanup.callback(process.stop)

        jobs: dict[str, dict[str, Any]] = {
            f"{RELEASE}-{component}": {"target": f"127.0.0.1:{port}", "labels": {"component": component}}
            for component, port in ports.items()
        }
        # The reconciler's metrics reach Prometheus through a Pushgateway scraped with
        # honor_labels: true, so the pushed job="mpwh-reconciler" survives.
        jobs["pushgateway"] = {"target": f"127.0.0.1:{pushgateway.port}", "honor_labels": True}
        # The chart's redis_exporter sidecar scrapes as job <fullname>-redis.
        jobs[f"{RELEASE}-redis"] = {"target": f"127.0.0.1:{exporter.port}", "labels": {"component": "redis"}}
        prometheus = Prometheus(workdir, free_port(), jobs, [PLAIN_RULES])
        cleanup.callback(prometheus.stop)
        stack = LiveStack(
            prometheus,
            state,
            f"http://127.0.0.1:{ports['receiver']}",
            {process.name: process for process in components},
            [*components, exporter.process],
            pushgateway,
            redis_server,
            time.time(),
        )

        for component, port in ports.items():
            try:
                wait_for_port(port, timeout=30)
            except TimeoutError as error:
                raise AssertionError(f"{component} did not start: {error}\n{stack.logs()}") from None
        prometheus.start()
        stack.processes.append(prometheus.process)
        stack.started_at = prometheus.started_at
        _wait(
            lambda: (
                all(t["health"] == "up" for t in prometheus.api("targets")["data"]["activeTargets"])
                and len(prometheus.api("targets")["data"]["activeTargets"]) == len(jobs)
            ),
            30,
            "every target up",
            stack,
        )

        # Before the reconciler ever pushed, "never reported a success" must show.
        absent_expr = dict(alert_expressions())["MpwhReconcilerAbsent"]
        stack.absent_before_push = prometheus.vector(absent_expr)
        _reconcile(env, workdir, "reconcile-1")

        traffic = Traffic(stack.receiver_url)
        cleanup.callback(traffic.client.close)
        for index, payment_id in enumerate(HEALTHY_IDS):
            state.put_payment(payment_id, STATUSES[index % len(STATUSES)], email=f"buyer{index}@example.com")
        # Phase 1: successes only. GoHighLevel asks to slow down once: waited out inside
        # the attempt (still a success), counted as a rate-limit wait and as a 429.
        state.fail_next("ghl", "POST", "/contacts/", 429, headers={"X-RateLimit-Interval-Milliseconds": "300"})
        for index, payment_id in enumerate(HEALTHY_IDS):
            traffic.expect(traffic.notify(payment_id, 500_000 + index), 200, "received")
        _wait(lambda: traffic.settled(len(HEALTHY_IDS)), 30, "the healthy events to settle", stack)
        _wait(
            lambda: (
                _prometheus_sees(
                    prometheus, f'sum(mpwh_events_processed_total{{job="{WORKER_JOB}"}})', len(HEALTHY_IDS)
                )
                and _prometheus_sees(
                    prometheus, 'sum(mpwh_upstream_requests_total{upstream="highlevel", code="429"})', 1
                )
            ),
            20,
            "Prometheus to scrape the healthy attempts",
            stack,
        )
        time.sleep(2)  # a couple of evaluations with only successes in the window
        stack.healthy_settled_at = time.time()

        # Phase 2: retries, permanent failures, duplicates and rejected requests.
        for payment_id in RETRIED_IDS:
            state.put_payment(payment_id, "approved", email=f"retried{payment_id}@example.com")
            state.fail_next("mp", "GET", f"/v1/payments/{payment_id}", 500, times=2)
        # A labelled counter's series is born at its first increment, and rate() cannot
        # see the increment that created it (see the report on mpwh_upstream_requests_total,
        # whose codes are not pre-created). A worker that has been running for a while
        # has those series already; here each new code comes in two bursts, the second
        # after Prometheus scraped the first, so rate() shows it.
        state.fail_next("ghl", "POST", "/contacts/", 429, headers={"X-RateLimit-Interval-Milliseconds": "300"})
        for index, payment_id in enumerate(RETRIED_IDS):
            traffic.expect(traffic.notify(payment_id, 600_000 + index), 200, "received")
        first_unknown = UNKNOWN_IDS[: len(UNKNOWN_IDS) // 2]
        for index, payment_id in enumerate(first_unknown):
            traffic.expect(traffic.notify(payment_id, 700_000 + index), 200, "received")
        _wait(
            lambda: _prometheus_sees(
                prometheus, 'sum(mpwh_upstream_requests_total{upstream="mercadopago", code="404"})', len(first_unknown)
            ),
            20,
            "Prometheus to scrape the first 404s",
            stack,
        )
        for index, payment_id in enumerate(UNKNOWN_IDS[len(first_unknown) :], start=len(first_unknown)):
            traffic.expect(traffic.notify(payment_id, 700_000 + index), 200, "received")
        for index, payment_id in enumerate(HEALTHY_IDS[:DUPLICATES]):
            answer = traffic.notify(payment_id, 500_000 + index)
            traffic.expect(answer, 200, "duplicate")
            assert answer.json()["status"] == "already_received"
        for index in range(INVALID_SIGNATURES):
            traffic.expect(traffic.notify(HEALTHY_IDS[0], 800_000 + index, valid=False), 401, "invalid_signature")
        traffic.expect(
            traffic.client.post("/webhooks/mp", content=b"{not json", headers={"content-type": "application/json"}),
            400,
            "bad_request",
        )
        traffic.expect(traffic.client.post("/webhooks/mp", content=b"x" * 70_000), 413, "too_large")
        _wait(
            lambda: traffic.settled(len(HEALTHY_IDS) + len(RETRIED_IDS) + len(UNKNOWN_IDS)),
            40,
            "retries and failures to settle",
            stack,
        )

        # Payments whose notification never arrived: the reconciler's second pass finds
        # them in Mercado Pago's search and creates their events.
        for payment_id in MISSED_IDS:
            state.put_payment(payment_id, "approved", email=f"missed{payment_id}@example.com")
        _reconcile(env, workdir, "reconcile-2")
        _wait(lambda: traffic.settled(EXPECTED_EVENTS), 30, "the reconciled events to settle", stack)
        stack.notes["stats"] = traffic.stats()
        stack.notes["sent"] = dict(traffic.sent)

        # Prometheus has scraped the final counts (and the second push).
        total = sum(EXPECTED_OUTCOMES.values())
        _wait(
            lambda: (
                _prometheus_sees(prometheus, f'sum(mpwh_events_processed_total{{job="{WORKER_JOB}"}})', total)
                and _prometheus_sees(
                    prometheus,
                    'sum(mpwh_reconciler_recovered_total{job="mpwh-reconciler", reason="missed_notification"})',
                    len(MISSED_IDS),
                )
            ),
            20,
            "Prometheus to scrape the final counts",
            stack,
        )
        time.sleep(3)  # a few more scrapes and rule evaluations after the last change
        yield stack


# ------------------------------------------------------------------------------ helpers


def _labels(series: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in series["metric"].items() if k != "__name__"}


def _finite_values(series: dict[str, Any]) -> list[float]:
    raw = series.get("values") or ([series["value"]] if "value" in series else [])
    return [float(v) for _, v in raw if math.isfinite(float(v))]


def _peak(result: list[dict[str, Any]], **labels: str) -> float | None:
    """The largest finite value of the series carrying these labels, None if none."""
    values = [v for s in result if all(_labels(s).get(k) == v for k, v in labels.items()) for v in _finite_values(s)]
    return max(values) if values else None


def _range(live: LiveStack, expr: str) -> dict[str, Any]:
    return live.prometheus.query_range(expr, live.started_at, time.time(), 1.0)


def _describe(result: list[dict[str, Any]]) -> str:
    return (
        "; ".join(f"{_labels(s)} peak={max(_finite_values(s), default=float('nan')):.3g}" for s in result) or "(empty)"
    )


# -------------------------------------------------------------------------------- tests


def test_prometheus_scrapes_every_component_and_loads_the_rules(live: LiveStack) -> None:
    targets = live.prometheus.api("targets")["data"]["activeTargets"]
    jobs = {t["labels"]["job"]: t for t in targets}
    for component in ("receiver", "worker", "scheduler"):
        target = jobs[f"{RELEASE}-{component}"]
        assert target["health"] == "up", target
        assert target["labels"]["component"] == component
    up = {s["metric"]["job"]: float(s["value"][1]) for s in live.prometheus.vector('up{job=~"mp-webhooks-.*"}')}
    assert up == {f"{RELEASE}-{c}": 1.0 for c in ("receiver", "worker", "scheduler", "redis")}
    assert live.prometheus.scalar_sum(f'redis_up{{job="{RELEASE}-redis"}}') == 1.0
    # The pushed reconciler series keep the pushed job (honor_labels) and the grouping key.
    pushed = live.prometheus.vector('mpwh_reconciler_last_success_timestamp_seconds{job="mpwh-reconciler"}')
    assert len(pushed) == 1 and pushed[0]["metric"]["prefix"].startswith("t"), pushed
    assert time.time() - float(pushed[0]["value"][1]) < 120

    groups = live.prometheus.api("rules")["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    unhealthy = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert not unhealthy, f"rules Prometheus could not evaluate: {unhealthy}"
    assert sorted(r["name"] for r in rules if r["type"] == "alerting") == sorted(
        name for name, _ in alert_expressions()
    )


def test_every_dashboard_query_parses_and_shows_its_series(live: LiveStack) -> None:
    queries = dashboard_queries(release=RELEASE, namespace=".*", rate_interval=RATE_INTERVAL)
    assert len(queries) >= 20, queries
    problems: list[str] = []
    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    seen: dict[str, int] = {}
    for title, expr in queries:
        index = seen[title] = seen.get(title, -1) + 1
        instant = live.prometheus.query(expr)
        if instant.get("status") != "success":
            problems.append(f"{title!r} does not run: {instant.get('errorType')}: {instant.get('error')}\n  {expr}")
            continue
        answer = _range(live, expr)
        if answer.get("status") != "success":
            problems.append(f"{title!r} (range) does not run: {answer.get('error')}\n  {expr}")
            continue
        result = answer["data"]["result"]
        results[(title, index)] = result
        if title in DASHBOARD_MAY_BE_EMPTY:
            continue
        if not any(_finite_values(s) for s in result):
            problems.append(f"{title!r} shows no data over the run\n  {expr}\n  result: {_describe(result)}")
    assert not problems, "\n".join(problems)

    # And the series each panel is there for, given the traffic this run drove.
    def peak(title: str, index: int = 0, **labels: str) -> float:
        value = _peak(results[(title, index)], **labels)
        assert value is not None, f"{title!r} [{index}] has no series {labels}: {_describe(results[(title, index)])}"
        return value

    for outcome in ("received", "duplicate", "invalid_signature"):
        assert peak("Notifications received by type and outcome", type="payment", outcome=outcome) > 0, outcome
    for outcome in ("bad_request", "too_large"):
        assert peak("Notifications received by type and outcome", type="unknown", outcome=outcome) > 0, outcome
    for outcome in ("success", "retry", "failed"):
        assert peak("Processed outcomes", outcome=outcome) > 0, outcome
    for upstream, code in (
        ("mercadopago", "200"),
        ("mercadopago", "500"),
        ("mercadopago", "404"),
        ("highlevel", "200"),
        ("highlevel", "429"),
    ):
        assert peak("Upstream requests by code", upstream=upstream, code=code) > 0, (upstream, code)
    assert peak("Upstream error rate", upstream="mercadopago") > 0
    assert peak("Retries") > 0
    assert peak("Processing duration p50 / p99 by type", 0, type="payment") > 0
    assert peak("Ack latency p50 / p99", 1) > 0
    assert peak("GoHighLevel rate-limit waits", 0) > 0 and peak("GoHighLevel rate-limit waits", 1) > 0
    assert peak("Reconciler recoveries by reason (per hour)", reason="missed_notification") >= 1
    assert peak("Notifications accepted / min") > 0
    failure_ratio = peak("Failure ratio (alert at 5%)")
    assert failure_ratio > FAILURE_RATIO_THRESHOLD

    # Gauges end where the system ended.
    final = {_labels(s)["status"]: float(s["values"][-1][1]) for s in results[("Events by status", 0)]}
    assert final["success"] == EXPECTED_OUTCOMES["success"] and final["failed"] == EXPECTED_OUTCOMES["failed"], final
    assert final["pending"] == 0 and final["processing"] == 0, final
    assert float(results[("Failed events (stored)", 0)][0]["values"][-1][1]) == EXPECTED_OUTCOMES["failed"]
    assert float(results[("Pending events", 0)][0]["values"][-1][1]) == 0
    since = float(results[("Since last reconciler success (alert at 10m)", 0)][0]["values"][-1][1])
    assert 0 <= since < 120, since
    live.notes["failure_ratio_panel"] = failure_ratio


def test_every_alert_expression_parses_and_fires_only_where_meant(live: LiveStack, tmp_path: Path) -> None:
    expressions = alert_expressions()
    # The optional rule, rendered on, so its expression is run too.
    optional = render_rules(tmp_path, {"prometheusRule": {"rules": {"noNotifications": {"enabled": True}}}})
    expressions += [(name, expr) for name, expr in alert_expressions(optional) if name == "MpwhNoNotifications"]
    assert {name for name, _ in expressions} >= set(EXPECTED_SILENT), "an allow-listed alert no longer exists"

    problems: list[str] = []
    values: dict[str, list[dict[str, Any]]] = {}
    for name, expr in expressions:
        answer = live.prometheus.query(expr)
        if answer.get("status") != "success":
            problems.append(f"{name} does not run: {answer.get('errorType')}: {answer.get('error')}")
            continue
        result = values[name] = answer["data"]["result"]
        if name in EXPECTED_SILENT and result:
            problems.append(f"{name} should be silent ({EXPECTED_SILENT[name]}) but returns {result}")
        elif name not in EXPECTED_SILENT and not result:
            problems.append(f"{name} returns nothing after the traffic meant to trigger it\n  {expr}")
    assert not problems, "\n".join(problems)

    # Before the reconciler's first push, the "never reported" alert did show.
    assert live.absent_before_push and float(live.absent_before_push[0]["value"][1]) >= 1.0
    # Its value is what its description prints.
    (failed,) = values["MpwhEventsFailed"]
    assert float(failed["value"][1]) >= len(UNKNOWN_IDS), failed
    (invalid,) = values["MpwhInvalidSignatures"]
    assert float(invalid["value"][1]) > 0.1, invalid

    # Prometheus's own rule evaluation agrees: pending while `for` runs, firing without one.
    wanted = {"MpwhFailureRatioHigh": "pending", "MpwhEventsFailed": "firing", "MpwhInvalidSignatures": "pending"}

    def states() -> dict[str, str] | None:
        found = {a["labels"]["alertname"]: a["state"] for a in live.prometheus.api("alerts")["data"]["alerts"]}
        return found if all(found.get(name) == state for name, state in wanted.items()) else None

    found = _wait(states, 15, f"alert states {wanted}", live)
    assert not set(found) & set(EXPECTED_SILENT), found
    live.notes["alert_states"] = found


def test_failure_ratio_alert_crosses_its_threshold_when_failures_are_injected(live: LiveStack) -> None:
    expr = dict(alert_expressions())["MpwhFailureRatioHigh"]
    ratio_panel = dict(dashboard_queries(release=RELEASE, namespace=".*", rate_interval=RATE_INTERVAL))[
        "Failure ratio (alert at 5%)"
    ]

    # Phase 1 (>= 10 successful attempts, no failure): ratio 0, the alert's expression is empty.
    before = live.prometheus.query(ratio_panel, at=live.healthy_settled_at)["data"]["result"]
    assert before and float(before[0]["value"][1]) == 0.0, before
    attempts = live.prometheus.query(
        f'sum(increase(mpwh_events_processed_total{{job="{WORKER_JOB}"}}[10m]))', at=live.healthy_settled_at
    )["data"]["result"]
    assert float(attempts[0]["value"][1]) >= 10, attempts  # so the `and` did not hide anything
    assert live.prometheus.query(expr, at=live.healthy_settled_at)["data"]["result"] == []

    # After the injected retries and failures: above the threshold.
    after = live.prometheus.vector(expr)
    assert len(after) == 1, after
    value = float(after[0]["value"][1])
    expected = (EXPECTED_OUTCOMES["retry"] + EXPECTED_OUTCOMES["failed"]) / sum(EXPECTED_OUTCOMES.values())
    assert value > FAILURE_RATIO_THRESHOLD, value
    # rate() over a window longer than the data extrapolates both counters alike: the
    # ratio is the share of failed attempts, give or take the scrape timing.
    assert abs(value - expected) < 0.1, (value, expected)
    live.notes["failure_ratio_alert"] = value

    # The crossing as Prometheus evaluated it over time: empty at first, then above.
    series = _range(live, expr)["data"]["result"]
    assert len(series) == 1
    first_above = float(series[0]["values"][0][0])
    assert live.healthy_settled_at < first_above, (live.healthy_settled_at, first_above)
    assert all(float(v) > FAILURE_RATIO_THRESHOLD for _, v in series[0]["values"])

    alerts = {a["labels"]["alertname"]: a for a in live.prometheus.api("alerts")["data"]["alerts"]}
    assert alerts["MpwhFailureRatioHigh"]["state"] in ("pending", "firing"), alerts
    assert float(alerts["MpwhFailureRatioHigh"]["value"]) > FAILURE_RATIO_THRESHOLD
    print(
        f"\nMpwhFailureRatioHigh: {value:.3f} "
        f"(threshold {FAILURE_RATIO_THRESHOLD}, share of failed attempts {expected:.3f})"
    )


def test_a_dashboard_panel_is_drawn_for_a_person_to_look_at(live: LiveStack) -> None:
    targets = [
        target
        for path in dashboard_files()
        for panel in panels(json.loads(path.read_text()))
        if panel.get("title") == PANEL_TO_RENDER
        for target in panel.get("targets", [])
    ]
    (target,) = targets
    (expr,) = [
        e
        for t, e in dashboard_queries(release=RELEASE, namespace=".*", rate_interval=RATE_INTERVAL)
        if t == PANEL_TO_RENDER
    ]
    answer = _range(live, expr)
    assert answer["status"] == "success", answer
    series = [
        (legend_label(target.get("legendFormat", ""), _labels(s)), [(float(t), float(v)) for t, v in s["values"]])
        for s in sorted(answer["data"]["result"], key=lambda s: sorted(_labels(s).items()))
    ]
    assert any(v > 0 for _, values in series for _, v in values), series
    ARTIFACT.unlink(missing_ok=True)
    draw_panel(
        ARTIFACT,
        PANEL_TO_RENDER,
        series,
        y_unit="req/s",
        subtitle=f"rate over {RATE_INTERVAL}, from a live Prometheus scraping receiver, worker and scheduler",
    )
    image = imread(ARTIFACT)
    assert image.shape == (HEIGHT, WIDTH, 4), image.shape
    # The series' lines are in the plot, left of the legend (which shows each colour too).
    plot = image[:, : WIDTH * 3 // 4, :3]
    line_colors = [to_rgb(f"C{index}") for index in range(len(series))]
    drawn = sum(int((abs(plot - color).max(axis=2) < 0.02).sum()) for color in line_colors)
    assert drawn > 500, f"only {drawn} pixels in the series' colours"
    if os.environ.get("MPWH_UPDATE_SCREENSHOTS") == "1":
        DOCS_PANEL_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ARTIFACT, DOCS_PANEL_IMAGE)
        print(f"\nscreenshot updated: {DOCS_PANEL_IMAGE}")
    print(f"\npanel drawn: {ARTIFACT}")


# ------------------------------------------------- last: a real Redis outage (stops Redis)

REDIS_ALERT = "MpwhRedisUnreachable"
OUTAGE_SETTLE_SECONDS = 5  # a few evaluations after the components noticed
# A component that exits with Redis (the scheduler) can be scraped down a scrape before
# the exporter or the receivers show Redis gone: MpwhComponentDown is then pending for an
# evaluation or two, which its `for: 5m` never turns into a page. Longer, or firing, is a
# fault of the rules (at this stack's 1 s scrape and evaluation).
SCRAPE_RACE_SECONDS = 3.0


def _firing_or_pending(live: LiveStack, severity: str) -> dict[str, str]:
    alerts = live.prometheus.api("alerts")["data"]["alerts"]
    return {a["labels"]["alertname"]: a["state"] for a in alerts if a["labels"].get("severity") == severity}


def test_a_real_redis_outage_pages_for_redis_alone_and_clears_when_it_is_back(live: LiveStack) -> None:
    """Runs last: stops the stack's own redis-server. The rule's `for` (2m) is longer than
    this test waits, so it judges the expression (Prometheus evaluates every second) and
    the alert's pending state; the promtool case times the firing at the 30 s scrape."""
    prometheus = live.prometheus
    critical = [rule for rule in alert_rules() if rule["labels"]["severity"] == "critical"]
    redis_expr = next(rule["expr"] for rule in critical if rule["alert"] == REDIS_ALERT)
    others = {rule["alert"]: rule["expr"] for rule in critical if rule["alert"] != REDIS_ALERT}
    assert others, "no other critical alert to compare with"
    assert prometheus.vector(redis_expr) == [], "Redis was reachable before the outage"
    # What the earlier traffic already lit (the injected failures burn the SLO's budget):
    # the outage must add nothing to it but the Redis alert.
    before = {name for name, expr in others.items() if prometheus.vector(expr)}
    assert before <= {"MpwhErrorBudgetBurnFast"}, before

    live.redis.stop()
    stopped_at = time.time()
    # Receivers stay up (unready) and leave the pipeline gauges out; redis_exporter
    # reports redis_up 0; the alert goes pending.
    _wait(lambda: prometheus.vector(redis_expr), 30, f"{REDIS_ALERT}'s expression", live)
    _wait(lambda: _firing_or_pending(live, "critical").get(REDIS_ALERT), 15, f"{REDIS_ALERT} pending", live)
    detected = time.time() - stopped_at
    # The receivers' missing gauges may show it a scrape before the exporter does.
    redis_up = f'redis_up{{job="{RELEASE}-redis"}}'
    _wait(lambda: prometheus.scalar_sum(redis_up) == 0.0, 10, "redis_exporter's redis_up 0", live)
    time.sleep(OUTAGE_SETTLE_SECONDS)

    # The components that crash on a lost Redis (rq's worker and scheduler exit, as in the
    # cluster's crash loop) are gone by now; no critical alert names them or anything else.
    exited = sorted(name for name, process in live.components.items() if not process.alive())
    lit = {name: result for name, expr in others.items() if name not in before if (result := prometheus.vector(expr))}
    assert not lit, f"critical alerts other than {REDIS_ALERT}: {lit} (exited: {exited})"
    assert set(_firing_or_pending(live, "critical")) - before == {REDIS_ALERT}, prometheus.api("alerts")
    # Since Redis went, none fired, and none was pending beyond the scrape race (ALERTS
    # holds pending and firing states).
    known = "|".join([REDIS_ALERT, *sorted(before)])
    others_alerts = f'ALERTS{{severity="critical", alertname!~"{known}"}}'
    for series in prometheus.query_range(others_alerts, stopped_at, time.time())["data"]["result"]:
        seen = [float(at) for at, _ in series["values"]]
        assert series["metric"]["alertstate"] == "pending", series
        assert seen[-1] - seen[0] <= SCRAPE_RACE_SECONDS, series
    print(f"\n{REDIS_ALERT} pending {detected:.1f} s after Redis stopped; exited meanwhile: {exited}")

    # Redis back (same port, empty: no persistence here) and what crashed restarted.
    live.redis.start()
    for name in exited:
        live.components[name].restart()
    _wait(lambda: not prometheus.vector(redis_expr), 60, f"{REDIS_ALERT}'s expression to clear", live)
    _wait(lambda: REDIS_ALERT not in _firing_or_pending(live, "critical"), 15, f"{REDIS_ALERT} to clear", live)
    _wait(lambda: prometheus.scalar_sum(redis_up) == 1.0, 10, "redis_exporter's redis_up 1", live)
    assert all(process.alive() for process in live.components.values()), live.logs()
