"""The key names other software relies on stay as they are: KEDA's ScaledObject watches
the RQ queue list, `rq info` and rq-scheduler find their own keys, and two installs
sharing a Redis never touch each other's keys."""

from __future__ import annotations

import json

from services.core.events import EventStatus
from services.core.keys import Keys


def test_the_queue_other_tools_watch_is_named_after_the_prefix():
    keys = Keys("shop-a")
    assert keys.queue_name == "shop-a-events"
    assert keys.queue == "rq:queue:shop-a-events"  # the chart's KEDA listNames default
    assert keys.queues == "rq:queues"
    assert keys.job("abc") == "rq:job:abc"
    assert keys.scheduler.jobs == "shop-a:scheduler:scheduled_jobs"


def test_every_product_key_carries_the_prefix():
    keys = Keys("shop-a")
    names = [
        keys.event("1"), keys.history("1"), keys.duplicate_of("payment", "9"), keys.latest_for("payment", "9"),
        keys.all_events, keys.by_status(EventStatus.PENDING), keys.by_type("payment"),
        keys.by_status_and_type(EventStatus.FAILED, "payment"), keys.types, keys.due, keys.processing,
        keys.payment("7"), keys.payment_lock("7"), keys.payment_tagged("7"), keys.merchant_order("7"),
        keys.rate_limit("loc"), keys.by_resource("7"), keys.all_payments, keys.payments_by_status("approved"),
        *keys.scheduler, *keys.reconciler,
    ]  # fmt: skip
    assert all(name.startswith("shop-a:") for name in names)
    assert len(set(names)) == len(names)
    assert not any(name.startswith("shop-b:") for name in names)


def test_the_lua_scheme_builds_the_same_names_as_python():
    keys = Keys("shop-a")
    scheme = json.loads(keys.lua_scheme)
    assert scheme["event"] + "x1" == keys.event("x1")
    assert scheme["history"] + "x1" == keys.history("x1")
    assert scheme["status"] + "failed" == keys.by_status(EventStatus.FAILED)
    assert scheme["type"] + "payment" == keys.by_type("payment")
    first, separator = scheme["status_type"]
    assert first + "failed" + separator + "payment" == keys.by_status_and_type(EventStatus.FAILED, "payment")
    assert scheme["job"] + "j1" == keys.job("j1")
    assert scheme["resource"] + "r1" == keys.by_resource("r1")
    assert scheme["payment"] + "p1" == keys.payment("p1")
    assert (scheme["due"], scheme["processing"], scheme["queue"]) == (keys.due, keys.processing, keys.queue)
