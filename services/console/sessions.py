"""The console's session: a cookie holding who signed in (the token's scope, never the
token), the CSRF token of its forms, when it expires and the flash message to show next,
signed with CONSOLE_SESSION_SECRET (HMAC-SHA256). Nothing is stored server-side, so any
console pod serves any session; a cookie whose signature or expiry fails is no session.
Stdlib hmac rather than itsdangerous: signing one small JSON value is a dozen lines."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, replace
from typing import Any

from services.core.auth import Scope

COOKIE = "mpwh_console"


@dataclass(frozen=True)
class Flash:
    """What the next page shows once: a line, and per event what happened to it."""

    text: str
    items: tuple[tuple[str, str], ...] = ()
    error: bool = False


@dataclass(frozen=True)
class Session:
    csrf: str
    expires: float
    # None: not signed in (the sign-in form still needs the CSRF token).
    scope: Scope | None = None
    flash: Flash | None = None

    @property
    def signed_in(self) -> bool:
        return self.scope is not None

    @property
    def may_retry(self) -> bool:
        return self.scope == Scope.OPERATE


class SessionCodec:
    def __init__(self, secret: str, lifetime_seconds: int) -> None:
        self._key = hashlib.sha256(b"mpwh-console-session:" + secret.encode()).digest()
        self.lifetime = lifetime_seconds

    def new(self, scope: Scope | None = None, now: float | None = None) -> Session:
        """A fresh session (new CSRF token): at sign-in, sign-out, or for a visitor."""
        moment = time.time() if now is None else now
        return Session(csrf=secrets.token_urlsafe(24), expires=moment + self.lifetime, scope=scope)

    def dump(self, session: Session) -> str:
        body: dict[str, Any] = {"c": session.csrf, "e": session.expires, "s": session.scope or ""}
        if session.flash is not None:
            body["f"] = [session.flash.text, list(session.flash.items), session.flash.error]
        payload = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")
        return f"{payload}.{self._sign(payload)}"

    def load(self, cookie: str | None, now: float | None = None) -> tuple[Session | None, bool]:
        """(the session, or None; whether the cookie was a valid one that expired)."""
        if not cookie or "." not in cookie:
            return None, False
        payload, _, signature = cookie.rpartition(".")
        # As bytes: compare_digest refuses str with non-ASCII, which a cookie may hold.
        if not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            return None, False
        try:
            body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            flash = Flash(body["f"][0], tuple((i, r) for i, r in body["f"][1]), body["f"][2]) if "f" in body else None
            session = Session(body["c"], float(body["e"]), Scope(body["s"]) if body["s"] else None, flash)
        except (ValueError, KeyError, IndexError, TypeError):
            return None, False
        if session.expires < (time.time() if now is None else now):
            return None, session.signed_in
        return session, False

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()


def with_flash(session: Session, flash: Flash | None) -> Session:
    return replace(session, flash=flash)
