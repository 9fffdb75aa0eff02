"""The baseline for benchmarks/receiver_bench.py: a bare FastAPI endpoint on the same
path that only parses the JSON body and answers 200, served by uvicorn with exactly
the settings `mp-webhooks receiver` uses (services/cli/receiver_command.py)."""

from __future__ import annotations

import argparse
import json

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.post("/webhooks/mp")
async def receive(request: Request) -> JSONResponse:
    payload = json.loads(await request.body())
    return JSONResponse({"status": "received", "event_id": str(payload.get("id"))})


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_config=None, server_header=False)
