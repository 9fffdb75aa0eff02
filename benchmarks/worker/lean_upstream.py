"""A lean fake of the 4 upstream endpoints an event uses, for the worker benchmark: a
small HTTP/1.1 server on raw asyncio streams (keep-alive, Content-Length bodies), so
that "zero latency" means the upstream answers in a few tens of microseconds instead of
FastAPI's ~1.4 ms of CPU per request, which the worker would otherwise wait for.

It answers what the sandbox (services.sandbox.app) answers, in the same JSON shapes,
and checks the same headers:

  GET  /mp/v1/payments/{id}                      Authorization: Bearer <MP token>
       -> the payment (as SandboxState.put_payment makes it) | 404
  GET  /ghl/contacts/search/duplicate?locationId=&email=
       -> {"contact": {...} | null}
  POST /ghl/contacts/upsert {"locationId", "email", ...}
       -> {"new": bool, "contact": {...}} | 422
  POST /ghl/contacts/{id}/tags {"tags": [...]}  -> {"tags": [...]} | 400
       (GoHighLevel: Authorization: Bearer <GHL token> and Version: <version>;
        a wrong token answers 401, a wrong version 400, as the sandbox)

plus the benchmark's two routes, as benchmarks/worker/upstream.py:

  POST /bench/reset {"latency": s, "prefix": p, "count": n, "first_id": i}
  GET  /bench/calls

Latency (`latency` of the reset) is an asyncio.sleep before each upstream answer, so
concurrent requests wait concurrently, as in the sandbox.

Usage: python -m benchmarks.worker.lean_upstream --port P --mp-token T --ghl-token T
       --location L [--version 2021-07-28]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from benchmarks.worker.upstream import endpoint, parse_args, seed
from services.sandbox.state import SandboxState

REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 422: "Unprocessable Entity"}


class Lean:
    def __init__(self, mp_token: str, ghl_token: str, location: str, version: str) -> None:
        self.state = SandboxState(mp_token, ghl_token, version, location)
        self.mp_auth = f"Bearer {mp_token}"
        self.ghl_auth = f"Bearer {ghl_token}"
        self.version = version
        self.calls: Counter = Counter()
        self.by_email: dict[str, dict[str, Any]] = {}

    def reset(self, body: dict[str, Any]) -> dict[str, Any]:
        state = self.state
        state.calls.clear()
        state.contacts.clear()
        state.payments.clear()
        self.by_email.clear()
        self.calls.clear()
        return seed(state, body)

    async def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        url = urlsplit(target)
        path = url.path
        if path == "/bench/reset" and method == "POST":
            return 200, self.reset(json.loads(body or b"{}"))
        if path == "/bench/calls" and method == "GET":
            return 200, {"total": sum(self.calls.values()), "by_endpoint": dict(sorted(self.calls.items()))}
        upstream, _, rest = path[1:].partition("/")
        rest = "/" + rest
        if upstream not in ("mp", "ghl"):
            return 404, {"detail": "Not Found"}
        self.calls[endpoint(upstream, method, rest)] += 1
        if self.state.latency_seconds:
            await asyncio.sleep(self.state.latency_seconds)
        if headers.get("authorization") != (self.mp_auth if upstream == "mp" else self.ghl_auth):
            return 401, {"message": "invalid access token", "status": 401}
        if upstream == "mp":
            if method == "GET" and rest.startswith("/v1/payments/"):
                found = self.state.payments.get(rest[len("/v1/payments/") :])
                if found is None:
                    return 404, {"message": "Payment not found", "error": "not_found", "status": 404}
                return 200, found
            return 404, {"detail": "Not Found"}
        if headers.get("version") != self.version:
            return 400, {"message": "Version header missing or unsupported", "statusCode": 400}
        if method == "GET" and rest == "/contacts/search/duplicate":
            query = dict(parse_qsl(url.query))
            found = self.by_email.get(query.get("email", ""))
            if found is not None and found["locationId"] != query.get("locationId"):
                found = None
            return 200, {"contact": found}
        if method == "POST" and rest == "/contacts/upsert":
            payload = json.loads(body or b"{}")
            if not payload.get("locationId") or not payload.get("email"):
                return 422, {"message": "locationId and email are required", "statusCode": 422}
            existing = self.by_email.get(payload["email"])
            if existing:
                return 200, {"new": False, "contact": existing}
            contact_id = self.state.add_contact(payload["email"])
            contact = self.state.contacts[contact_id]
            self.by_email[payload["email"]] = contact
            return 200, {"new": True, "contact": contact}
        if method == "POST" and rest.startswith("/contacts/") and rest.endswith("/tags"):
            contact = self.state.contacts.get(rest[len("/contacts/") : -len("/tags")])
            if contact is None:
                return 400, {"message": "Contact not found", "statusCode": 400}
            contact["tags"] = sorted(set(contact["tags"]) | set(json.loads(body or b"{}").get("tags") or []))
            return 200, {"tags": contact["tags"]}
        return 404, {"detail": "Not Found"}

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                status, answer = await self.handle(method, target, headers, body)
                data = json.dumps(answer, separators=(",", ":")).encode()
                writer.write(
                    f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\ncontent-type: application/json\r\n"
                    f"content-length: {len(data)}\r\n\r\n".encode()
                    + data
                )
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def run(args: argparse.Namespace) -> None:
    lean = Lean(args.mp_token, args.ghl_token, args.location, args.version)
    server = await asyncio.start_server(lean.serve, args.host, args.port)
    async with server:
        await server.serve_forever()


def main() -> None:
    args = parse_args(__doc__)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
