"""One argument parser for every c2c command line: a bad argument is exit 2 and one line naming
the argument and what it takes, never a traceback and never a 100,000-character echo.

``argparse`` answers unknown options and unparsable numbers that way already; this adds the two
checks every option needs and argparse has no hook for: a value longer than ``MAX_VALUE_LENGTH``
and an empty value (``--build ""``) are refused before any code sees them. An option whose empty
value means "not given, read the environment" (``c2c-build-metadata``'s Jenkins fallbacks) says
so with ``allow_empty``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

# Far above any real argument (a build id is at most 512 bytes, OpenSearch's id limit; a path
# 4,096, Linux's PATH_MAX), far below what would make a one-line message unreadable.
MAX_VALUE_LENGTH = 4096
SHOWN = 60  # characters of a refused value echoed in the message


def shown(value: str) -> str:
    """``value`` for an error message: repr'd, cut to ``SHOWN`` characters."""
    return repr(value) if len(value) <= SHOWN else f"{value[:SHOWN]!r}... ({len(value)} characters)"


def allow_empty(action: argparse.Action) -> argparse.Action:
    """Mark ``action`` as taking an empty value (it then means "not given")."""
    action.c2c_allow_empty = True  # type: ignore[attr-defined]
    return action


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one line (usage is in ``--help``) and whose
    options refuse empty and over-long values. Subcommands get the same class."""

    def error(self, message: str) -> Any:  # argparse's signature: never returns
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    # argparse calls _get_values for every option and positional with the strings given; it is
    # the one place a check sees the action (for its name and metavar) before ``type`` runs.
    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        # A subcommand's action gets the whole rest of the line: only its first string is its own.
        own = arg_strings[:1] if action.nargs == argparse.PARSER else arg_strings
        for text in own:
            if len(text) > MAX_VALUE_LENGTH:
                raise argparse.ArgumentError(
                    action, f"{len(text)} characters; at most {MAX_VALUE_LENGTH} ({_wanted(action)})")
            if text == "" and not getattr(action, "c2c_allow_empty", False):
                raise argparse.ArgumentError(action, f"empty; expected {_wanted(action)}")
        return super()._get_values(action, arg_strings)


def _wanted(action: argparse.Action) -> str:
    if action.choices:
        return "one of " + ", ".join(map(str, action.choices))
    metavar = action.metavar if isinstance(action.metavar, str) else None
    what = metavar or (action.dest.upper() if action.dest else "a value")
    return f"{what}: {action.help}" if action.help and action.help != argparse.SUPPRESS else what


def whole_number(name: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number in [low, high], the message naming ``name``."""

    def parse(text: str) -> int:
        stripped = text.strip()
        if not stripped.lstrip("-").isdigit() or len(stripped) > 12 or not low <= int(stripped) <= high:
            raise argparse.ArgumentTypeError(f"{shown(text)}: {name} is a whole number from {low} to {high}")
        return int(stripped)

    return parse


def positive_seconds(name: str) -> Callable[[str], float]:
    """An argparse ``type``: a finite number of seconds above zero."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"{shown(text)}: {name} is a number of seconds above 0, e.g. 30")
        return value

    return parse

