"""The sandbox's world: payments, merchant orders, contacts and tags, plus the faults a
test or a developer injects (status codes to answer next, latency)."""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def mp_timestamp(when: float | None = None) -> str:
    """Mercado Pago's format: local time with offset and milliseconds."""
    moment = datetime.fromtimestamp(time.time() if when is None else when, UTC)
    return moment.isoformat(timespec="milliseconds")


@dataclass
class Call:
    upstream: str
    method: str
    path: str
    at: float
    headers: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    # What the sandbox answered (set once known): a chaos run counts only tags applied.
    status: int | None = None


@dataclass
class Chaos:
    """Faults drawn at random on every call to one upstream, for chaos runs: an outage
    answers every call 503; otherwise 5xx, 429 with Retry-After, or a timeout (the
    answer held past the workers' read timeout, then 504) at these rates, after a
    random latency up to `latency_seconds`."""

    outage: bool = False
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 16.0
    latency_seconds: float = 0.0


@dataclass(frozen=True)
class Fault:
    status: int
    headers: dict[str, str]
    delay_seconds: float = 0.0


@dataclass
class SandboxState:
    mp_access_token: str
    ghl_api_token: str
    ghl_api_version: str
    ghl_location_id: str
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    merchant_orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    # (upstream, method, path prefix) -> answers to give next: (status, headers) each.
    faults: list[tuple[str, str, str, int, dict[str, str]]] = field(default_factory=list)
    latency_seconds: float = 0.0
    chaos: dict[str, Chaos] = field(default_factory=dict)
    # (upstream, method, path prefix, seconds): the next matching calls answer that late.
    delays: list[tuple[str, str, str, float]] = field(default_factory=list)
    # Set when the sandbox stops: delayed answers end at once instead of holding it up.
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def put_payment(
        self,
        payment_id: str,
        status: str = "approved",
        *,
        email: str | None = "buyer@example.com",
        amount: float = 100.0,
        metadata: dict[str, Any] | None = None,
        updated: float | None = None,
        status_detail: str | None = None,
    ) -> dict[str, Any]:
        payment = {
            "id": int(payment_id) if payment_id.isdigit() else payment_id,
            "status": status,
            "status_detail": status_detail or ("accredited" if status == "approved" else status),
            "transaction_amount": amount,
            "currency_id": "BRL",
            "external_reference": f"order-{payment_id}",
            "date_created": mp_timestamp(updated),
            "date_last_updated": mp_timestamp(updated),
            "payer": {"email": email, "first_name": "Test", "last_name": "Buyer"} if email else {},
            "metadata": metadata or {},
        }
        with self.lock:
            self.payments[str(payment_id)] = payment
        return payment

    def add_contact(self, email: str) -> str:
        with self.lock:
            contact_id = f"contact-{next(self._ids)}"
            self.contacts[contact_id] = {
                "id": contact_id,
                "email": email,
                "locationId": self.ghl_location_id,
                "tags": [],
            }
        return contact_id

    def fail_next(
        self,
        upstream: str,
        method: str,
        path_prefix: str,
        status: int,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        with self.lock:
            self.faults.extend([(upstream, method, path_prefix, status, headers or {})] * times)

    def take_fault(self, upstream: str, method: str, path: str) -> Fault | None:
        """The next injected answer for this call, else one drawn from the upstream's chaos."""
        with self.lock:
            for index, (up, verb, prefix, status, headers) in enumerate(self.faults):
                if up == upstream and verb == method and path.startswith(prefix):
                    del self.faults[index]
                    return Fault(status, headers)
            chaos = self.chaos.get(upstream)
        if chaos is None:
            return None
        if chaos.outage:
            return Fault(503, {})
        draw = random.random()
        for rate, fault in (
            (chaos.error_rate, Fault(random.choice((500, 502, 503)), {})),
            (chaos.throttle_rate, Fault(429, {"Retry-After": "1"})),
            (chaos.timeout_rate, Fault(504, {}, chaos.timeout_seconds)),
        ):
            if draw < rate:
                return fault
            draw -= rate
        return None

    def slow_next(self, upstream: str, method: str, path_prefix: str, seconds: float, times: int = 1) -> None:
        with self.lock:
            self.delays.extend([(upstream, method, path_prefix, seconds)] * times)

    def take_delay(self, upstream: str, method: str, path: str) -> float:
        with self.lock:
            for index, (up, verb, prefix, seconds) in enumerate(self.delays):
                if up == upstream and verb == method and path.startswith(prefix):
                    del self.delays[index]
                    return seconds
        return 0.0

    def record(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)

    def calls_to(self, upstream: str, method: str | None = None, path_prefix: str = "") -> list[Call]:
        with self.lock:
            return [
                c
                for c in self.calls
                if c.upstream == upstream and (method is None or c.method == method) and c.path.startswith(path_prefix)
            ]
