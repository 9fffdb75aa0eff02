#!/usr/bin/env python3
"""Where the receiver's time goes: serves modified receivers and measures each.

An attribution tool for docs/benchmarks-receiver.md, not a product path: each variant
is the real receiver (load_settings, create_app, configure_logging, uvicorn.run with
the arguments `mp-webhooks receiver` uses) with one thing changed in the running
process, measured with wrk like benchmarks/receiver_bench.py (same pinning, same
pre-signed distinct notifications). The server's CPU time per request is reported
because it is much steadier than req/s on a shared machine.

Variants (combine with '+', e.g. no-log+gc-freeze):
  receiver      as shipped
  bare          the bare FastAPI endpoint (bare_app.py)
  no-log        LOG_LEVEL=WARNING: no JSON log line per accepted notification
  no-redis      store.receive replaced by a stub: every cost but Redis and job prep
  gc-freeze     gc.collect(); gc.freeze() before serving (start-up objects leave the GC)
(The receiver now ships the job template and the batching these variants first
measured; `mp-webhooks receiver` also freezes the GC, which uvicorn.run here does not.)

Usage: .venv/bin/python benchmarks/receiver/variants.py receiver gc-freeze ... [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

VARIANTS = ("receiver", "bare", "no-log", "no-redis", "gc-freeze")


def serve(port: int, variant: str) -> None:
    import uvicorn

    parts = set(variant.split("+"))
    if "bare" in parts:
        import bare_app

        uvicorn.run(bare_app.app, host="127.0.0.1", port=port, access_log=False, log_config=None, server_header=False)
        return

    from services.core.logs import configure_logging
    from services.core.settings import load_settings
    from services.core.store.model import Receipt, ReceiptStatus
    from services.receiver.app import create_app

    settings = load_settings()
    app = create_app(settings)
    configure_logging("WARNING" if "no-log" in parts else settings.log_level)
    store = app.state.receiver.store

    if "no-redis" in parts:

        async def stub(event, now=None):
            return Receipt(ReceiptStatus.RECEIVED, "0" * 23)

        store.receive = stub
    if "gc-freeze" in parts:
        import gc

        gc.collect()
        gc.freeze()
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_config=None, server_header=False)


def main() -> int:
    import receiver_bench as bench
    import redis

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--repeat", type=int, default=2, help="passes over the variant list")
    parser.add_argument("--duration", type=int, default=6)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--loadgen-cpu", type=int, default=1)
    args = parser.parse_args()
    for variant in args.variants:
        unknown = set(variant.split("+")) - set(VARIANTS)
        if unknown:
            raise SystemExit(f"unknown variant part(s) {', '.join(sorted(unknown))}; known: {', '.join(VARIANTS)}")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: run scripts/tools/install-wrk")

    client = redis.Redis.from_url(args.redis_url)
    client.flushdb()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MP_", "MPWH_", "GHL_", "API_TOKEN"))}
    env.update(
        {
            "REDIS_URL": args.redis_url,
            "MPWH_KEY_PREFIX": bench.PREFIX,
            "MP_WEBHOOK_SECRET": bench.SECRET,
            "PYTHONPATH": str(bench.ROOT),
        }
    )
    workdir = Path(tempfile.mkdtemp(prefix="mpwh-variants-"))
    signed = workdir / "signed.tsv"
    os.sched_setaffinity(0, {args.loadgen_cpu})
    print(f"{'variant':<40} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10} {'non-200':>7}")
    try:
        for attempt in range(args.repeat):
            for variant in args.variants:
                server = bench.Server(
                    variant, [sys.executable, str(Path(__file__)), "--serve", variant], env, "/healthz", args.server_cpu
                )
                server.start()
                try:
                    tag = f"{int(time.time()) % 100000:05d}{attempt}"
                    bench.generate_signed(signed, 20000 * (args.duration + 2), tag)
                    bench.run_wrk(server.url, signed, args.connections, 1, 2)  # warm-up
                    client.flushdb()
                    before = server.cpu_seconds()
                    result = bench.run_wrk(server.url, signed, args.connections, 1, args.duration)
                    cpu = (server.cpu_seconds() - before) / max(1, result["requests"]) * 1e6
                finally:
                    server.stop()
                non_200 = sum(count for code, count in result["statuses"].items() if code != 200)
                print(
                    f"{variant:<40} {result['requests'] / result['seconds']:>7.0f} {result['p50_ms']:>7.1f}"
                    f" {result['p99_ms']:>7.1f} {cpu:>10.0f} {non_200:>7}",
                    flush=True,
                )
    finally:
        client.flushdb()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        # Started by main() as: --serve VARIANT --host 127.0.0.1 --port PORT
        serve(int(sys.argv[sys.argv.index("--port") + 1]), sys.argv[2])
    else:
        sys.exit(main())
