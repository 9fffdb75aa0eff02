"""`mp-webhooks sandbox`: the local stand-in for Mercado Pago and GoHighLevel that
`mp-webhooks dev` runs when no credentials are set."""

from __future__ import annotations

import argparse

from .arguments import port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port, default=8010)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from services.core.logs import configure_logging
    from services.core.settings import load_settings
    from services.sandbox.app import create_sandbox
    from services.sandbox.state import SandboxState

    settings = load_settings()
    configure_logging(settings.log_level)
    state = SandboxState(
        settings.mp_access_token or "",
        settings.ghl_api_token or "",
        settings.ghl_api_version,
        settings.ghl_location_id or "",
    )
    uvicorn.run(create_sandbox(state), host=args.host, port=args.port, access_log=False, log_config=None)
    return 0
