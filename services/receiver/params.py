"""Query parameters the APIs share."""

from __future__ import annotations

from fastapi import HTTPException

from services.core.timestamps import parse_instant


def instant(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError as error:
        raise HTTPException(400, f"{name}: {error}") from None
