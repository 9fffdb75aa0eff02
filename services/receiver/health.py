"""Probes and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from services.core.metrics import pipeline_metrics

from .state import receiver_state

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Redis answers", responses={503: {"description": "Redis does not answer."}})
async def readyz(request: Request) -> JSONResponse:
    try:
        await receiver_state(request).redis.ping()
    except RedisError as error:
        return JSONResponse({"status": "unavailable", "error": str(error)}, status_code=503)
    return JSONResponse({"status": "ok"})


class _Families(Collector):
    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> list[GaugeMetricFamily]:
        return self.families


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    output = generate_latest(REGISTRY)
    store = receiver_state(request).store
    try:
        snapshot = await store.pipeline()
    except RedisError:
        snapshot = None  # a scrape still reports the receiver's own counters
    if snapshot is not None:
        output += generate_latest(_Families(pipeline_metrics(snapshot, store.keys.queue_name)))
    return Response(output, media_type=CONTENT_TYPE_LATEST)
