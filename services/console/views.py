"""Rendering: the Jinja2 environment (autoescaped: everything from a payload or an
upstream error is shown as text), what every page gets, and the session cookie."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from .sessions import COOKIE, Session
from .state import console_state

TEMPLATES = Path(__file__).parent / "templates"


def utc(timestamp: float | None) -> str:
    """A time as operators read it: UTC, to the second, with the zone."""
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def link(path: str, params: dict[str, str | None]) -> str:
    """`path` with the non-empty `params` as its query: every view is a link."""
    kept = {name: value for name, value in params.items() if value}
    return f"{path}?{urlencode(kept)}" if kept else path


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    environment.filters["utc"] = utc
    environment.filters["pretty_json"] = pretty_json
    environment.globals["link"] = link
    return environment


ENVIRONMENT = _environment()


def set_session(response: Response, request: Request, session: Session | None) -> None:
    state = console_state(request)
    if session is None:
        response.delete_cookie(COOKIE, path="/console", httponly=True, samesite="strict")
        return
    response.set_cookie(
        COOKIE,
        state.sessions.dump(session),
        max_age=state.settings.console_session_seconds,
        path="/console",
        httponly=True,
        samesite="strict",
        secure=state.settings.console_secure_cookie,
    )


def render(request: Request, template: str, session: Session | None, status: int = 200, **context: Any) -> HTMLResponse:
    """A page. A flash waiting in the session is shown on it and then dropped."""
    flash = session.flash if session is not None else None
    body = ENVIRONMENT.get_template(template).render(
        session=session,
        flash=flash,
        path=request.url.path,
        here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        **context,
    )
    response = HTMLResponse(body, status_code=status)
    if session is not None:
        set_session(response, request, replace(session, flash=None) if flash else session)
    return response
