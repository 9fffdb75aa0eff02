"""The console's pages and safety over real HTTP (no browser): sign-in and sessions,
CSRF, scopes, security headers, the events list with its filters and counts, retrying,
escaping, not-found and Redis-down pages, payments, probes."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest

from services.console.sessions import COOKIE, SessionCodec
from services.core.attempts import FailureKind
from services.core.auth import Scope
from services.core.settings import ConfigError
from services.upstream.breaker import breaker_for
from services.upstream.errors import RetryableError
from tests.support.store import end_attempt, notify, start_attempt

from .conftest import READ_TOKEN, SESSION_SECRET, Console, csrf_of

XSS_SCRIPT = "<script>alert('x')</script>"
XSS_IMG = '"><img src=x onerror=alert(1)>'


def test_every_page_needs_sign_in_and_comes_back_to_the_page_asked(console: Console):
    asked = "/console/events?status=failed&type=payment"
    redirect = console.http.get(asked)
    assert redirect.status_code == 303
    assert redirect.headers["location"] == "/console/sign-in?next=" + quote(asked, safe="")
    signed = console.sign_in(next_url=asked)
    assert signed.status_code == 303 and signed.headers["location"] == asked
    assert console.http.get(asked).status_code == 200


def test_a_wrong_token_is_refused_and_grants_nothing(console: Console):
    refused = console.sign_in("not-a-token")
    assert refused.status_code == 401 and "not valid here" in refused.text
    assert console.http.get("/console/events").status_code == 303


def test_session_cookie_is_signed_httponly_strict_and_secure_when_asked(start_console):
    plain = start_console()
    cookie = plain.sign_in().headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/console" in cookie and "Max-Age=28800" in cookie and "Secure" not in cookie
    secure = start_console(CONSOLE_SECURE_COOKIE="true", CONSOLE_SESSION_SECONDS="600")
    cookie = secure.sign_in().headers["set-cookie"]
    assert "Secure" in cookie and "Max-Age=600" in cookie
    # The cookie holds the scope, never the token.
    assert "test-api-token" not in cookie


def test_forged_tampered_and_expired_sessions_are_no_sessions(console: Console):
    codec = SessionCodec(SESSION_SECRET, 60)
    forged = SessionCodec("another-secret-another-secret-0123", 60).dump(codec.new(Scope.OPERATE))
    console.http.cookies.set(COOKIE, forged, path="/console")
    assert console.http.get("/console/events").status_code == 303
    valid = codec.dump(codec.new(Scope.READ))
    payload, _, signature = valid.rpartition(".")
    console.http.cookies.set(COOKIE, payload.replace("I", "J", 1) + "." + signature, path="/console")
    assert console.http.get("/console/events").status_code == 303
    expired = codec.dump(codec.new(Scope.OPERATE, now=time.time() - 120))
    console.http.cookies.set(COOKIE, expired, path="/console")
    redirect = console.http.get("/console/payments?status=approved")
    assert redirect.status_code == 303 and "expired=1" in redirect.headers["location"]
    page = console.http.get(redirect.headers["location"])
    assert "Your session has expired" in page.text
    console.http.cookies.clear()
    console.sign_in(next_url="/console/payments?status=approved")
    assert console.http.get("/console/payments?status=approved").status_code == 200


def test_a_cookie_with_non_ascii_characters_is_no_session(console: Console):
    # Found by tests/fuzz/test_console.py: hmac.compare_digest raised TypeError (a 500).
    for cookie in (f"{COOKIE}=.\u00e9".encode("latin-1"), f"{COOKIE}=abc.d\u00e9f".encode("latin-1")):
        page = console.http.get("/console/events", headers={"cookie": cookie})
        assert page.status_code == 303 and page.headers["location"].startswith("/console/sign-in")
        sign_out = console.http.post("/console/sign-out", headers={"cookie": cookie}, data={"csrf": "x"})
        assert sign_out.status_code == 303


def test_security_headers_on_every_answer(console: Console):
    for response in (console.http.get("/console/sign-in"), console.http.get("/console/static/console.css")):
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "same-origin"
    page = console.http.get("/console/sign-in").text
    # No inline script or style, nothing from elsewhere.
    assert "<script>" not in page and "style=" not in page and "http" not in page.replace("http-equiv", "")


def test_no_token_configured_answers_503_naming_the_variables(start_console):
    console = start_console(API_TOKEN=None, API_READ_TOKEN=None)
    for path in ("/console/sign-in", "/console/events"):
        response = console.http.get(path)
        assert response.status_code == 503 and "API_TOKEN" in response.text and "API_READ_TOKEN" in response.text


def test_the_session_secret_is_required(start_console):
    with pytest.raises(ConfigError, match="CONSOLE_SESSION_SECRET"):
        start_console(CONSOLE_SESSION_SECRET=None)
    with pytest.raises(ConfigError, match="CONSOLE_SESSION_SECRET: use at least 32"):
        start_console(CONSOLE_SESSION_SECRET="short")


def test_events_list_counts_badges_filters_and_search(console: Console):
    failed = [console.failed(f"p{n}") for n in range(3)]
    done = console.succeeded("p9")
    order = notify(console.store, "m1", event_type="merchant_order")
    console.sign_in()

    page = console.http.get("/console/events").text
    for event_id, status in [(failed[0], "failed"), (done, "success"), (order, "pending")]:
        assert f'data-event-id="{event_id}" data-status="{status}"' in page
    assert '<span class="badge status-failed">failed</span>' in page
    assert "1/4" in page and "mercadopago GET /v1/payments: 500" in page and " UTC" in page
    assert 'href="/console/events?status=failed"' in page  # a count is a link to its filter

    only_failed = console.http.get("/console/events", params={"status": "failed"}).text
    assert only_failed.count('data-status="failed"') == 3 and 'data-status="success"' not in only_failed
    assert "Retry all 3 failed matching this filter" in only_failed

    bad = console.http.get("/console/events", params={"status": "broken", "type": "merchant_order"})
    assert bad.status_code == 400
    assert "status: &#39;broken&#39; is not one of" in bad.text
    assert f'data-event-id="{order}"' in bad.text and f'data-event-id="{done}"' not in bad.text
    bad_time = console.http.get("/console/events", params={"since": "yesterday", "status": "failed"})
    assert (
        bad_time.status_code == 400 and "since:" in bad_time.text and bad_time.text.count('data-status="failed"') == 3
    )

    by_id = console.http.get("/console/events", params={"q": failed[1]}).text
    assert f'data-event-id="{failed[1]}"' in by_id and f'data-event-id="{failed[0]}"' not in by_id
    by_resource = console.http.get("/console/events", params={"q": "p2"}).text
    assert f'data-event-id="{failed[2]}"' in by_resource and by_resource.count("data-event-id=") == 1


def test_the_strip_shows_the_pipeline_as_the_store_reads_it(console: Console):
    for n in range(3):
        notify(console.store, f"s{n}")
    retrying = notify(console.store, "s9")
    attempt = start_attempt(console.store, retrying)
    later = time.time() + 600
    assert end_attempt(console.store, retrying, attempt, FailureKind.RETRYABLE, retry_at=later) == "retry"
    console.sign_in()
    page = console.http.get("/console/events").text
    snapshot = console.store.pipeline()
    assert snapshot.queue_depth >= 3 and snapshot.scheduled == 1
    strip = page.split('<div class="strip" aria-label="Pipeline">', 1)[1].split("</div>", 1)[0]
    assert f'<span data-gauge="queue">queue <strong>{snapshot.queue_depth}</strong></span>' in strip
    assert '<span data-gauge="scheduled">scheduled retries <strong>1</strong></span>' in strip
    assert 'data-gauge="oldest-pending">oldest pending <strong>' in strip


def test_the_strip_shows_each_upstream_breaker(console: Console):
    breaker = breaker_for(console.store, "highlevel")
    for _ in range(console.settings.breaker_failures):
        breaker.failed(RetryableError("highlevel POST /contacts/c/tags", "503"))
    console.sign_in()
    strip = console.http.get("/console/events").text.split('aria-label="Pipeline">', 1)[1].split("</div>", 1)[0]
    assert (
        '<span data-breaker="mercadopago" data-state="closed" class="breaker-closed">mercadopago <strong>closed'
        in strip
    )
    shown = strip.split('<span data-breaker="highlevel" data-state="open" class="breaker-open">', 1)[1]
    assert shown.startswith("highlevel <strong>OPEN since ") and "next probe" in shown


def test_cursor_paging_fifty_a_page(console: Console):
    ids = [notify(console.store, f"r{n}") for n in range(55)]
    console.sign_in()
    first = console.http.get("/console/events").text
    assert first.count("data-event-id=") == 50 and f'data-event-id="{ids[-1]}"' in first
    older = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = console.http.get(older).text
    assert second.count("data-event-id=") == 5 and f'data-event-id="{ids[0]}"' in second


def test_retry_selected_confirms_then_reports_each_and_records_console(console: Console):
    first, second = console.failed("a1"), console.failed("a2")
    running = notify(console.store, "a3")
    start_attempt(console.store, running)
    console.sign_in()
    csrf = csrf_of(console.http.get("/console/events").text)
    chosen = {"csrf": csrf, "event_id": [first, second, running, "0000000000000nope"], "back": "/console/events"}

    confirm = console.http.post("/console/events/retry", data=chosen)
    assert confirm.status_code == 200 and "Retry 4 events?" in confirm.text
    assert console.store.get(first).status == "failed"  # nothing happens before the confirmation

    done = console.http.post("/console/events/retry", data={**chosen, "confirmed": "yes"})
    assert done.status_code == 303 and done.headers["location"] == "/console/events"
    page = console.http.get("/console/events").text
    flash = page.split('class="flash')[1].split("</div>")[0]
    assert "2 queued, 1 already running, 1 unknown" in flash
    assert f'{first}</code></a>: <span class="result result-queued">queued' in flash
    assert "already running" in flash and "0000000000000nope" in flash
    # The flash is shown once.
    assert 'class="flash' not in console.http.get("/console/events").text.split("<main")[1].split("<h1")[0]

    event = console.store.get(first)
    assert event.status == "pending" and event.history[-1]["requested_by"] == "console"
    assert console.store.get(running).status == "processing"
    detail = console.http.get(f"/console/events/{first}").text
    assert "requested_by: <strong>console</strong>" in detail


def test_the_flash_of_a_retry_fits_in_a_cookie_a_browser_keeps(console: Console):
    # Found by tests/fuzz/test_console.py: ids from a forged form made an 8 KB cookie,
    # which browsers drop whole (the retry done, its answer never shown).
    failed = [console.failed(f"g{n}") for n in range(3)]
    console.sign_in()
    csrf = csrf_of(console.http.get("/console/events").text)
    long_ids = [f"{n}{'x' * 1000}" for n in range(6)]
    done = console.http.post(
        "/console/events/retry", data={"csrf": csrf, "event_id": failed + long_ids, "confirmed": "yes"}
    )
    assert done.status_code == 303 and len(done.headers["set-cookie"]) <= 4096
    flash = console.http.get("/console/events").text.split('class="flash')[1].split("</div>")[0]
    assert "3 queued, 6 unknown" in flash and all(event_id in flash for event_id in failed)
    # Fifty real ids, what one click may select, are all listed.
    many = [console.failed(f"h{n}") for n in range(50)]
    done = console.http.post("/console/events/retry", data={"csrf": csrf, "event_id": many, "confirmed": "yes"})
    assert len(done.headers["set-cookie"]) <= 4096
    flash = console.http.get("/console/events").text.split('class="flash')[1].split("</div>")[0]
    assert "50 queued" in flash and all(event_id in flash for event_id in many)


def test_posts_without_the_csrf_token_are_refused(console: Console):
    event_id = console.failed("c1")
    console.sign_in()
    for form in ({}, {"csrf": "guessed"}):
        response = console.http.post("/console/events/retry", data={**form, "event_id": event_id, "confirmed": "yes"})
        assert response.status_code == 403 and "security token" in response.text
    assert console.store.get(event_id).status == "failed"


def test_read_only_sees_no_retry_control_and_a_forged_post_is_refused(console: Console):
    event_id = console.failed("d1")
    console.sign_in(READ_TOKEN)
    page = console.http.get("/console/events").text
    assert f'data-event-id="{event_id}"' in page
    assert 'data-action="retry-selected"' not in page and 'name="event_id"' not in page
    assert "Retry all" not in page
    assert 'data-action="retry-one"' not in console.http.get(f"/console/events/{event_id}").text
    forged = console.http.post(
        "/console/events/retry", data={"csrf": csrf_of(page), "event_id": event_id, "confirmed": "yes"}
    )
    assert forged.status_code == 403 and "read-only" in forged.text
    assert console.store.get(event_id).status == "failed"


def test_retry_all_failed_matching_the_filter(console: Console):
    payments = [console.failed(f"e{n}") for n in range(3)]
    order = console.failed("e9", event_type="merchant_order")
    console.sign_in()
    page = console.http.get("/console/events", params={"type": "payment", "status": "failed"}).text
    form = {"csrf": csrf_of(page), "type": "payment", "back": "/console/events?type=payment"}
    confirm = console.http.post("/console/events/retry-matching", data=form)
    assert "Retry all 3 failed events matching this filter?" in confirm.text
    done = console.http.post("/console/events/retry-matching", data={**form, "confirmed": "yes"})
    assert done.status_code == 303 and done.headers["location"] == "/console/events?type=payment"
    assert all(console.store.get(event_id).status == "pending" for event_id in payments)
    assert console.store.get(order).status == "failed"


def test_payload_and_errors_are_shown_as_text(console: Console):
    event_id = console.failed(f"x{XSS_IMG}", error=f"upstream said {XSS_SCRIPT}")
    console.sign_in()
    for path in ("/console/events", f"/console/events/{event_id}"):
        page = console.http.get(path).text
        assert XSS_SCRIPT not in page and XSS_IMG not in page
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page


def test_detail_shows_every_field_history_and_pretty_payload(console: Console):
    event_id = console.failed("f1", error="ghl POST /contacts/upsert: 422")
    console.sign_in()
    page = console.http.get(f"/console/events/{event_id}").text
    assert '<span class="badge status-failed">failed</span>' in page
    assert "ghl POST /contacts/upsert: 422" in page and "Duplicates" in page and "test-worker.abc" in page
    assert 'href="/console/payments/f1"' in page and 'data-action="retry-one"' in page
    assert json.dumps({}, indent=2) in page or "{}" in page


def test_unknown_pages_say_so_with_a_way_back(console: Console):
    console.sign_in()
    for path, back in [
        ("/console/events/0000000000000abc", "/console/events"),
        ("/console/payments/999", "/console/payments"),
        ("/console/nothing-here", "/console/events"),
    ]:
        response = console.http.get(path)
        assert (
            response.status_code == 404 and f'href="{back}"' in response.text and "<h1>Not found</h1>" in response.text
        )


def test_redis_down_is_a_page_not_a_traceback(start_console, private_redis):
    console = start_console(REDIS_URL=private_redis.url)
    console.sign_in()
    assert console.http.get("/console/events").status_code == 200
    private_redis.stop()
    for path in ("/console/events", "/console/payments", "/console/events/abc"):
        response = console.http.get(path)
        assert response.status_code == 503 and "Storage unavailable" in response.text
        assert "Traceback" not in response.text
    assert console.http.get("/readyz").status_code == 503
    assert console.http.get("/healthz").status_code == 200


def test_sign_out_ends_the_session(console: Console):
    console.sign_in()
    page = console.http.get("/console/events").text
    out = console.http.post("/console/sign-out", data={"csrf": csrf_of(page)})
    assert out.status_code == 303 and out.headers["location"] == "/console/sign-in"
    assert console.http.get("/console/events").status_code == 303


def test_payments_pages(console: Console, pipeline, sandbox):
    state, _ = sandbox
    # The worker tags with what is configured then; the console shows what was applied.
    run = pipeline(MPWH_KEY_PREFIX=console.settings.key_prefix, GHL_STATUS_TAGS='{"approved": ["paid-then"]}')
    state.put_payment("5001", "approved", amount=12.5)
    state.put_payment("5002", "rejected", email="<b>bad</b>@example.com")
    first = run.notify("5001")
    run.notify("5002")
    run.drain()
    console.sign_in()

    page = console.http.get("/console/payments").text
    assert 'data-payment-id="5001" data-status="approved"' in page and "12.5 BRL" in page
    assert "paid-then" in page and "&lt;b&gt;bad&lt;/b&gt;@example.com" in page
    approved = console.http.get("/console/payments", params={"status": "approved"}).text
    assert 'data-payment-id="5002"' not in approved
    assert console.http.get("/console/payments", params={"q": "5001"}).headers["location"] == "/console/payments/5001"
    unknown = console.http.get("/console/payments", params={"q": "777"})
    assert unknown.status_code == 400 and "no stored payment &#39;777&#39;" in unknown.text

    detail = console.http.get("/console/payments/5001").text
    assert f'data-event-id="{first}" data-status="success"' in detail and "order-5001" in detail
    assert "paid-then" in detail and "mp-payment-approved" not in detail and " UTC" in detail


def test_a_method_no_page_takes_is_refused_saying_which_it_takes(console: Console):
    # Found by tests/fuzz/test_console.py: the 405 page had no Allow header.
    console.sign_in()
    for method, path, allowed in [("PUT", "/console/events", "GET"), ("GET", "/console/sign-out", "POST")]:
        response = console.http.request(method, path)
        assert response.status_code == 405 and response.headers["allow"] == allowed
        assert response.headers["x-frame-options"] == "DENY" and "<h1>Error</h1>" in response.text


def test_probes_and_metrics(console: Console):
    assert console.http.get("/healthz").json() == {"status": "ok"}
    assert console.http.get("/readyz").json() == {"status": "ok"}
    console.sign_in("wrong")
    metrics = console.http.get("/metrics").text
    assert 'mpwh_console_sign_ins_total{outcome="refused"}' in metrics
    assert "mpwh_console_requests_total" in metrics and "mpwh_console_retries_total" in metrics
