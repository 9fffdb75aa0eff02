"""`mp-webhooks`: one console script for every component and operator command.

Each command's module is imported only when it runs, so `mp-webhooks events` does not
pay for FastAPI and `mp-webhooks receiver` does not import RQ's worker.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from services.core.settings import ConfigError

# command -> (module, help); each module has `add_arguments(parser)` and `run(args) -> int`.
COMMANDS = {
    "receiver": ("services.cli.receiver_command", "run the webhook receiver (FastAPI on uvicorn)"),
    "worker": ("services.cli.worker_command", "process queued events (RQ worker)"),
    "scheduler": ("services.cli.scheduler_command", "move due retries onto the queue (rq-scheduler)"),
    "reconcile": ("services.cli.reconcile_command", "repair stuck events, apply retention, sweep for missed payments"),
    "retry": ("services.cli.retry_command", "queue events again now (default: failed ones)"),
    "events": ("services.cli.events_command", "list, show and count stored events"),
    "payments": ("services.cli.payments_command", "list and show stored payment states"),
    "console": ("services.cli.console_command", "run the operations console (web pages for operators)"),
    "dev": ("services.cli.dev_command", "the whole system on this machine, for trying and developing it"),
    "send-test": ("services.cli.send_test_command", "send a signed test notification to a receiver"),
    "sandbox": ("services.cli.sandbox_command", "a local stand-in for the Mercado Pago and GoHighLevel APIs"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mp-webhooks", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(module=module_name)
        importlib.import_module(module_name).add_arguments(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = importlib.import_module(args.module).run(args)
        return code
    except ConfigError as error:
        print(f"mp-webhooks: configuration error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
