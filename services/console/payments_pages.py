"""The payments pages: the stored payment states with filters (read from the payments
indexes), and one payment with the events of its resource."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from services.core.store.model import EventQuery, PaymentQuery

from . import filters as filtering
from .guard import signed_in
from .pages import not_found
from .state import console_state
from .views import render

router = APIRouter(prefix="/console/payments")
PAGE_SIZE = 50
EVENTS_SHOWN = 50


@router.get("", name="payments")
async def payments_list(request: Request) -> Response:
    session = signed_in(request)
    state = console_state(request)
    filters = filtering.parse(request.query_params, filtering.PAYMENT_STATUSES)
    if filters.q:
        # A payment id is a direct lookup: its page, or the list saying it is unknown.
        if await state.store.payment(filters.q) is not None:
            return RedirectResponse(f"/console/payments/{filters.q}", status_code=303)
        filters.errors.append(f"no stored payment {filters.q!r}")
    query = PaymentQuery(
        status=filters.status, since=filters.since, until=filters.until, cursor=filters.cursor, limit=PAGE_SIZE
    )
    page = await state.store.payments_page(query)
    return render(
        request,
        "payments.html",
        session,
        status=400 if filters.errors else 200,
        filters=filters,
        statuses=filtering.PAYMENT_STATUSES,
        payments=page.items,
        total=page.total,
        next_cursor=page.next_cursor,
    )


@router.get("/{payment_id}", name="payment")
async def payment_detail(request: Request, payment_id: str) -> Response:
    session = signed_in(request)
    state = console_state(request)
    payment = await state.store.payment(payment_id)
    if payment is None:
        return not_found(request, session, f"No stored payment {payment_id}.", "/console/payments", "Back to payments")
    events = await state.store.page(EventQuery(resource_id=payment_id, limit=EVENTS_SHOWN))
    return render(
        request,
        "payment.html",
        session,
        payment=payment,
        events=events.items,
        events_total=events.total,
    )
