"""`mp-webhooks console`: the operators' web pages."""

from __future__ import annotations

import argparse

from .http_serving import add_listen_arguments, serve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_listen_arguments(parser, default_port=8080)


def run(args: argparse.Namespace) -> int:
    from services.console.app import create_app
    from services.core.logs import configure_logging
    from services.core.redis_client import checked_settings

    settings = checked_settings()
    app = create_app(settings)
    configure_logging(settings.log_level)
    return serve(app, args)
