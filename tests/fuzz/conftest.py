"""Hypothesis profiles for the fuzz tests: bounded, no deadline (a shared 2-CPU CI box
makes timings meaningless), and derandomized in CI so a run there cannot fail on an
example no run before it saw; locally each run explores new inputs."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "fuzz", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
settings.register_profile("fuzz-ci", parent=settings.get_profile("fuzz"), derandomize=True)
settings.load_profile("fuzz-ci" if os.environ.get("CI") else "fuzz")
