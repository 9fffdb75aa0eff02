"""What the receiver's routes share, created once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis
from starlette.requests import Request

from services.core.settings import Settings
from services.core.store import AsyncEventStore

from .signature import SignatureVerifier


@dataclass(frozen=True)
class ReceiverState:
    settings: Settings
    redis: Redis
    store: AsyncEventStore
    # None only when MP_ALLOW_UNSIGNED=true and no secret is set.
    verifier: SignatureVerifier | None


def receiver_state(request: Request) -> ReceiverState:
    return cast(ReceiverState, request.app.state.receiver)
