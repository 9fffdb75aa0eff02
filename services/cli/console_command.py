"""`mp-webhooks console`: the operators' web pages."""

from __future__ import annotations

import argparse

from .arguments import port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="0.0.0.0")  # nosec B104 - listens on the pod's address
    parser.add_argument("--port", type=port, default=8080)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from services.console.app import create_app
    from services.core.logs import configure_logging
    from services.core.settings import load_settings

    settings = load_settings()
    app = create_app(settings)
    configure_logging(settings.log_level)
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_config=None, server_header=False)
    return 0
