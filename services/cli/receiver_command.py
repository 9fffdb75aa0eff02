"""`mp-webhooks receiver`."""

from __future__ import annotations

import argparse

from .arguments import port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # A container's port, reached through its Service (and the NetworkPolicy).
    parser.add_argument("--host", default="0.0.0.0")  # nosec B104 - listens on the pod's address
    parser.add_argument("--port", type=port, default=8000)


def run(args: argparse.Namespace) -> int:
    import gc

    import uvicorn

    from services.core.logs import configure_logging
    from services.core.redis_client import checked_settings
    from services.receiver.app import create_app

    settings = checked_settings()
    app = create_app(settings)
    configure_logging(settings.log_level)
    # Everything alive after start-up lives as long as the process: moving it out of the
    # collector's reach keeps full collections (the p99 under load) short (docs/benchmarks-receiver.md).
    gc.collect()
    gc.freeze()
    # Access logs off: every accepted notification is logged by the route, with its id.
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_config=None, server_header=False)
    return 0
