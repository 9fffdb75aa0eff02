"""What the console's routes share, created once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis
from starlette.requests import Request

from services.core.settings import Settings
from services.core.store import AsyncEventStore

from .sessions import SessionCodec


@dataclass(frozen=True)
class ConsoleState:
    settings: Settings
    redis: Redis
    store: AsyncEventStore
    sessions: SessionCodec


def console_state(request: Request) -> ConsoleState:
    return cast(ConsoleState, request.app.state.console)
