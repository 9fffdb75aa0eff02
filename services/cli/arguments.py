"""Argument types the commands share: a bad value is a usage error naming it (argparse
exits 2 with the message), never a traceback or a silent no-op later."""

from __future__ import annotations

import argparse

MAX_PORT = 65535


def _integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None


def positive_int(value: str) -> int:
    number = _integer(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {number}")
    return number


def port(value: str) -> int:
    number = _integer(value)
    if not 1 <= number <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"expected a TCP port (1-{MAX_PORT}), got {number}")
    return number
