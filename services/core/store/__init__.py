"""The event store: every operation on events is one Lua script, so it is atomic and one
round trip. `calls` builds each script call and parses its answer; `EventStore` runs them
on a blocking client, `AsyncEventStore` on an asyncio one; `model` holds what they take
and give back."""

from .aio import AsyncEventStore
from .calls import EventCalls
from .sync import EventStore

__all__ = ["AsyncEventStore", "EventCalls", "EventStore"]
