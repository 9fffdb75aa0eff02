"""`mp-webhooks receiver`."""

from __future__ import annotations

import argparse

from .http_serving import add_listen_arguments, serve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_listen_arguments(parser, default_port=8000)


def run(args: argparse.Namespace) -> int:
    import gc

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
    return serve(app, args)
