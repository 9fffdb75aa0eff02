"""A local stand-in for the Mercado Pago and GoHighLevel APIs, for `mp-webhooks dev`
and the tests. It demands what the real APIs demand (Mercado Pago: `Authorization:
Bearer <access token>`; GoHighLevel: `Authorization: Bearer <token>` and a `Version`
header) and answers in their shapes. Mercado Pago lives under `/mp`, GoHighLevel under
`/ghl`, and `/sandbox` lets a person or a test create and change payments."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import asdict
from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from .state import Call, Chaos, SandboxState

# The dates a payments search can range over and sort by.
SEARCH_DATES = ("date_created", "date_last_updated", "date_approved", "money_release_date")


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def create_sandbox(state: SandboxState) -> FastAPI:
    app = FastAPI(title="mp-webhooks sandbox (Mercado Pago + GoHighLevel)")
    app.state.sandbox = state

    async def guard(request: Request, upstream: str) -> JSONResponse | None:
        """Records the call, applies latency and injected faults, checks the headers."""
        path = request.url.path.removeprefix(f"/{upstream}")
        body = await request.json() if request.method == "POST" and await request.body() else None
        call = Call(
            upstream, request.method, path, time.time(), dict(request.headers), dict(request.query_params), body
        )
        state.record(call)
        request.state.call = call
        chaos = state.chaos.get(upstream)
        latency = state.latency_seconds + (random.uniform(0, chaos.latency_seconds) if chaos else 0.0)
        if latency:
            await asyncio.sleep(latency)
        delay = state.take_delay(upstream, request.method, path)
        if delay:
            # In small steps, so that stopping the sandbox ends a long delay at once.
            until = time.monotonic() + delay
            while time.monotonic() < until and not state.stopping.is_set():
                await asyncio.sleep(0.05)
        refused = await _refusal(upstream, request, path)
        call.status = refused.status_code if refused is not None else 200
        return refused

    async def _refusal(upstream: str, request: Request, path: str) -> JSONResponse | None:
        fault = state.take_fault(upstream, request.method, path)
        if fault is not None:
            await asyncio.sleep(fault.delay_seconds)
            return JSONResponse(
                {"message": f"injected {fault.status}"}, status_code=fault.status, headers=fault.headers
            )
        token = state.mp_access_token if upstream == "mp" else state.ghl_api_token
        if request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse({"message": "invalid access token", "status": 401}, status_code=401)
        if upstream == "ghl" and request.headers.get("version") != state.ghl_api_version:
            return JSONResponse(
                {"message": "Version header missing or unsupported", "statusCode": 400}, status_code=400
            )
        return None

    mp = APIRouter(prefix="/mp")

    @mp.get("/v1/payments/search")
    async def search_payments(
        request: Request,
        begin_date: str | None = None,
        end_date: str | None = None,
        range: str = "date_created",
        sort: str = "date_created",
        criteria: str = "desc",
        offset: int = 0,
        limit: int = 30,
    ) -> Any:
        """As Mercado Pago's: `range` names the date that begin_date/end_date bound
        (inclusive), `sort` the field to order by, `criteria` asc or desc."""
        if (refused := await guard(request, "mp")) is not None:
            return refused
        if range not in SEARCH_DATES or sort not in (*SEARCH_DATES, "id") or criteria not in ("asc", "desc"):
            return JSONResponse({"message": "invalid search parameters", "status": 400}, status_code=400)
        begin = _epoch(begin_date) if begin_date else float("-inf")
        end = _epoch(end_date) if end_date else float("inf")

        def key(payment: dict[str, Any]) -> Any:
            return payment["id"] if sort == "id" else _epoch(payment.get(sort) or "1970-01-01T00:00:00+00:00")

        with state.lock:
            matching = sorted(
                (p for p in state.payments.values() if p.get(range) and begin <= _epoch(p[range]) <= end),
                key=key,
                reverse=criteria == "desc",
            )
        return {
            "paging": {"total": len(matching), "limit": limit, "offset": offset},
            "results": matching[offset : offset + limit],
        }

    async def lookup(request: Request, found: dict[str, Any] | None, what: str) -> Any:
        if (refused := await guard(request, "mp")) is not None:
            return refused
        if found is None:
            return JSONResponse({"message": f"{what} not found", "error": "not_found", "status": 404}, status_code=404)
        return found

    @mp.get("/v1/payments/{payment_id}")
    async def get_payment(request: Request, payment_id: str) -> Any:
        return await lookup(request, state.payments.get(payment_id), "Payment")

    @mp.get("/merchant_orders/{order_id}")
    async def get_merchant_order(request: Request, order_id: str) -> Any:
        return await lookup(request, state.merchant_orders.get(order_id), "Merchant order")

    ghl = APIRouter(prefix="/ghl")

    @ghl.get("/contacts/search/duplicate")
    async def search_contact(request: Request, locationId: str, email: str | None = None) -> Any:  # noqa: N803 - GoHighLevel names its query parameter so
        if (refused := await guard(request, "ghl")) is not None:
            return refused
        with state.lock:
            found = next(
                (c for c in state.contacts.values() if c["email"] == email and c["locationId"] == locationId), None
            )
        return {"contact": found}

    @ghl.post("/contacts/upsert")
    async def upsert_contact(request: Request) -> Any:
        if (refused := await guard(request, "ghl")) is not None:
            return refused
        body = await request.json()
        if not body.get("locationId") or not body.get("email"):
            return JSONResponse({"message": "locationId and email are required", "statusCode": 422}, status_code=422)
        with state.lock:
            existing = next((c for c in state.contacts.values() if c["email"] == body["email"]), None)
        if existing:
            return {"new": False, "contact": existing}
        contact_id = state.add_contact(body["email"])
        return {"new": True, "contact": state.contacts[contact_id]}

    @ghl.post("/contacts/{contact_id}/tags")
    async def add_tags(request: Request, contact_id: str) -> Any:
        if (refused := await guard(request, "ghl")) is not None:
            return refused
        body = await request.json()
        with state.lock:
            contact = state.contacts.get(contact_id)
            if contact is None:
                request.state.call.status = 400
                return JSONResponse({"message": "Contact not found", "statusCode": 400}, status_code=400)
            contact["tags"] = sorted(set(contact["tags"]) | set(body.get("tags") or []))
            return {"tags": contact["tags"]}

    control = APIRouter(prefix="/sandbox")

    @control.put("/payments/{payment_id}")
    async def put_payment(payment_id: str, request: Request) -> Any:
        body = await request.json() if await request.body() else {}
        return state.put_payment(
            payment_id,
            body.get("status", "approved"),
            email=body.get("email", "buyer@example.com"),
            amount=float(body.get("amount", 100.0)),
            updated=body.get("updated"),
        )

    @control.put("/chaos/{upstream}")
    async def put_chaos(upstream: str, request: Request) -> Any:
        """Random faults for `mp` or `ghl` (fields of Chaos; `{}` turns them off)."""
        if upstream not in ("mp", "ghl"):
            raise HTTPException(404, "upstream is mp or ghl")
        chaos = Chaos(**(await request.json()))
        with state.lock:
            state.chaos[upstream] = chaos
        return asdict(chaos)

    @control.get("/calls")
    async def list_calls(upstream: str, method: str | None = None, path_prefix: str = "") -> Any:
        """The calls made to an upstream: when, what, and what the sandbox answered."""
        return [
            {"method": c.method, "path": c.path, "at": c.at, "status": c.status, "body": c.body}
            for c in state.calls_to(upstream, method, path_prefix)
        ]

    @control.get("/contacts")
    async def list_contacts() -> Any:
        with state.lock:
            return list(state.contacts.values())

    @control.get("/payments/{payment_id}")
    async def show_payment(payment_id: str) -> Any:
        if payment_id not in state.payments:
            raise HTTPException(404, "no such payment")
        return state.payments[payment_id]

    app.include_router(mp)
    app.include_router(ghl)
    app.include_router(control)
    return app
