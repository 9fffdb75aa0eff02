"""`mp-webhooks worker [--burst]`."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--burst", action="store_true", help="drain the queue, then exit")


def run(args: argparse.Namespace) -> int:
    from services.core.redis_client import checked_settings
    from services.worker.runner import run_worker

    run_worker(checked_settings(), burst=args.burst)
    return 0
