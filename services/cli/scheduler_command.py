"""`mp-webhooks scheduler`."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--burst", action="store_true", help="move the jobs due now, then exit")


def run(args: argparse.Namespace) -> int:
    from services.core.redis_client import checked_settings
    from services.scheduler.runner import run_scheduler

    run_scheduler(checked_settings(), burst=args.burst)
    return 0
