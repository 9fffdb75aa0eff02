"""Who may see and do what: the session from the cookie, sign-in required for every page,
the CSRF token on every POST, the operator scope for retries. Failures are exceptions the
app turns into pages (app.py): a redirect to sign-in, 403 or 503."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from services.core.auth import Scope

from .forms import Form, read_form
from .sessions import COOKIE, Session
from .state import console_state


class SignInRequiredError(Exception):
    def __init__(self, next_url: str, expired: bool) -> None:
        self.next_url, self.expired = next_url, expired


class ConsoleDisabledError(Exception):
    """No operator or read-only token is configured: nobody could sign in."""


class RefusedError(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def visitor_session(request: Request) -> tuple[Session | None, bool]:
    """The request's valid session, if any, and whether its cookie had just expired."""
    if not console_state(request).settings.tokens.configured:
        raise ConsoleDisabledError
    return console_state(request).sessions.load(request.cookies.get(COOKIE))


def signed_in(request: Request) -> Session:
    session, expired = visitor_session(request)
    if session is None or not session.signed_in:
        # After a POST the page to come back to is the list (a POST cannot be replayed).
        asked = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequiredError(asked if request.method == "GET" else "/console/events", expired)
    return session


def check_csrf(session: Session, form: Form) -> None:
    if not hmac.compare_digest(form.first("csrf").encode(), session.csrf.encode()):
        raise RefusedError("The form's security token is missing or out of date. Reload the page and try again.")


async def posted(request: Request, needed: Scope) -> tuple[Session, Form]:
    """A signed-in POST: its session and form, after the CSRF and scope checks."""
    session = signed_in(request)
    form = await read_form(request)
    check_csrf(session, form)
    if needed == Scope.OPERATE and not session.may_retry:
        raise RefusedError("You are signed in read-only: retrying needs an operator token (API_TOKEN).")
    return session, form
