"""GoHighLevel (LeadConnector) API v2: find or create a contact, add tags.
Every call sends `Authorization: Bearer <token>` and `Version: <GHL_API_VERSION>`, and
takes a token of the shared rate limiter first (`Permits`)."""

from __future__ import annotations

from collections.abc import Callable

from services.core.deadline import Deadline
from services.core.settings import Settings
from services.core.store import EventStore

from .breaker import breaker_for
from .http import Upstream
from .metrics import GHL_RATE_LIMIT_WAIT_SECONDS, GHL_RATE_LIMIT_WAITS
from .ratelimit import Permits, SlidingWindowLimiter


def _count_wait(seconds: float) -> None:
    GHL_RATE_LIMIT_WAITS.inc()
    GHL_RATE_LIMIT_WAIT_SECONDS.inc(seconds)


class HighLevel:
    def __init__(self, settings: Settings, store: EventStore) -> None:
        headers = {"Authorization": f"Bearer {settings.ghl_api_token}", "Version": settings.ghl_api_version}
        self.api = Upstream(
            "highlevel",
            settings.ghl_api_base_url,
            headers,
            on_wait=_count_wait,
            breaker=breaker_for(store, "highlevel"),
        )
        self.location_id = settings.ghl_location_id or ""
        self.limiter = SlidingWindowLimiter(
            store.redis,
            store.keys.rate_limit(self.location_id),
            settings.ghl_rate_limit_requests,
            settings.ghl_rate_limit_window_seconds,
            on_wait=_count_wait,
        )

    def permits(self, deadline: Deadline, *, first_taken: bool, check: Callable[[], None] | None = None) -> Permits:
        return Permits(self.limiter, deadline, first_taken=first_taken, check=check)

    def find_contact_id(self, email: str, permits: Permits) -> str | None:
        params = {"locationId": self.location_id, "email": email}
        body = self.api.call(
            "GET", "/contacts/search/duplicate", deadline=permits.deadline, before=permits.take, params=params
        )
        contact = body.get("contact")
        return str(contact["id"]) if isinstance(contact, dict) and contact.get("id") else None

    def upsert_contact(self, email: str, first_name: str | None, last_name: str | None, permits: Permits) -> str:
        payload = {"locationId": self.location_id, "email": email, "source": "Mercado Pago"}
        if first_name:
            payload["firstName"] = first_name
        if last_name:
            payload["lastName"] = last_name
        body = self.api.call("POST", "/contacts/upsert", deadline=permits.deadline, before=permits.take, json=payload)
        return str(body["contact"]["id"])

    def add_tags(self, contact_id: str, tags: list[str], permits: Permits) -> None:
        self.api.call(
            "POST", f"/contacts/{contact_id}/tags", deadline=permits.deadline, before=permits.take, json={"tags": tags}
        )

    def close(self) -> None:
        self.api.close()
