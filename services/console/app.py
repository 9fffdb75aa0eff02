"""The console application: server-rendered pages over the event store, for the people
who run payments (SPEC "Console"). Every page needs a signed-in session; every answer
carries the security headers below; failures become pages, never tracebacks."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from services.core.redis_client import async_redis
from services.core.settings import ConfigError, Settings
from services.core.store import AsyncEventStore, EventCalls

from . import events_pages, health, payments_pages, sign_in
from .forms import FormTooLargeError
from .guard import ConsoleDisabledError, RefusedError, SignInRequiredError, visitor_session
from .metrics import REQUEST_DURATION, REQUESTS
from .pages import problem
from .sessions import SessionCodec
from .state import ConsoleState
from .views import link

MIN_SECRET_LENGTH = 32
SECURITY_HEADERS = {
    # Scripts, styles and images come from the console itself (static/), never a CDN,
    # and no inline script runs.
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def create_app(settings: Settings) -> FastAPI:
    settings.require("CONSOLE_SESSION_SECRET")
    secret = settings.console_session_secret or ""
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(f"CONSOLE_SESSION_SECRET: use at least {MIN_SECRET_LENGTH} random characters")
    redis = async_redis(settings)
    state = ConsoleState(
        settings,
        redis,
        AsyncEventStore(redis, EventCalls(settings)),
        SessionCodec(secret, settings.console_session_seconds),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await redis.aclose()

    app = FastAPI(title="mp-webhooks console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = state

    @app.middleware("http")
    async def headers_and_metrics(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if request.url.path.startswith("/console"):
            response.headers["Cache-Control"] = "no-store"
        route = request.scope.get("route")
        page = getattr(route, "name", None) or "other"
        REQUESTS.labels(page, str(response.status_code)).inc()
        REQUEST_DURATION.labels(page).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(SignInRequiredError)
    async def to_sign_in(request: Request, error: SignInRequiredError) -> Response:
        params = {"next": error.next_url, "expired": "1" if error.expired else None}
        return RedirectResponse(link("/console/sign-in", params), status_code=303)

    @app.exception_handler(ConsoleDisabledError)
    async def disabled(request: Request, error: ConsoleDisabledError) -> Response:
        message = (
            "No token is configured, so nobody can sign in. Set API_TOKEN (operators: read and retry) "
            "or API_READ_TOKEN (read-only) and restart the console."
        )
        return problem(request, None, 503, "Console disabled", message, "/console/events", "Try again")

    @app.exception_handler(RefusedError)
    async def refused(request: Request, error: RefusedError) -> Response:
        session, _ = visitor_session(request)
        return problem(request, session, 403, "RefusedError", error.message, "/console/events", "Back to the events")

    @app.exception_handler(FormTooLargeError)
    async def too_large(request: Request, error: FormTooLargeError) -> Response:
        return problem(request, None, 413, "Too large", "That form is too large.", "/console/events", "Back")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if error.status_code == 404:
            message = "There is no page here."
            return problem(request, None, 404, "Not found", message, "/console/events", "Go to the events")
        page = problem(request, None, error.status_code, "Error", str(error.detail), "/console/events", "Back")
        # A 405's `Allow` (RFC 9110 requires it) and whatever else the error carries.
        page.headers.update(error.headers or {})
        return page

    @app.exception_handler(RedisError)
    async def redis_down(request: Request, error: RedisError) -> Response:
        message = "Redis, where every event is kept, does not answer right now. Nothing is lost; try again shortly."
        return problem(request, None, 503, "Storage unavailable", message, request.url.path, "Try again")

    app.include_router(sign_in.router)
    app.include_router(events_pages.router)
    app.include_router(payments_pages.router)
    app.include_router(health.router)
    app.mount("/console/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    return app
