"""The reconciler: abandoned attempts, lost enqueues, retention, the missed-payment
sweep, overlapping passes, Kubernetes and Pushgateway."""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import replace

import pytest
from fastapi import FastAPI, Request
from kubernetes import client as kube_client

from services.core.attempts import SILENT_AFTER_SECONDS, FailureKind
from services.core.events import NewEvent
from services.core.redis_client import text
from services.core.store.model import EventQuery, PaymentQuery
from services.reconciler import reconciler as reconciler_module
from services.reconciler.kube import Cluster
from services.reconciler.reconciler import Reconciler
from services.reconciler.runner import run_once
from services.upstream.mercadopago import MercadoPago
from tests.support.fake_kube import create_fake_kube, pod
from tests.support.servers import serve_app
from tests.support.store import end_attempt, notify, start_attempt
from tests.support.waiting import wait_until

WORKER_LABELS = {"app.kubernetes.io/component": "worker", "app.kubernetes.io/instance": "pay"}
SELECTOR = "app.kubernetes.io/component=worker,app.kubernetes.io/instance=pay"


@pytest.fixture
def fake_kube():
    pods, events, requests = [], [], []
    with serve_app(create_fake_kube(pods, events, requests)) as url:
        configuration = kube_client.Configuration(host=url)
        api = kube_client.ApiClient(configuration)
        yield Cluster(api, "payments"), pods, events, requests


def _tag_posts(state):
    return [c for c in state.calls_to("ghl", "POST", "/contacts/") if c.path.endswith("/tags")]


def test_worker_killed_mid_attempt_is_recovered_when_its_pod_is_gone(
    pipeline, sandbox, start_worker, worker_env, fake_kube
):
    state, _ = sandbox
    cluster, pods, events, _ = fake_kube
    state.put_payment("4001", "approved")
    state.latency_seconds = 2.0
    run = pipeline(WORKER_POD_SELECTOR=SELECTOR, POD_NAME="pay-reconcile-29001-abcde")
    pods.append(pod("pay-reconcile-29001-abcde", {"job-name": "pay-reconcile-29001"}, owner_job="pay-reconcile-29001"))
    worker = start_worker(worker_env(POD_NAME="pay-worker-7d9f-x1"))
    pods.append(pod("pay-worker-7d9f-x1", WORKER_LABELS))
    event_id = run.notify("4001")
    wait_until(lambda: run.store.get(event_id).status == "processing", message="the attempt to start")
    worker.signal_group(signal.SIGKILL)  # the whole process group, as the kubelet does
    worker.wait()

    reconciler = Reconciler(run.settings, run.store.redis, cluster=cluster)
    # While the pod still runs, the attempt is left alone (it is younger than the timeout).
    assert reconciler.run_pass().recovered["worker_gone"] == 0
    pods[:] = [p for p in pods if p["metadata"]["name"] != "pay-worker-7d9f-x1"]
    assert run_once(reconciler) == 0

    event = run.store.get(event_id)
    assert event.status == "pending" and event.history[0]["outcome"] == "abandoned"
    assert "worker pay-worker-7d9f-x1" in event.history[0]["error"]
    # The pass told Kubernetes, on its own Job.
    assert events and events[0]["involvedObject"] == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": "pay-reconcile-29001",
        "namespace": "payments",
    }
    assert "1 whose worker pod is gone" in events[0]["message"]

    state.latency_seconds = 0
    run.drain()
    event = run.store.get(event_id)
    assert event.status == "success" and event.attempts == 2
    assert [h["outcome"] for h in event.history] == ["abandoned", "success"]
    assert len(_tag_posts(state)) == 1
    assert next(iter(state.contacts.values()))["tags"] == ["mp-payment-approved"]


def test_worker_killed_holding_the_payment_lock_does_not_hold_off_the_retry(
    pipeline, sandbox, start_worker, worker_env, fake_kube
):
    state, _ = sandbox
    cluster, pods, _, _ = fake_kube
    state.put_payment("4011", "approved")
    state.latency_seconds = 1.0
    run = pipeline(WORKER_POD_SELECTOR=SELECTOR)
    worker = start_worker(worker_env(POD_NAME="pay-worker-7d9f-x2"))
    pods.append(pod("pay-worker-7d9f-x2", WORKER_LABELS))
    event_id = run.notify("4011")
    lock = run.store.keys.payment_lock("4011")
    # Killed in the GoHighLevel search, after the payment step took the lock.
    wait_until(lambda: run.store.redis.exists(lock), message="the payment step to take the lock")
    worker.signal_group(signal.SIGKILL)
    worker.wait()
    pods.clear()

    # A pass once the dead worker's attempt has been silent long enough: its lock is
    # released with it, not at its deadline.
    wait_until(
        lambda: time.time() - run.store.get(event_id).alive_at > SILENT_AFTER_SECONDS,
        message="the dead attempt to fall silent",
    )
    reconciler = Reconciler(run.settings, run.store.redis, cluster=cluster)
    assert reconciler.run_pass().recovered["worker_gone"] == 1
    assert not run.store.redis.exists(lock)
    state.latency_seconds = 0
    run.drain()
    event = run.store.get(event_id)
    assert event.status == "success" and [h["outcome"] for h in event.history] == ["abandoned", "success"]
    assert len(_tag_posts(state)) == 1


def test_a_still_running_attempt_recovered_by_the_reconciler_tags_once(
    pipeline, sandbox, start_worker, worker_env, fake_kube
):
    # A worker the cluster no longer lists (a pod being replaced, finishing its job) is
    # recovered while its tags call is in flight: the retry must not tag the same status
    # again while it runs.
    state, _ = sandbox
    cluster, _pods, _, _ = fake_kube
    contact = state.add_contact("running@example.com")
    state.put_payment("4012", "approved", metadata={"ghl_contact_id": contact})
    state.slow_next("ghl", "POST", f"/contacts/{contact}/tags", 3)
    run = pipeline(WORKER_POD_SELECTOR=SELECTOR, JOB_TIMEOUT_SECONDS="8")
    start_worker(worker_env(POD_NAME="pay-worker-7d9f-x3", JOB_TIMEOUT_SECONDS="8"))
    event_id = run.notify("4012")
    wait_until(lambda: _tag_posts(state), message="the first attempt's tags call")

    assert Reconciler(run.settings, run.store.redis, cluster=cluster).run_pass().recovered["worker_gone"] == 1
    run.drain()
    event = run.store.get(event_id)
    assert event.status == "success" and [h["outcome"] for h in event.history] == ["abandoned", "success"]
    assert event.result["action"] == "already_tagged"
    assert len(_tag_posts(state)) == 1
    assert state.contacts[contact]["tags"] == ["mp-payment-approved"]


def test_outside_a_cluster_abandoned_attempts_are_recovered_by_time(pipeline, sandbox):
    state, _ = sandbox
    state.put_payment("4002", "approved")
    run = pipeline(JOB_TIMEOUT_SECONDS="30")
    _, event_id = run.store.receive(
        NewEvent(source="webhook", type="payment", resource_id="4002", webhook_id="w4002"), now=time.time() - 40
    )
    job_id = run.store.get(event_id).job_id
    # A worker that claimed the event 31 s ago and then vanished.
    attempt = start_attempt(run.store, event_id, job_id, "gone-host.abc", now=time.time() - 31)
    assert attempt == 1
    patient = Reconciler(replace(run.settings, job_timeout_seconds=60), run.store.redis)
    assert patient.run_pass().recovered["abandoned_timeout"] == 0
    summary = Reconciler(run.settings, run.store.redis).run_pass()
    assert summary.recovered["abandoned_timeout"] == 1
    run.drain()
    assert run.store.get(event_id).status == "success"


def test_abandoned_last_attempt_ends_failed(pipeline):
    run = pipeline(RETRY_DELAYS="none", JOB_TIMEOUT_SECONDS="5")
    event_id = run.notify("4003")
    run.store.claim(event_id, "job", "gone.abc")
    Reconciler(run.settings, run.store.redis).run_pass(now=time.time() + 10)
    event = run.store.get(event_id)
    assert event.status == "failed" and event.last_error.startswith("attempt abandoned")


def test_lost_enqueue_is_requeued_once_due(pipeline, sandbox):
    state, _ = sandbox
    state.put_payment("4004", "approved")
    run = pipeline()
    queue_key = run.store.keys.queue
    fresh = run.notify("4004")
    _, lost = run.store.receive(NewEvent(source="ipn", type="payment", resource_id="4004b"), now=time.time() - 60)
    # Both jobs vanish (a Redis failover lost them, say).
    assert run.store.redis.delete(queue_key) == 1
    summary = Reconciler(run.settings, run.store.redis).run_pass()
    # Only the event due for longer than the grace period counts as lost.
    assert summary.recovered["lost_enqueue"] == 1
    assert run.store.redis.lrange(queue_key, 0, -1) == [run.store.get(lost).job_id.encode()]
    assert run.store.get(fresh).status == "pending"
    assert Reconciler(run.settings, run.store.redis).run_pass().recovered["lost_enqueue"] == 0


def test_scheduled_retry_is_not_taken_for_lost(pipeline, sandbox):
    state, _ = sandbox
    state.put_payment("4005", "approved")
    state.fail_next("mp", "GET", "/v1/payments/4005", 500)
    run = pipeline(RETRY_DELAYS="100")
    event_id = run.notify("4005")
    run.work()
    assert run.store.redis.zcard(run.store.keys.scheduler.jobs) == 1
    # Due long ago as far as the reconciler can tell, yet its job waits in the schedule.
    run.store.redis.zadd(run.store.keys.due, {event_id: time.time() - 300})
    summary = Reconciler(run.settings, run.store.redis).run_pass()
    assert summary.recovered["lost_enqueue"] == 0
    assert run.store.get(event_id).status == "pending"


def test_overlapping_passes_second_exits_zero_saying_so(pipeline, capsys):
    run = pipeline()
    reconciler = Reconciler(run.settings, run.store.redis)
    run.store.redis.set(reconciler.keys.reconciler.lock, "someone-else")
    assert reconciler.run_pass() is None
    assert run_once(reconciler) == 0
    assert "another reconcile pass is running" in capsys.readouterr().out
    run.store.redis.delete(reconciler.keys.reconciler.lock)
    # Two passes started together: exactly one runs.
    results = []
    barrier = threading.Barrier(2)

    def go():
        barrier.wait()
        results.append(Reconciler(run.settings, run.store.redis).run_pass())

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) >= 1
    assert run.store.redis.get(reconciler.keys.reconciler.lock) is None


def test_a_pass_that_redis_failed_under_does_not_lock_out_the_next(pipeline):
    # Found by the chaos run: Redis killed during a pass, the pass could not release its
    # lock, and `reconcile --loop` skipped every pass until the lock expired minutes later.
    run = pipeline()
    reconciler = Reconciler(run.settings, run.store.redis)
    lock = reconciler.keys.reconciler.lock
    run.store.redis.set(lock, reconciler.token, ex=300)  # what the failed pass left
    assert reconciler.run_pass() is not None
    assert run.store.redis.get(lock) is None
    # Another process's lock still keeps this one out.
    run.store.redis.set(lock, Reconciler(run.settings, run.store.redis).token, ex=300)
    assert reconciler.run_pass() is None


def _finished(run, resource, received_at, outcome):
    """`outcome`: "success", or the failure kind ("permanent")."""
    event_id = notify(run.store, resource, webhook_id=resource, now=received_at)
    attempt = start_attempt(run.store, event_id, "j", "w.x", now=received_at)
    end_attempt(run.store, event_id, attempt, None if outcome == "success" else FailureKind(outcome), now=received_at)
    return event_id


def test_retention_deletes_only_old_finished_events_with_their_indexes(pipeline):
    run = pipeline(RETENTION_SUCCESS_DAYS="30", RETENTION_FAILED_DAYS="90", RETRY_DELAYS="none")
    now = time.time()
    day = 86400
    old_success = _finished(run, "r1", now - 31 * day, "success")
    young_success = _finished(run, "r2", now - 29 * day, "success")
    old_failed = _finished(run, "r3", now - 91 * day, "permanent")
    young_failed = _finished(run, "r4", now - 60 * day, "permanent")
    _, old_pending = run.store.receive(
        NewEvent(source="webhook", type="payment", resource_id="r5", webhook_id="r5"), now=now - 400 * day
    )
    _, old_processing = run.store.receive(
        NewEvent(source="webhook", type="payment", resource_id="r6", webhook_id="r6"), now=now - 400 * day
    )
    run.store.claim(old_processing, "j", "w.x", now=now)  # received long ago, running now

    summary = Reconciler(run.settings, run.store.redis).run_pass(now=now)
    assert summary.deleted == {"success": 1, "failed": 1}
    assert run.store.get(old_success) is None and run.store.get(old_failed) is None
    for kept in (young_success, young_failed, old_pending, old_processing):
        assert run.store.get(kept) is not None
    all_ids = {e.id for e in run.store.page(EventQuery(limit=500)).items}
    assert old_success not in all_ids and old_failed not in all_ids
    assert run.store.stats().by_status == {"pending": 1, "processing": 1, "success": 1, "failed": 1}
    assert not run.store.redis.exists(run.store.keys.history(old_success))
    assert not run.store.redis.exists(run.store.keys.duplicate_of("payment", "r1"))
    # The marker is gone with its event: the same notification id is new again.
    assert (
        run.store.receive(NewEvent(source="webhook", type="payment", resource_id="r1", webhook_id="r1"))[0]
        == "received"
    )


def test_retention_leaves_no_index_entry_of_a_deleted_event(pipeline):
    run = pipeline(RETENTION_SUCCESS_DAYS="30", RETENTION_FAILED_DAYS="90", RETRY_DELAYS="none")
    now, day, keys = time.time(), 86400, run.store.keys
    _finished(run, "r1", now - 31 * day, "success")
    young = _finished(run, "r2", now - 29 * day, "success")
    _finished(run, "r3", now - 91 * day, "permanent")
    assert run.store.redis.exists(keys.by_resource("r1"), keys.by_resource("r3")) == 2

    Reconciler(run.settings, run.store.redis).run_pass(now=now)
    # The search by resource id is an index of its own: a deleted event leaves it too.
    assert not run.store.redis.exists(keys.by_resource("r1"), keys.by_resource("r3"))
    assert [text(i) for i in run.store.redis.zrange(keys.by_resource("r2"), 0, -1)] == [young]


def test_retention_takes_old_payments_off_the_payments_indexes(pipeline, sandbox):
    state, _ = sandbox
    run = pipeline(RETENTION_SUCCESS_DAYS="30", RETENTION_FAILED_DAYS="90")
    now, day, keys = time.time(), 86400, run.store.keys
    state.put_payment("6001", "approved", updated=now - 91 * day)
    state.put_payment("6002", "rejected", updated=now - 89 * day)
    run.notify("6001")
    run.notify("6002")
    run.drain()
    assert {p.id for p in run.store.payments_page(PaymentQuery()).items} == {"6001", "6002"}

    summary = Reconciler(run.settings, run.store.redis).run_pass(now=now)
    # Listed until the longer event retention has passed since the payment's last update.
    assert summary.unlisted_payments == 1
    assert [p.id for p in run.store.payments_page(PaymentQuery()).items] == ["6002"]
    assert not run.store.payments_page(PaymentQuery(status="approved")).items
    assert run.store.redis.zcard(keys.all_payments) == 1
    assert not run.store.redis.exists(keys.payments_by_status("approved"))
    # Its state stays, found by id, still guarding against an older state.
    kept = run.store.payment("6001")
    assert kept is not None and kept.status == "approved" and kept.tagged
    assert Reconciler(run.settings, run.store.redis).run_pass(now=now).unlisted_payments == 0

    # A newer update lists it again, under its new status.
    state.put_payment("6001", "refunded", updated=now)
    run.notify("6001")
    run.drain()
    assert [p.id for p in run.store.payments_page(PaymentQuery()).items] == ["6001", "6002"]
    assert [p.id for p in run.store.payments_page(PaymentQuery(status="refunded")).items] == ["6001"]


def test_sweep_creates_events_only_for_unprocessed_payment_states(pipeline, sandbox):
    state, _ = sandbox
    run = pipeline(RECONCILE_SWEEP_PAGE_SIZE="2")
    for n in range(5):
        state.put_payment(str(5000 + n), "approved", updated=time.time() - 60 + n)
    run.notify("5000")
    run.notify("5001")
    run.drain()  # 5000 and 5001 were notified and processed; 5002-5004 never arrived
    state.put_payment("5001", "refunded", updated=time.time() - 30)  # changed since: its new state is unprocessed

    reconciler = Reconciler(run.settings, run.store.redis, mercadopago=MercadoPago(run.settings))
    summary = reconciler.run_pass()
    assert summary.recovered["missed_notification"] == 4
    searches = state.calls_to("mp", "GET", "/v1/payments/search")
    # Paged by key: each page starts at (and re-reads) the last update the previous one read.
    assert [c.query["offset"] for c in searches] == ["0"] * 5
    assert searches[0].query["range"] == "date_last_updated" and searches[0].query["limit"] == "2"
    assert searches[0].query["sort"] == "date_last_updated" and searches[0].query["criteria"] == "asc"
    assert searches[1].query["begin_date"] == state.payments["5002"]["date_last_updated"]
    swept = [e for e in run.store.page(EventQuery(limit=50)).items if e.source == "reconcile"]
    assert sorted(e.resource_id for e in swept) == ["5001", "5002", "5003", "5004"]

    # A second pass before processing finds the same states: no duplicates.
    assert reconciler.run_pass().recovered["missed_notification"] == 0
    run.drain()
    assert reconciler.run_pass().recovered["missed_notification"] == 0
    assert all(run.store.get(e.id).status == "success" for e in swept)


def test_sweeps_failing_longer_than_their_window_resume_from_the_last_success(pipeline, sandbox):
    state, _ = sandbox
    run = pipeline(RECONCILE_SWEEP_WINDOW_MINUTES="60")
    reconciler = Reconciler(run.settings, run.store.redis, mercadopago=MercadoPago(run.settings))
    now = time.time()
    assert reconciler.run_pass(now=now - 3 * 3600) is not None  # the last sweep that succeeded
    state.put_payment("5101", "approved", updated=now - 2 * 3600)  # changed, never notified
    state.fail_next("mp", "GET", "/v1/payments/search", 503, times=3)
    for _ in range(3):  # Mercado Pago's search down for hours: every pass fails
        assert run_once(reconciler) == 1

    summary = reconciler.run_pass()
    assert summary.recovered["missed_notification"] == 1
    [swept] = [e for e in run.store.page(EventQuery(limit=50)).items if e.source == "reconcile"]
    assert swept.resource_id == "5101"


def test_a_long_gap_is_swept_in_bounded_passes(pipeline, sandbox):
    state, _ = sandbox
    run = pipeline()
    reconciler = Reconciler(run.settings, run.store.redis, mercadopago=MercadoPago(run.settings))
    now, day = time.time(), 86400
    assert reconciler.run_pass(now=now - 3 * day) is not None
    state.put_payment("5111", "approved", updated=now - 2.5 * day)
    state.put_payment("5112", "approved", updated=now - 1.5 * day)
    state.put_payment("5113", "approved", updated=now - 600)
    found, passes = 0, 0
    while True:
        summary = reconciler.run_pass()
        passes += 1
        found += summary.recovered["missed_notification"]
        if "behind" not in summary.sweep:
            break
        assert passes < 10, summary.sweep
    assert found == 3 and passes == 4  # at most a day of changes per pass


def test_a_pass_out_of_pages_is_resumed_from_its_cursor_by_the_next(pipeline, sandbox, monkeypatch):
    # A budget of 2 pages of 2: 4 payments per pass, far fewer than change within the overlap.
    monkeypatch.setattr(reconciler_module, "SWEEP_MAX_PAGES", 2)
    state, _ = sandbox
    run = pipeline(RECONCILE_SWEEP_PAGE_SIZE="2")
    reconciler = Reconciler(run.settings, run.store.redis, mercadopago=MercadoPago(run.settings))
    now = time.time()
    assert reconciler.run_pass(now=now - 120) is not None  # the last sweep that completed
    ids = [str(5300 + n) for n in range(11)]
    for n, payment_id in enumerate(ids):  # all within the overlap; two share an instant
        state.put_payment(payment_id, "approved", updated=now - 100 + min(n, 9) * 5)
    cursor = run.store.keys.reconciler.sweep_cursor
    found, passes = 0, 0
    while passes == 0 or run.store.redis.get(cursor) is not None:  # each pass out of pages leaves one
        summary = reconciler.run_pass()
        passes += 1
        found += summary.recovered["missed_notification"]
        assert passes < 8, summary.sweep  # without the cursor every pass re-reads the same first four
    assert found == len(ids) and passes > 1
    swept = [e for e in run.store.page(EventQuery(limit=50)).items if e.source == "reconcile"]
    assert sorted(e.resource_id for e in swept) == ids
    # Finished: the next pass starts over from the end less the overlap.
    assert reconciler.run_pass().recovered["missed_notification"] == 0


def test_a_payment_changing_between_two_pages_skips_none(pipeline, sandbox):
    state, _ = sandbox
    run = pipeline(RECONCILE_SWEEP_PAGE_SIZE="2")
    now = time.time()
    for n in range(5):
        state.put_payment(str(5200 + n), "approved", updated=now - 50 + n * 10)

    class ChangingDuringTheSweep(MercadoPago):
        def search_payments(self, **query):
            page = super().search_payments(**query)
            if state.payments["5200"]["status"] != "refunded":
                # Read on the first page, then changed: it leaves the searched range.
                state.put_payment("5200", "refunded", updated=time.time() + 5)
            return page

    reconciler = Reconciler(run.settings, run.store.redis, mercadopago=ChangingDuringTheSweep(run.settings))
    assert reconciler.run_pass().recovered["missed_notification"] == 5
    swept = [e for e in run.store.page(EventQuery(limit=50)).items if e.source == "reconcile"]
    assert sorted(e.resource_id for e in swept) == [str(5200 + n) for n in range(5)]


def test_sweep_failure_fails_the_pass(pipeline, sandbox):
    state, _ = sandbox
    state.fail_next("mp", "GET", "/v1/payments/search", 500)
    run = pipeline()
    reconciler = Reconciler(run.settings, run.store.redis, mercadopago=MercadoPago(run.settings))
    assert run_once(reconciler) == 1


def test_pass_pushes_metrics_to_the_pushgateway(pipeline):
    pushes = []
    gateway = FastAPI()

    @gateway.post("/metrics/job/{job}/prefix/{prefix}")
    async def push(job: str, prefix: str, request: Request):
        pushes.append((job, prefix, (await request.body()).decode()))
        return {}

    with serve_app(gateway) as url:
        run = pipeline(PUSHGATEWAY_URL=url)
        assert run_once(Reconciler(run.settings, run.store.redis)) == 0
    job, prefix, body = pushes[0]
    assert job == "mpwh-reconciler" and prefix == run.settings.key_prefix
    assert "mpwh_reconciler_last_success_timestamp_seconds" in body
    assert 'mpwh_reconciler_recovered_total{reason="lost_enqueue"} 0.0' in body
    # Totals that only grow are pushed as counters: no gauge carries a _total name.
    assert "# TYPE mpwh_reconciler_recovered_total counter" in body
    assert "# TYPE mpwh_reconciler_deleted_total counter" in body
    assert "gauge" not in body.replace("# TYPE mpwh_reconciler_last_success_timestamp_seconds gauge", "")


def test_the_push_carries_the_pods_namespace(pipeline):
    """Scraped with honor_labels, the namespace of the grouping key becomes the series'
    namespace label, which the reconciler alerts group by."""
    pushes = []
    gateway = FastAPI()

    @gateway.post("/metrics/{grouping:path}")
    async def push(grouping: str):
        pushes.append(grouping)
        return {}

    with serve_app(gateway) as url:
        run = pipeline(PUSHGATEWAY_URL=url, POD_NAMESPACE="shop")
        assert run_once(Reconciler(run.settings, run.store.redis)) == 0
    assert pushes == [f"job/mpwh-reconciler/namespace/shop/prefix/{run.settings.key_prefix}"]
