"""Pages every resource shares: not found, refused, unavailable; and where a form may send
the browser back to (only a console page: never an open redirect)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .sessions import Session
from .views import render


def safe_back(asked: str, default: str) -> str:
    return asked if asked.startswith("/console/") and not asked.startswith("//") and "\\" not in asked else default


def problem(
    request: Request, session: Session | None, status: int, title: str, message: str, back: str, back_label: str
) -> Response:
    return render(
        request, "problem.html", session, status=status, title=title, message=message, back=back, back_label=back_label
    )


def not_found(request: Request, session: Session, message: str, back: str, back_label: str) -> Response:
    return problem(request, session, 404, "Not found", message, back, back_label)
