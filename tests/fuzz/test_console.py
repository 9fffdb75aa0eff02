"""Hypothesis over the console's doors: the real console served by uvicorn on a free port,
the real Redis, httpx. Its routes read their query and form by hand (filters.py,
forms.py), so no OpenAPI document could describe them: the requests are generated here.

Every GET page with generated query parameters (the filters, the cursor, refresh, paging
words the console does not have, unknown names; hostile markup, huge values, bytes that
are not UTF-8) and every POST form (sign-in, sign-out, retry selected, retry all
matching, retry one) with generated fields, with and without the session's CSRF token;
each with an operator session, a read-only one, a signed-out visitor's, none, a forged
one, an expired one and a generated cookie. Every answer: no 5xx, no traceback, the
security headers, no generated markup shown unescaped, redirects only to this console;
and a request answered 4xx or refused (anything but an operator's retry with its CSRF
token) leaves every key of the Redis database exactly as it was."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote, quote_from_bytes

import httpx
import pytest
import redis
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from services.console.app import create_app
from services.console.sessions import COOKIE, SessionCodec
from services.core.attempts import FailureKind
from services.core.auth import Scope
from services.core.settings import Settings
from services.core.store import EventCalls, EventStore
from tests.conftest import TEST_API_TOKEN
from tests.support.servers import PrivateRedis, serve_app
from tests.support.store import end_attempt, notify, start_attempt

READ_TOKEN = "fuzz-read-token"
SECRET = "console-fuzz-secret-0123456789abcdef"
# Markup a page must never show as markup: each appears only escaped, whatever carried it.
MARKUP = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "'><svg onload=alert(1)>")
RETRIES = ("/console/events/retry", "/console/events/retry-matching")
# Together well under a minute on a shared 2-CPU box.
BOUNDED = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Visitor(StrEnum):
    OPERATOR = "operator"
    READ = "read"
    SIGNED_OUT = "signed-out"  # the sign-in form's visitor session
    NONE = "none"
    FORGED = "forged"
    EXPIRED = "expired"
    GENERATED = "generated"


@dataclass(frozen=True)
class Served:
    url: str
    http: httpx.Client
    redis: redis.Redis
    codec: SessionCodec
    forger: SessionCodec
    event_ids: tuple[str, ...]


@pytest.fixture(scope="module")
def own_redis() -> Iterator[PrivateRedis]:
    # A server of its own: every request compares the whole keyspace before and after,
    # which the shared test database (every earlier test's keys) would make slow.
    server = PrivateRedis()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def served(make_settings: Callable[..., Settings], own_redis: PrivateRedis) -> Iterator[Served]:
    own_redis.client().flushdb()
    app_settings = make_settings(REDIS_URL=own_redis.url, CONSOLE_SESSION_SECRET=SECRET, API_READ_TOKEN=READ_TOKEN)
    client = redis.Redis.from_url(app_settings.redis_url)
    store = EventStore(client, EventCalls(app_settings))
    ids = []
    for n, markup in enumerate(MARKUP * 3):
        event_id = notify(store, f"{n}{markup}", event_type="payment" if n % 2 else "merchant_order")
        if n % 3:
            attempt = start_attempt(store, event_id)
            end_attempt(store, event_id, attempt, FailureKind.PERMANENT, error=f"upstream said {markup}")
        ids.append(event_id)
    with serve_app(create_app(app_settings)) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield Served(
            url,
            http,
            client,
            SessionCodec(SECRET, app_settings.console_session_seconds),
            SessionCodec("another-secret-another-secret-0123", 3600),
            tuple(ids),
        )
    client.close()


def _text() -> st.SearchStrategy[str]:
    known = st.sampled_from(
        [
            "", " ", "failed", "pending", "processing", "success", "approved", "payment", "merchant_order",
            "off", "5", "30", "-1", "0", "1e309", "nan", "99999999999999999999", "2026-11-29",
            "2026-11-29T10:00Z", "2026-11-29t10:00z", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00+01:00",
            "/console/events", "//evil.example", "/console/\\evil", "https://evil.example/", "\x00", "%00",
        ]
    )  # fmt: skip
    markup = st.sampled_from(MARKUP)
    wrapped = st.tuples(st.text(max_size=8), markup, st.text(max_size=8)).map("".join)
    # Long, yet inside the 16 KiB request head uvicorn (h11) accepts, percent-encoded.
    huge = st.tuples(st.sampled_from(["A", "é", *MARKUP]), st.integers(100, 1500)).map(lambda p: (p[0] * p[1])[:1500])
    return st.one_of(known, markup, wrapped, st.text(max_size=40), huge)


def _raw() -> st.SearchStrategy[bytes]:
    """A value as the bytes sent: UTF-8 text, or bytes that are not UTF-8."""
    return st.one_of(_text().map(lambda text: text.encode()), st.binary(max_size=24))


def _encoded(pairs: list[tuple[str, bytes]]) -> str:
    return "&".join(f"{quote(name, safe='')}={quote_from_bytes(value, safe='')}" for name, value in pairs)


# The filters, the cursor, refresh, paging words the console does not have, the CSRF name.
QUERY_NAMES = ("status", "type", "since", "until", "q", "cursor", "refresh", "next", "expired")
OTHER_NAMES = ("limit", "page", "per_page", "offset", "csrf")
PARAM_NAMES = st.one_of(
    st.sampled_from(QUERY_NAMES + OTHER_NAMES),
    st.text(min_size=1, max_size=12),
)
FIELD_NAMES = st.one_of(
    # Not `csrf`: whether the form carries the session's is drawn on its own (Csrf).
    st.sampled_from(["token", "next", "back", "event_id", "confirmed", "type", "since", "until"]),
    st.text(min_size=1, max_size=12),
)


def _cookie(served: Served, visitor: Visitor, generated: bytes) -> tuple[bytes | None, str | None]:
    """The Cookie header for `visitor`, and the CSRF token its session holds."""
    codec = served.codec
    session = None
    if visitor == Visitor.OPERATOR:
        session = codec.new(Scope.OPERATE)
    elif visitor == Visitor.READ:
        session = codec.new(Scope.READ)
    elif visitor == Visitor.SIGNED_OUT:
        session = codec.new()
    if session is not None:
        return f"{COOKIE}={codec.dump(session)}".encode(), session.csrf
    if visitor == Visitor.FORGED:
        forged = served.forger.new(Scope.OPERATE)
        return f"{COOKIE}={served.forger.dump(forged)}".encode(), forged.csrf
    if visitor == Visitor.EXPIRED:
        expired = codec.new(Scope.OPERATE, now=time.time() - 10 * 86400)
        return f"{COOKIE}={codec.dump(expired)}".encode(), expired.csrf
    if visitor == Visitor.GENERATED:
        return COOKIE.encode() + b"=" + generated, None
    return None, None


# Bytes a client could put in a Cookie header's value: no controls, no `;`, no spaces
# around it.
COOKIE_BYTES = st.one_of(
    st.binary(max_size=80),
    st.tuples(st.text(max_size=30), st.text(max_size=70)).map(lambda p: f"{p[0]}.{p[1]}".encode()),
).map(lambda b: bytes(c for c in b if c >= 0x20 and c not in b";\x7f").strip(b" "))


def _snapshot(client: redis.Redis) -> dict[bytes, bytes | None]:
    """Every key of the database with its serialized value: any write shows here."""
    found = sorted(client.scan_iter(count=1000))
    with client.pipeline() as pipe:
        for key in found:
            pipe.dump(key)
        return dict(zip(found, pipe.execute(), strict=True))


def _check(response: httpx.Response, origin: str) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:2000])
    assert "Traceback" not in response.text, response.text[:2000]
    assert response.headers.get("content-security-policy", "").startswith("default-src 'self'"), response.headers
    assert response.headers.get("x-frame-options") == "DENY", response.headers
    for markup in MARKUP:
        assert markup not in response.text, f"{markup!r} shown unescaped"
    for cookie in response.headers.get_list("set-cookie"):
        # Browsers drop a larger cookie whole (RFC 6265 asks them to keep 4096 bytes).
        assert len(cookie) <= 4096, f"a {len(cookie)}-byte cookie"
    if response.status_code == 405:
        assert response.headers.get("allow"), "a 405 must say which methods are allowed (RFC 9110)"
    location = response.headers.get("location")
    if location is not None:
        # Only ever back to this console: never another host, never markup. (Starlette
        # sends `/console/` to `/console` by an absolute URL of the host asked.)
        location = location.removeprefix(origin)
        assert location.startswith("/") and not location.startswith("//") and "\\" not in location, location
        assert "<" not in location and '"' not in location, location


# Signed-in visitors twice as often: their pages go deepest.
def _follow(served: Served, response: httpx.Response) -> None:
    """The page a redirect leads to, with the cookie it set (the jar's): the sign-in
    page with its `next`, the list with the flash of a retry."""
    if response.is_redirect:
        before = _snapshot(served.redis)
        followed = served.http.get(response.headers["location"])
        _check(followed, served.url)
        assert _snapshot(served.redis) == before, f"GET {followed.url} changed Redis"


VISITORS = st.sampled_from([Visitor.OPERATOR, Visitor.READ, *Visitor])
FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json", "text/plain"]


@BOUNDED
@given(
    data=st.data(),
    visitor=VISITORS,
    generated_cookie=COOKIE_BYTES,
    params=st.lists(st.tuples(PARAM_NAMES, _raw()), max_size=6),
)
def test_every_page_with_generated_query(
    served: Served, data: st.DataObject, visitor: Visitor, generated_cookie: bytes, params: list[tuple[str, bytes]]
) -> None:
    some_id = st.one_of(st.sampled_from(served.event_ids), _text().filter(bool))
    pages = st.sampled_from(["/console/events", "/console/payments", "/console/sign-in"])
    others = st.sampled_from(
        ["/console", "/console/", "/healthz", "/readyz", "/console/static/console.css", "/console/nothing"]
    )
    details = st.one_of(
        some_id.map(lambda i: "/console/events/" + quote(i, safe="")),
        some_id.map(lambda i: "/console/payments/" + quote(i, safe="")),
    )
    path = data.draw(st.one_of(pages, pages, pages, details, others), label="path")
    cookie, _ = _cookie(served, visitor, generated_cookie)
    query = _encoded(params)
    served.http.cookies.clear()  # only the cookie drawn: none from an earlier answer
    before = _snapshot(served.redis)
    # Mostly GET; the methods no page takes must be refused as cleanly.
    method = data.draw(st.sampled_from(["GET", "GET", "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"]))
    response = served.http.request(
        method, path + (f"?{query}" if query else ""), headers={"cookie": cookie} if cookie else {}
    )
    _check(response, served.url)
    event(f"{method} {visitor}: {response.status_code}")
    # Reading never writes.
    assert _snapshot(served.redis) == before, f"{method} {path} answered {response.status_code} and changed Redis"
    _follow(served, response)


class Csrf(StrEnum):
    VALID = "valid"
    MISSING = "missing"
    WRONG = "wrong"
    EMPTY = "empty"


@BOUNDED
@given(
    data=st.data(),
    visitor=VISITORS,
    generated_cookie=COOKIE_BYTES,
    csrf=st.sampled_from([Csrf.VALID, *Csrf]),
    fields=st.lists(st.tuples(FIELD_NAMES, _raw()), max_size=6),
)
def test_every_form_with_generated_fields(
    served: Served,
    data: st.DataObject,
    visitor: Visitor,
    generated_cookie: bytes,
    csrf: Csrf,
    fields: list[tuple[str, bytes]],
) -> None:
    path = data.draw(st.sampled_from(["/console/sign-in", "/console/sign-out", *RETRIES, *RETRIES]), label="path")
    cookie, token = _cookie(served, visitor, generated_cookie)
    chosen: list[tuple[str, bytes]] = []
    if path == "/console/sign-in":
        chosen.append(("token", data.draw(st.sampled_from([TEST_API_TOKEN, READ_TOKEN]).map(str.encode) | _raw())))
    if path == "/console/events/retry":
        # Retry one (the detail page's form) is this form with one id.
        ids = st.one_of(st.sampled_from(served.event_ids), _text())
        # A few, or a page's worth (its results travel back in the cookie's flash), long
        # ones built cheaply: Hypothesis gives up on examples that draw too much.
        long = st.tuples(st.sampled_from(["x", "é", *MARKUP]), st.integers(1, 20)).map(lambda p: p[0] * p[1])
        many = st.lists(st.one_of(st.sampled_from(served.event_ids), long), min_size=20, max_size=60)
        drawn = data.draw(st.one_of(st.lists(ids, max_size=4), many), label="ids")
        chosen += [("event_id", i.encode()) for i in drawn]
    # Confirmed more often than not: past the confirmation is where retries happen.
    if data.draw(st.sampled_from([True, True, False]), label="confirmed"):
        chosen.append(("confirmed", b"yes"))
    if csrf == Csrf.VALID and token is not None:
        chosen.append(("csrf", token.encode()))
    elif csrf == Csrf.WRONG:
        chosen.append(("csrf", data.draw(_raw(), label="csrf")))
    elif csrf == Csrf.EMPTY:
        chosen.append(("csrf", b""))
    pairs = data.draw(st.permutations(chosen + fields), label="order")
    form = st.just(_encoded(pairs).encode())
    body = data.draw(st.one_of(form, form, form, st.binary(max_size=64)), label="body")
    headers = {"content-type": data.draw(st.sampled_from(FORM_TYPES), label="content-type")}
    if cookie:
        headers["cookie"] = cookie  # type: ignore[assignment] - httpx sends bytes header values as they are
    served.http.cookies.clear()
    before = _snapshot(served.redis)
    response = served.http.post(path, content=body, headers=headers)
    _check(response, served.url)
    sent = "form" if body == _encoded(pairs).encode() else "bytes"
    event(f"POST {path} {visitor} csrf {csrf} {sent}: {response.status_code}")
    may_change = visitor == Visitor.OPERATOR and csrf == Csrf.VALID and path in RETRIES
    if not may_change or response.status_code >= 400:
        assert _snapshot(served.redis) == before, f"POST {path} answered {response.status_code} and changed Redis"
    _follow(served, response)


@settings(BOUNDED, max_examples=80)
@given(data=st.data(), extra=st.lists(st.tuples(FIELD_NAMES, _raw()), max_size=3))
def test_an_operators_confirmed_retries_of_generated_ids(
    served: Served, data: st.DataObject, extra: list[tuple[str, bytes]]
) -> None:
    """The deepest door, drawn on its own (the test above reaches it rarely): an
    operator's confirmed retry of generated ids (stored, unknown, hostile, long; a few or
    a page's worth, whose results come back in the cookie's flash) or of every failed
    event matching a generated filter, then the page it leads to with that flash."""
    cookie, token = _cookie(served, Visitor.OPERATOR, b"")
    assert cookie is not None and token is not None
    path = data.draw(st.sampled_from(RETRIES), label="path")
    long = st.tuples(st.sampled_from(["x", "é", *MARKUP]), st.integers(1, 20)).map(lambda p: p[0] * p[1])
    one = st.one_of(st.sampled_from(served.event_ids), _text(), long)
    ids = data.draw(st.one_of(st.lists(one, max_size=4), st.lists(one, min_size=20, max_size=60)), label="ids")
    pairs = [("csrf", token.encode()), ("confirmed", b"yes"), *extra, *(("event_id", i.encode()) for i in ids)]
    served.http.cookies.clear()
    response = served.http.post(path, content=_encoded(pairs).encode(), headers={"cookie": cookie})
    _check(response, served.url)
    event(f"{path}: {response.status_code}")
    _follow(served, response)
