"""What the HTTP components' commands share: where they listen and how uvicorn serves them."""

from __future__ import annotations

import argparse
from typing import Any


def add_listen_arguments(parser: argparse.ArgumentParser, default_port: int) -> None:
    from .arguments import port

    # A container's port, reached through its Service (and the NetworkPolicy).
    parser.add_argument("--host", default="0.0.0.0")  # nosec B104 - listens on the pod's address
    parser.add_argument("--port", type=port, default=default_port)


def serve(app: Any, args: argparse.Namespace) -> int:
    import uvicorn

    # Access logs off: the routes log what matters (every accepted notification with its id).
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_config=None, server_header=False)
    return 0
