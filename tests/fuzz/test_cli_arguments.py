"""Every CLI argument parser, fuzzed: any command line either parses into values each
command can use, or is a usage error (exit 2 with a message); never a traceback."""

from __future__ import annotations

import argparse
import contextlib
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.cli.arguments import MAX_PORT
from services.cli.main import COMMANDS, build_parser

PARSER = build_parser()
NUMBERS = st.integers(-(10**6), 10**6).map(str) | st.sampled_from(["0", "-1", "65536", "1e3", "", "x", "١٢"])
DATES = st.sampled_from(["2026-11-29T10:00Z", "2026-11-29t10:00z", "2026-11-29", "yesterday", "2026-13-01T00:00Z"])


def _options(command: str) -> list[str]:
    sub = PARSER._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr] - argparse keeps them here
    found = [option for action in sub._actions for option in action.option_strings]
    for action in sub._actions:
        if isinstance(action, argparse._SubParsersAction):
            found += list(action.choices)
    return found


def _argv(command: str) -> st.SearchStrategy[list[str]]:
    token = st.sampled_from(_options(command)) | NUMBERS | DATES | st.text(max_size=10)
    return st.lists(token, max_size=6).map(lambda rest: [command, *rest])


def _parse(argv: list[str]) -> argparse.Namespace | None:
    with contextlib.redirect_stderr(io.StringIO()) as err, contextlib.redirect_stdout(io.StringIO()):
        try:
            return PARSER.parse_args(argv)
        except SystemExit as exit_:
            assert exit_.code in (0, 2), exit_.code
            assert exit_.code == 0 or "error:" in err.getvalue()
            return None


@pytest.mark.parametrize("command", list(COMMANDS))
@given(data=st.data())
def test_any_command_line_parses_to_usable_values_or_is_a_usage_error(command: str, data: st.DataObject) -> None:
    args = _parse(data.draw(_argv(command)))
    if args is None:
        return
    values = vars(args)
    for name in ("port", "sandbox_port", "metrics_port", "redis_port"):
        if name in values:
            assert 1 <= values[name] <= MAX_PORT, (name, values[name])
    for name in ("limit", "count"):
        if name in values:
            assert values[name] >= 1, (name, values[name])


@pytest.mark.parametrize(
    "argv",
    [
        # Regressions: each was accepted and then did nothing (limit, count) or failed
        # later with a traceback from the server (port).
        ["events", "list", "--limit", "0"],
        ["retry", "--limit", "-5"],
        ["send-test", "--count", "0"],
        ["receiver", "--port", "70000"],
        ["dev", "--redis-port", "0"],
    ],
)
def test_out_of_range_numbers_are_usage_errors(argv: list[str]) -> None:
    assert _parse(argv) is None
