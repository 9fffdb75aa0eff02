"""A local HTTP server answering the two Kubernetes API calls the reconciler makes, in
the shapes the API server documents: list pods (core/v1 PodList, with label and field
selectors) and create an Event (core/v1 Event, 201 with the stored object)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def pod(name: str, labels: dict[str, str], phase: str = "Running", owner_job: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "payments", "labels": labels, "uid": f"uid-{name}"}
    if owner_job:
        metadata["ownerReferences"] = [
            {"apiVersion": "batch/v1", "kind": "Job", "name": owner_job, "uid": f"uid-{owner_job}", "controller": True}
        ]
    return {
        "metadata": metadata,
        "spec": {"containers": [{"name": "main", "image": "mp-webhooks"}]},
        "status": {"phase": phase},
    }


def create_fake_kube(pods: list[dict[str, Any]], events: list[dict[str, Any]], requests: list[str]) -> FastAPI:
    app = FastAPI()

    @app.get("/api/v1/namespaces/{namespace}/pods")
    async def list_pods(namespace: str, request: Request) -> Any:
        requests.append(str(request.url))
        selected = [p for p in pods if p["metadata"]["namespace"] == namespace]
        for term in filter(None, (request.query_params.get("labelSelector") or "").split(",")):
            key, _, value = term.partition("=")
            selected = [p for p in selected if p["metadata"]["labels"].get(key) == value]
        field = request.query_params.get("fieldSelector") or ""
        if field.startswith("metadata.name="):
            selected = [p for p in selected if p["metadata"]["name"] == field.split("=", 1)[1]]
        return {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": selected}

    @app.post("/api/v1/namespaces/{namespace}/events")
    async def create_event(namespace: str, request: Request) -> Any:
        body = await request.json()
        stored = {
            **body,
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {**body["metadata"], "name": body["metadata"]["generateName"] + "x1", "namespace": namespace},
        }
        events.append(stored)
        return JSONResponse(stored, status_code=201)

    return app
