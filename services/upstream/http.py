"""One request to an upstream API, measured and classified: the single place that
decides what is retryable (timeouts, connection errors, 5xx, 429) and what is permanent
(any other 4xx)."""

from __future__ import annotations

import email.utils
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import httpx

from services.core.deadline import Deadline

from .breaker import Breaker
from .deadline_io import bounded_by, bounded_transport
from .errors import PermanentError, RetryableError
from .metrics import UPSTREAM_DURATION, UPSTREAM_REQUESTS

# Connect fails fast; a slow read is given longer. Each call also ends by its caller's
# deadline: every phase's timeout is clamped to the time the deadline leaves, and every
# socket wait inside the call too (deadline_io), so a trickling answer cannot outlast it.
TIMEOUT = httpx.Timeout(connect=3.0, read=15.0, write=10.0, pool=5.0)
LIMITS = httpx.Limits(max_connections=20, max_keepalive_connections=10)
# Sent with every request; the API's own headers (authorization, version) are added.
BASE_HEADERS = {
    "Accept": "application/json",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": f"mp-webhooks/{version('mp-webhooks')} (python-httpx/{httpx.__version__})",
}


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTPS_PROXY / HTTP_PROXY, else
    ALL_PROXY; none when NO_PROXY covers the host), read once at start-up."""
    parts = urllib.parse.urlsplit(url)
    if urllib.request.proxy_bypass(parts.netloc):
        return None
    proxies = urllib.request.getproxies_environment()
    return proxies.get(parts.scheme) or proxies.get("all")


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After (seconds or an HTTP date) or GoHighLevel's X-RateLimit-Interval-Milliseconds."""
    value = response.headers.get("retry-after")
    if value:
        if value.strip().isdigit():
            return float(value)
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    interval = response.headers.get("x-ratelimit-interval-milliseconds")
    if interval and interval.strip().isdigit():
        return int(interval) / 1000
    return None


def _upstream_message(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        for key in ("message", "error", "msg"):
            if body.get(key):
                return str(body[key])[:300]
    return str(body)[:300]


class Upstream:
    """An upstream API: `call` returns the JSON object of a 2xx ({} for an empty body) or
    raises a ProcessingError.

    Requests go straight to one pooled `httpx.HTTPTransport` (keep-alive, the proxy
    the environment names, TLS verification) rather than through `httpx.Client`: these
    APIs use none of what the client adds on every request (cookies, auth flows,
    redirects, base-URL merging, event hooks), and skipping it is a measurable share of
    a worker's CPU (docs/benchmarks-worker.md).

    With a breaker, a call goes out only while it admits one, and its outcome is
    recorded on it (timeouts, connection errors and 5xx count as failures).

    A 429 with a short interval is waited out inside the attempt (up to
    `max_inline_wait` seconds in all, and only when the deadline leaves time for it),
    because an attempt spent on a rate limit is wasted; a longer one becomes a retry no
    earlier than the interval.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        headers: dict[str, str],
        *,
        on_wait: Callable[[float], None] | None = None,
        max_inline_wait: float = 10.0,
        timeout: httpx.Timeout = TIMEOUT,
        breaker: Breaker | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.headers = httpx.Headers(BASE_HEADERS | headers)
        self.on_wait = on_wait
        self.max_inline_wait = max_inline_wait
        self.breaker = breaker
        self.transport = bounded_transport(LIMITS, proxy_for(self.base_url))
        self._timeouts = timeout.as_dict()
        # The metrics' children, looked up once (per status code) instead of per call.
        self._duration = UPSTREAM_DURATION.labels(name)
        self._requests: dict[str, Any] = {}

    def close(self) -> None:
        self.transport.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        deadline: Deadline,
        before: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        step = f"{self.name} {method} {path}"
        waited = 0.0
        while True:
            if self.breaker is not None:
                self.breaker.admit(step)
            if before is not None:
                before()
            try:
                response = self._send(step, method, path, deadline, **kwargs)
            except RetryableError as error:
                if self.breaker is not None:
                    raise self.breaker.failed(error) from None
                raise
            if response.status_code == 429:
                delay = retry_after_seconds(response)
                if delay is not None and waited + delay <= self.max_inline_wait and deadline.allows(delay):
                    waited += delay
                    if self.on_wait is not None:
                        self.on_wait(delay)
                    time.sleep(delay)
                    continue
                raise RetryableError(step, f"429 rate limited: {_upstream_message(response)}", retry_after=delay)
            break
        if response.status_code >= 500:
            failure = RetryableError(step, f"{response.status_code} {_upstream_message(response)}")
            raise self.breaker.failed(failure) if self.breaker is not None else failure
        if self.breaker is not None:
            self.breaker.succeeded()  # any other answer, a 4xx too, is a live upstream's
        if response.status_code >= 400:
            raise PermanentError(step, f"{response.status_code} {_upstream_message(response)}")
        if not response.content:
            return {}
        try:
            body = response.json()
        except ValueError:
            raise RetryableError(step, f"{response.status_code} with a body that is not JSON") from None
        if not isinstance(body, dict):
            raise RetryableError(step, f"{response.status_code} with JSON that is not an object")
        return body

    def _send(self, step: str, method: str, path: str, deadline: Deadline, **kwargs: Any) -> httpx.Response:
        if not deadline.remaining():
            raise RetryableError(step, "the attempt's deadline passed before the call")
        timeouts = {phase: deadline.clamp(seconds) for phase, seconds in self._timeouts.items() if seconds}
        started = time.perf_counter()
        try:
            with bounded_by(deadline):  # each socket wait, headers and body too, ends by the deadline
                response = self._exchange(method, path, {"timeout": timeouts}, **kwargs)
        except httpx.TimeoutException as error:
            self._observe("timeout", started)
            raise RetryableError(step, f"timeout ({type(error).__name__})") from None
        except httpx.HTTPError as error:
            self._observe("error", started)
            raise RetryableError(step, f"connection error ({type(error).__name__}: {error})") from None
        self._observe(str(response.status_code), started)
        return response

    def _exchange(
        self,
        method: str,
        path: str,
        extensions: dict[str, Any],
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        request = httpx.Request(
            method, self.base_url + path, params=params, json=json, headers=self.headers, extensions=extensions
        )
        response = self.transport.handle_request(request)
        response.request = request
        try:
            response.read()
        finally:
            response.close()
        return response

    def _observe(self, code: str, started: float) -> None:
        counter = self._requests.get(code)
        if counter is None:
            counter = self._requests[code] = UPSTREAM_REQUESTS.labels(self.name, code)
        counter.inc()
        self._duration.observe(time.perf_counter() - started)
