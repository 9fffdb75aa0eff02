"""Query parameters the APIs share."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Query

from services.core.store.model import MAX_PAGE
from services.core.timestamps import parse_instant

PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE, description="page size")]
PageCursor = Annotated[str | None, Query(description="next_cursor of the previous page")]


def instant_query(description: str) -> Any:
    # The document says date-time (RFC 3339, what parse_instant reads) so clients built
    # from it send what is accepted; other ISO-8601 forms with a zone work too.
    return Query(description=f"ISO-8601 with a zone, {description}", json_schema_extra={"format": "date-time"})


def instant(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError as error:
        raise HTTPException(400, f"{name}: {error}") from None
