"""Mercado Pago's `x-signature`: `ts=<unix time>,v1=<hex HMAC-SHA256>` over the manifest
`id:<data.id>;request-id:<x-request-id>;ts:<ts>;`, leaving out the parts whose value is
missing. Mercado Pago's docs ask for an alphanumeric `data.id` in lower case while some
of its SDKs sign it as sent, so both spellings are accepted.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass


class SignatureError(Exception):
    """Why a request's signature was refused (safe to show the sender)."""


def manifest(data_id: str | None, request_id: str | None, ts: str | None) -> str:
    parts = (("id", data_id), ("request-id", request_id), ("ts", ts))
    return "".join(f"{name}:{value};" for name, value in parts if value)


def sign(secret: str, data_id: str | None, request_id: str | None, ts: str) -> str:
    """The `x-signature` header value Mercado Pago would send (used by tests and send-test)."""
    digest = hmac.new(secret.encode(), manifest(data_id, request_id, ts).encode(), hashlib.sha256).hexdigest()
    return f"ts={ts},v1={digest}"


def _parse_header(header: str) -> tuple[str, str]:
    fields: dict[str, str] = {}
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name.strip()] = value.strip()
    ts, v1 = fields.get("ts"), fields.get("v1")
    if not ts or not v1:
        raise SignatureError("malformed x-signature header: expected ts=...,v1=...")
    # isdigit() alone also accepts characters such as "²" that int() refuses.
    if not (ts.isascii() and ts.isdigit()):
        raise SignatureError("malformed x-signature header: ts is not a number")
    return ts, v1.lower()


def _seconds(ts: str) -> float:
    value = int(ts)
    # Mercado Pago documents seconds but has been seen sending milliseconds.
    return value / 1000 if value > 10**11 else float(value)


@dataclass(frozen=True)
class SignatureVerifier:
    secrets: tuple[str, ...]
    tolerance_seconds: int = 0

    def verify(self, header: str | None, request_id: str | None, data_id: str | None, now: float) -> None:
        if not header:
            raise SignatureError("missing x-signature header")
        ts, received = _parse_header(header)
        if self.tolerance_seconds and abs(now - _seconds(ts)) > self.tolerance_seconds:
            raise SignatureError(f"x-signature ts is more than {self.tolerance_seconds}s away from now")
        ids = {data_id, data_id.lower()} if data_id else {None}
        # Every candidate is computed and compared, so timing says nothing about which
        # secret or spelling was close.
        matched = False
        for secret in self.secrets:
            for candidate in ids:
                expected = hmac.new(secret.encode(), manifest(candidate, request_id, ts).encode(), hashlib.sha256)
                # As bytes: compare_digest refuses str with non-ASCII characters (a header
                # may carry any Latin-1), which must be a mismatch, not an error.
                matched |= hmac.compare_digest(expected.hexdigest().encode(), received.encode("utf-8", "surrogatepass"))
        if not matched:
            raise SignatureError("x-signature does not match")
