"""The fake upstreams: the project's sandbox (services.sandbox: Mercado Pago under /mp,
GoHighLevel under /ghl) served by uvicorn in a process of its own, plus two routes
for the benchmark:

  POST /bench/reset {"latency": s, "prefix": p, "count": n, "first_id": i}
      forgets every call, contact, payment and fault, sets the injected latency
      (state.latency_seconds: an asyncio.sleep before each Mercado Pago / GoHighLevel
      answer), and creates n approved payments i, i+1, ... whose payers all have
      distinct emails (so each event searches, creates and tags a new contact);
  GET /bench/calls
      the calls received since the reset, by endpoint.

Usage: python -m benchmarks.worker.upstream --port P --mp-token T --ghl-token T
       --location L [--version 2021-07-28]
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from fastapi import FastAPI, Request


def endpoint(upstream: str, method: str, path: str) -> str:
    if upstream == "ghl" and path.startswith("/contacts/") and path.endswith("/tags"):
        path = "/contacts/{id}/tags"
    elif upstream == "mp" and path.startswith("/v1/payments/") and path != "/v1/payments/search":
        path = "/v1/payments/{id}"
    return f"{upstream} {method} {path}"


def seed(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    """The /bench/reset body applied to a SandboxState whose records were just cleared."""
    state.latency_seconds = float(body.get("latency", 0.0))
    prefix, first = body.get("prefix", "bench"), int(body.get("first_id", 1))
    for index in range(int(body.get("count", 0))):
        state.put_payment(str(first + index), "approved", email=f"{prefix}-{index}@bench.example.com")
    return {"payments": len(state.payments), "latency": state.latency_seconds}


def create_app(mp_token: str, ghl_token: str, location: str, version: str) -> FastAPI:
    from services.sandbox.app import create_sandbox
    from services.sandbox.state import SandboxState

    state = SandboxState(mp_token, ghl_token, version, location)
    app = create_sandbox(state)

    @app.post("/bench/reset")
    async def reset(request: Request) -> Any:
        body = await request.json()
        with state.lock:
            state.calls.clear()
            state.contacts.clear()
            state.payments.clear()
            state.merchant_orders.clear()
            state.faults.clear()
        return seed(state, body)

    @app.get("/bench/calls")
    async def calls() -> Any:
        with state.lock:
            counted = Counter(endpoint(c.upstream, c.method, c.path) for c in state.calls)
        return {"total": sum(counted.values()), "by_endpoint": dict(sorted(counted.items()))}

    return app


def parse_args(doc: str) -> argparse.Namespace:
    """The command line both fake upstreams take."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mp-token", required=True)
    parser.add_argument("--ghl-token", required=True)
    parser.add_argument("--location", required=True)
    parser.add_argument("--version", default="2021-07-28")
    return parser.parse_args()


def main() -> None:
    args = parse_args(__doc__)

    import uvicorn

    app = create_app(args.mp_token, args.ghl_token, args.location, args.version)
    # As `mp-webhooks sandbox` runs it (uvloop + httptools when installed), quieter.
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
