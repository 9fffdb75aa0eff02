"""The chaos run's short profile (benchmarks/chaos.py, docs/reliability.md "Chaos
run"): real processes, random kills of every component and of Redis, upstream outages
longer than the retry schedule, under a steady signed load; every invariant must hold."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "chaos.py"
_spec = importlib.util.spec_from_file_location("chaos_run", _PATH)
assert _spec is not None and _spec.loader is not None
chaos = importlib.util.module_from_spec(_spec)
# Registered first: its dataclasses look their module up while they are made.
sys.modules[_spec.name] = chaos
_spec.loader.exec_module(chaos)


@pytest.mark.timeout(360)
def test_every_invariant_holds_through_the_short_chaos_profile() -> None:
    report = chaos.run(chaos.Profile.short())
    print(report.table())
    assert not report.failures, "\n" + report.table()
