"""Bearer tokens on /api/* (SPEC "Tokens and scopes"): a dependency per scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, Request

from services.core.auth import Scope

from .state import receiver_state


def _presented_token(request: Request) -> str:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" else ""


def require(needed: Scope) -> Callable[[Request], None]:
    """A dependency: 401 without a valid token, 403 for a token without `needed`, 503
    when no token is configured at all (the API is then off, and says how to turn it on)."""

    def check(request: Request) -> None:
        tokens = receiver_state(request).settings.tokens
        if not tokens.configured:
            raise HTTPException(503, "the API is disabled: set API_TOKEN (or API_READ_TOKEN) to enable it")
        allowed = tokens.allows(_presented_token(request), needed)
        if allowed is None:
            raise HTTPException(401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
        if not allowed:
            raise HTTPException(403, "this token may only read; retrying needs an operator token (API_TOKEN)")

    return check


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid bearer token."},
    503: {"description": "Neither API_TOKEN nor API_READ_TOKEN is set, or Redis is unavailable."},
}
