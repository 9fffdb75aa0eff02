"""`mp-webhooks send-test`: sends a notification shaped and signed like Mercado Pago's
(like `stripe trigger`), to the local dev stack or a cluster's receiver (`--url`)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .arguments import positive_int

if TYPE_CHECKING:
    import httpx

TERMINAL = ("success", "failed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the receiver's base URL")
    parser.add_argument("--type", default="payment", help="notification type (default payment)")
    parser.add_argument(
        "--status", default="approved", help="payment status to set in the sandbox first (default approved)"
    )
    parser.add_argument("--payment-id", help="resource id (default: a random one)")
    parser.add_argument("--ipn", action="store_true", help="send the legacy IPN format (?topic=...&id=...)")
    parser.add_argument("--count", type=positive_int, default=1, help="send this many distinct notifications")
    parser.add_argument("--follow", action="store_true", help="then show the event's processing until it ends")
    parser.add_argument(
        "--secret",
        default=os.environ.get("MP_WEBHOOK_SECRET", "").split(",")[0],
        help="webhook secret to sign with (default: MP_WEBHOOK_SECRET; unsigned when empty)",
    )
    parser.add_argument(
        "--api-token",
        default=os.environ.get("API_TOKEN", "dev-token"),
        help="for --follow (default: API_TOKEN or dev-token)",
    )
    parser.add_argument(
        "--sandbox-url",
        default="http://127.0.0.1:8010",
        help="the dev sandbox, where the payment is created first; ignored when it does not answer",
    )


def _notification(args: argparse.Namespace, resource_id: str) -> tuple[str, dict[str, str], bytes]:
    from services.receiver.signature import sign

    if args.ipn:
        return f"{args.url}/webhooks/mp?topic={args.type}&id={resource_id}", {}, b""
    body = {
        "id": random.randint(10**10, 10**11),
        "live_mode": False,
        "type": args.type,
        "date_created": datetime.now(UTC).isoformat(timespec="seconds"),
        "user_id": 123456789,
        "api_version": "v1",
        "action": f"{args.type}.updated",
        "data": {"id": resource_id},
    }
    headers = {"content-type": "application/json", "x-request-id": f"send-test-{time.time_ns()}"}
    if args.secret:
        headers["x-signature"] = sign(args.secret, resource_id, headers["x-request-id"], str(int(time.time())))
    return f"{args.url}/webhooks/mp?data.id={resource_id}&type={args.type}", headers, json.dumps(body).encode()


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // total
    print(
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
        end="" if done < total else "\n",
        file=sys.stderr,
        flush=True,
    )


def run(args: argparse.Namespace) -> int:
    import httpx

    answers: list[dict[str, Any]] = []
    failures = 0
    with httpx.Client(timeout=10) as client:
        for n in range(args.count):
            resource_id = (
                args.payment_id
                if args.payment_id and args.count == 1
                else (f"{args.payment_id}{n}" if args.payment_id else str(random.randint(10**9, 10**10)))
            )
            if args.type == "payment":
                # A real cluster has no sandbox: Mercado Pago answers for itself.
                with contextlib.suppress(httpx.HTTPError):
                    client.put(f"{args.sandbox_url}/sandbox/payments/{resource_id}", json={"status": args.status})
            url, headers, body = _notification(args, resource_id)
            try:
                response = client.post(url, headers=headers, content=body)
            except httpx.HTTPError as error:
                print(f"could not reach the receiver at {args.url}: {error}", file=sys.stderr)
                return 1
            failures += response.status_code != 200
            answers.append({"code": response.status_code, **_json(response)})
            if args.count > 1:
                _progress(n + 1, args.count)
        if args.count == 1:
            print(f"{answers[0]['code']} {json.dumps({k: v for k, v in answers[0].items() if k != 'code'})}")
        else:
            print(f"sent {args.count}: {args.count - failures} answered 200, {failures} not")
        if args.follow and answers[-1].get("event_id"):
            return _follow(client, args, answers[-1]["event_id"])
    return 1 if failures else 0


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    return {"body": response.text[:200]}


def _follow(client: httpx.Client, args: argparse.Namespace, event_id: str, timeout: float = 120.0) -> int:
    seen = None
    deadline = time.monotonic() + timeout
    headers = {"authorization": f"Bearer {args.api_token}"}
    while time.monotonic() < deadline:
        response = client.get(f"{args.url}/api/webhook-events/{event_id}", headers=headers)
        if response.status_code != 200:
            print(f"cannot follow: {response.status_code} {response.text[:200]}", file=sys.stderr)
            return 1
        event = response.json()
        state = (event["status"], event["attempts"])
        if state != seen:
            seen = state
            line = f"{event['status']:<10} attempt {event['attempts']}/{event['max_attempts']}"
            if event.get("last_error"):
                line += f"  last error: {event['last_error']}"
            if event["status"] == "pending" and event.get("next_retry_at") and event["attempts"]:
                line += f"  next try at {event['next_retry_at']}"
            print(line, flush=True)
        if event["status"] in TERMINAL:
            if event.get("result"):
                print("result: " + json.dumps(event["result"]))
            return 0 if event["status"] == "success" else 1
        time.sleep(0.3)
    print(f"event {event_id} did not finish within {timeout:.0f}s", file=sys.stderr)
    return 1
