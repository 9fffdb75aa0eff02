"""Form bodies (application/x-www-form-urlencoded), parsed here rather than with
python-multipart: the console's forms are a handful of short fields, and the stdlib
parser with a size cap is all they need."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request

MAX_FORM_BYTES = 64 * 1024


class FormTooLargeError(Exception):
    pass


class Form:
    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.fields = fields

    def first(self, name: str) -> str:
        values = self.fields.get(name)
        return values[0] if values else ""

    def all(self, name: str) -> list[str]:
        return self.fields.get(name, [])


async def read_form(request: Request) -> Form:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormTooLargeError
    return Form(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
