"""GoHighLevel (LeadConnector) API v2: find or create a contact, add tags.
Every call sends `Authorization: Bearer <token>` and `Version: <GHL_API_VERSION>`, and
passes the shared rate limiter first."""

from __future__ import annotations

from typing import Any

from redis import Redis

from services.core.settings import Settings

from ..metrics import GHL_RATE_LIMIT_WAIT_SECONDS, GHL_RATE_LIMIT_WAITS
from ..ratelimit import SlidingWindowLimiter
from .http import Upstream


def _count_wait(seconds: float) -> None:
    GHL_RATE_LIMIT_WAITS.inc()
    GHL_RATE_LIMIT_WAIT_SECONDS.inc(seconds)


class HighLevel:
    def __init__(self, settings: Settings, redis: Redis) -> None:
        headers = {"Authorization": f"Bearer {settings.ghl_api_token}", "Version": settings.ghl_api_version}
        self.api = Upstream("highlevel", settings.ghl_api_base_url, headers, on_wait=_count_wait)
        self.location_id = settings.ghl_location_id
        self.limiter = SlidingWindowLimiter(
            redis,
            f"{settings.key_prefix}:ratelimit:highlevel:{settings.ghl_location_id}",
            settings.ghl_rate_limit_requests,
            settings.ghl_rate_limit_window_seconds,
            on_wait=_count_wait,
        )
        # Set when the payment step already took the limiter's token for the next call.
        self.token_taken = False

    def _take_token(self) -> None:
        if self.token_taken:
            self.token_taken = False
        else:
            self.limiter.acquire()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.api.call(method, path, before=self._take_token, **kwargs)

    def find_contact_id(self, email: str) -> str | None:
        body = self._call("GET", "/contacts/search/duplicate", params={"locationId": self.location_id, "email": email})
        contact = (body or {}).get("contact")
        return contact.get("id") if isinstance(contact, dict) else None

    def upsert_contact(self, email: str, first_name: str | None, last_name: str | None) -> str:
        payload = {"locationId": self.location_id, "email": email, "source": "Mercado Pago"}
        if first_name:
            payload["firstName"] = first_name
        if last_name:
            payload["lastName"] = last_name
        body = self._call("POST", "/contacts/upsert", json=payload)
        return body["contact"]["id"]

    def add_tags(self, contact_id: str, tags: list[str]) -> None:
        self._call("POST", f"/contacts/{contact_id}/tags", json={"tags": tags})

    def close(self) -> None:
        self.api.close()
