"""`mp-webhooks reconcile [--loop]`."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--loop", action="store_true", help="run a pass every RECONCILE_INTERVAL_SECONDS until stopped")


def run(args: argparse.Namespace) -> int:
    from services.core.redis_client import checked_settings
    from services.reconciler.runner import run_reconcile

    return run_reconcile(checked_settings(), loop=args.loop)
