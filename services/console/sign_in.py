"""Signing in with an operator or read-only token (SPEC "Tokens and scopes"), and out.
The token is checked once, here; the session then holds only its scope."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .forms import read_form
from .guard import check_csrf, visitor_session
from .metrics import SIGN_INS
from .pages import safe_back
from .state import console_state
from .views import render, set_session

log = logging.getLogger("mpwh.console")
router = APIRouter(prefix="/console")


@router.get("", name="home")
async def home() -> Response:
    return RedirectResponse("/console/events", status_code=303)


@router.get("/sign-in", name="sign_in")
async def sign_in_page(request: Request) -> Response:
    session, expired = visitor_session(request)
    if session is None:
        session = console_state(request).sessions.new()
    next_url = safe_back(request.query_params.get("next", ""), "/console/events")
    return render(request, "sign_in.html", session, next_url=next_url, expired=expired, error=None)


@router.post("/sign-in", name="sign_in_post")
async def sign_in(request: Request) -> Response:
    state = console_state(request)
    session, _ = visitor_session(request)
    form = await read_form(request)
    next_url = safe_back(form.first("next"), "/console/events")
    if session is None:
        # No (or an expired) visitor cookie: the form is stale; show it again, fresh.
        session = state.sessions.new()
        return render(request, "sign_in.html", session, status=400, next_url=next_url, expired=True, error=None)
    check_csrf(session, form)
    scope = state.settings.tokens.scope_of(form.first("token").strip())
    if scope is None:
        SIGN_INS.labels("refused").inc()
        log.warning("console sign-in refused: not a configured token")
        error = "That token is not valid here. Use an operator token (API_TOKEN) or a read-only one (API_READ_TOKEN)."
        return render(request, "sign_in.html", session, status=401, next_url=next_url, expired=False, error=error)
    SIGN_INS.labels(scope).inc()
    log.info("console sign-in with a %s token", scope)
    response = RedirectResponse(next_url, status_code=303)
    # A new session (and CSRF token) at sign-in: nothing from before it carries over.
    set_session(response, request, state.sessions.new(scope))
    return response


@router.post("/sign-out", name="sign_out")
async def sign_out(request: Request) -> Response:
    session, _ = visitor_session(request)
    form = await read_form(request)
    if session is not None:
        check_csrf(session, form)
    response = RedirectResponse("/console/sign-in", status_code=303)
    set_session(response, request, None)
    return response
