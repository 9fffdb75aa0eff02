"""Only the product's job runs: jobs written straight into the queue (or the schedule) by
whoever can reach Redis are refused without calling anything, filed in RQ's failed
registry with the reason, counted and logged; the product's next event goes through."""

from __future__ import annotations

import json
import logging
import os
import pickle
import zlib
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from rq.job import Job
from rq.registry import FailedJobRegistry

from services.core.events import EventStatus
from services.core.jobguard import ProductJob, refusal
from services.core.rqjobs import PROCESS_EVENT


class _CreatesOnLoad:
    """A pickle that creates `path` the moment it is loaded."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (str(self.path),))


def _write_job(redis, queue_name: str, job_id: str, data: bytes) -> None:
    """A job hash as any RQ client would write it, `data` as given, pushed on the queue."""
    job = Job.create(os.getcwd, id=job_id, connection=redis, origin=queue_name)
    job.data = data
    job.save()
    redis.rpush(f"rq:queue:{queue_name}", job_id)


def _json_call(func: str, *args: object) -> bytes:
    return json.dumps([func, None, list(args), {}]).encode()


def _refused() -> float:
    return REGISTRY.get_sample_value("mpwh_jobs_refused_total") or 0.0


@pytest.fixture
def foreign_jobs(tmp_path: Path):
    markers = {name: tmp_path / name for name in ("system", "mkdir", "pickled-call", "pickle-load")}
    jobs = {
        "system": _json_call("os.system", f"touch {markers['system']}"),
        "mkdir": _json_call("os.mkdir", str(markers["mkdir"])),
        "pickled-call": pickle.dumps((os.mkdir, None, (str(markers["pickled-call"]),), {})),
        "pickle-load": pickle.dumps((_CreatesOnLoad(markers["pickle-load"]), None, (), {})),
    }
    return jobs, markers


def test_the_worker_refuses_every_foreign_job_and_runs_the_next_product_event(pipeline, sandbox, foreign_jobs, caplog):
    jobs, markers = foreign_jobs
    work = pipeline()
    state, _ = sandbox
    state.put_payment("88001", "approved", email="payer@example.com")
    redis = work.store.redis
    queue_name = work.store.keys.queue_name
    for name, data in jobs.items():
        _write_job(redis, queue_name, f"foreign-{name}", data)
    event_id = work.notify("88001")
    before = _refused()

    with caplog.at_level(logging.ERROR, logger="mpwh.jobguard"):
        work.work()

    assert not [path for path in markers.values() if path.exists()], "a foreign job ran"
    assert _refused() - before == len(jobs)
    failed = FailedJobRegistry(queue_name, connection=redis, job_class=ProductJob)
    assert set(failed.get_job_ids()) == {f"foreign-{name}" for name in jobs}
    for name in jobs:
        job = ProductJob.fetch(f"foreign-{name}", connection=redis)
        assert job.get_status() == "failed"
        assert "JobRefusedError" in (job.latest_result().exc_string or "")
    logged = [r.getMessage() for r in caplog.records if r.name == "mpwh.jobguard"]
    assert len(logged) == len(jobs) and all(line.startswith("refused job foreign-") for line in logged)
    assert any("'os.system'" in line for line in logged)
    assert work.store.get(event_id).status == EventStatus.SUCCESS


def test_the_scheduler_refuses_a_foreign_job_instead_of_queueing_it(pipeline, foreign_jobs, caplog):
    jobs, markers = foreign_jobs
    work = pipeline()
    redis = work.store.redis
    keys = work.store.keys
    for name, data in jobs.items():
        job = Job.create(os.getcwd, id=f"later-{name}", connection=redis, origin=keys.queue_name)
        job.data = data
        job.save()
        redis.zadd(keys.scheduler.jobs, {job.id: 0})
    before = _refused()

    with caplog.at_level(logging.ERROR, logger="mpwh.jobguard"):
        work.move_due_retries()

    assert not [path for path in markers.values() if path.exists()]
    assert redis.llen(keys.queue) == 0 and redis.zcard(keys.scheduler.jobs) == 0
    assert _refused() - before == len(jobs)
    failed = FailedJobRegistry(keys.queue_name, connection=redis, job_class=ProductJob)
    assert set(failed.get_job_ids()) == {f"later-{name}" for name in jobs}
    assert len([r for r in caplog.records if r.name == "mpwh.jobguard"]) == len(jobs)


def test_only_the_exact_product_call_passes():
    assert refusal(_json_call(PROCESS_EVENT, "e1")) is None
    assert refusal(_json_call(PROCESS_EVENT)) == "job arguments are not one event id"
    assert refusal(_json_call(PROCESS_EVENT, "e1", "e2")) == "job arguments are not one event id"
    assert refusal(json.dumps([PROCESS_EVENT, None, ["e1"], {"x": 1}]).encode()) is not None
    assert refusal(json.dumps([PROCESS_EVENT, "instance", ["e1"], {}]).encode()) is not None
    assert refusal(json.dumps({PROCESS_EVENT: 1, "a": 2, "b": 3, "c": 4}).encode()) is not None
    assert refusal(zlib.compress(b"x")) is not None
