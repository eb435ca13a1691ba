"""The fault suite's report: each test records (fault, expected, observed) and the session prints
them as one table (the README's fault table is copied from it).

A test calls ``fault_report(fault=..., expected=..., observed=...)`` once it has asserted the
outcome; ``observed`` is what the test measured (counts by id, run status, cursor, message, time),
not a restatement of ``expected``. Rows of a failed test are never recorded, because the assertion
that fails comes before the call.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

_ROWS: list[tuple[str, str, str, str]] = []


@pytest.fixture
def fault_report(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Record one row of the fault table for the calling test."""

    def record(*, fault: str, expected: str, observed: str) -> None:
        _ROWS.append((request.node.module.__name__.rsplit(".", 1)[-1], fault, expected, observed))

    return record


def fault_table() -> str:
    """The recorded rows as a Markdown table, in the order the tests ran."""
    lines = ["| fault | expected | observed |", "|---|---|---|"]
    for _, fault, expected, observed in _ROWS:
        cells = (c.replace("|", "\\|").replace("\n", " ") for c in (fault, expected, observed))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _ROWS:
        return
    table = fault_table()
    terminalreporter.write_sep("=", f"fault suite: {len(_ROWS)} faults survived")
    terminalreporter.write_line(table)
    # C2C_FAULT_TABLE=path keeps a copy to paste into the README.
    target = os.environ.get("C2C_FAULT_TABLE")
    if target:
        Path(target).write_text(table + "\n")
