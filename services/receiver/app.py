"""The receiver application: FastAPI routes over one Redis client and one event store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.routing import Route

from services.core.redis_client import async_redis
from services.core.settings import ConfigError, Settings
from services.core.store import AsyncEventStore, EventCalls

from . import events_api, health, payments_api, webhooks
from .signature import SignatureVerifier
from .state import ReceiverState


def create_app(settings: Settings) -> FastAPI:
    if not settings.mp_webhook_secrets and not settings.mp_allow_unsigned:
        raise ConfigError(
            "MP_WEBHOOK_SECRET: not set; the receiver refuses unsigned notifications "
            "(set MP_ALLOW_UNSIGNED=true only for local development)"
        )
    redis = async_redis(settings)
    verifier = (
        SignatureVerifier(settings.mp_webhook_secrets, settings.mp_signature_tolerance_seconds)
        if settings.mp_webhook_secrets
        else None
    )
    state = ReceiverState(settings, redis, AsyncEventStore(redis, EventCalls(settings)), verifier)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await redis.aclose()

    app = FastAPI(
        title="mp-webhooks receiver",
        summary="Receives Mercado Pago notifications, stores and queues each before answering.",
        version="0.1.0",
        lifespan=lifespan,
        # Off unless RECEIVER_DOCS_ENABLED: the API's map is no business of the internet.
        openapi_url="/openapi.json" if settings.receiver_docs_enabled else None,
    )
    app.state.receiver = state

    @app.exception_handler(RedisError)
    async def redis_unavailable(request: Request, error: RedisError) -> JSONResponse:
        return JSONResponse({"error": "storage unavailable, retry later"}, status_code=503)

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, error: RequestValidationError) -> JSONResponse:
        # Every error body is {"error": ...}: FastAPI's own 422 {"detail": [...]} would
        # be the one exception.
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in error.errors())
        return JSONResponse({"error": problems}, status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse({"error": error.detail}, status_code=error.status_code, headers=error.headers)

    app.include_router(webhooks.router)
    # The hottest path skips FastAPI's per-request machinery (dependency solving,
    # response models: none of it used here). Starlette serves the same endpoint first;
    # the FastAPI route above still documents it in OpenAPI.
    app.router.routes.insert(0, Route("/webhooks/mp", webhooks.receive_notification, methods=["POST"]))
    app.include_router(events_api.router)
    app.include_router(payments_api.router)
    app.include_router(health.router)
    return app
