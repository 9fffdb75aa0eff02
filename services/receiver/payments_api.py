"""/api/payments: the stored payment states (SPEC "Payments API"), read from their
indexes, so a page costs the same however many payments are stored."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from services.core.auth import Scope
from services.core.store.model import PaymentQuery

from .api_auth import AUTH_RESPONSES, require
from .params import PageCursor, PageSize, instant, instant_query
from .state import receiver_state

router = APIRouter(
    prefix="/api/payments",
    tags=["payments"],
    dependencies=[Depends(require(Scope.READ))],
    responses=AUTH_RESPONSES,
)


@router.get("", summary="List payments, latest update first", responses={400: {"description": "Bad filter value."}})
async def list_payments(
    request: Request,
    status: Annotated[str | None, Query(description="Mercado Pago's payment status, e.g. approved")] = None,
    since: Annotated[str | None, instant_query("date_last_updated from, inclusive")] = None,
    until: Annotated[str | None, instant_query("date_last_updated to, inclusive")] = None,
    limit: PageSize = 50,
    cursor: PageCursor = None,
) -> dict[str, Any]:
    state = receiver_state(request)
    query = PaymentQuery(
        status=status or None,
        since=instant(since, "since"),
        until=instant(until, "until"),
        cursor=cursor,
        limit=limit,
    )
    page = await state.store.payments_page(query)
    return {
        "items": [payment.to_api(with_events=False) for payment in page.items],
        "next_cursor": page.next_cursor,
        "total": page.total,
    }


@router.get(
    "/{payment_id}",
    summary="One payment with the ids of the events that touched it, newest first",
    responses={404: {"description": "No stored payment with this id."}},
)
async def get_payment(request: Request, payment_id: str) -> dict[str, Any]:
    state = receiver_state(request)
    payment = await state.store.payment(payment_id)
    if payment is None:
        raise HTTPException(404, f"no payment {payment_id}")
    return payment.to_api()
