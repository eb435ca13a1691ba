"""Which started runs have lost their process: pure reading of the run's events and of /proc.

Dagster's DefaultRunLauncher (``dagster dev``, the demo, the local instance of the tests) runs
each run as a process of the code server and records "Started process for run (pid: N)" as the
run's engine event. Nothing checks that process afterwards: its launcher has no worker health
check (``supports_check_run_worker_health`` is False), so run monitoring only times out runs that
never start. A run whose process was SIGKILLed (an OOM kill, a node restart, ``kill -9``) stays
STARTED for ever, and with one run per partition it holds every later run of its cluster in the
queue. This module says which runs are in that state; ``sensors.py`` marks them failed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

# The engine event the run's own process writes as it starts (dagster/_grpc/impl.py and
# dagster/_cli/api.py, Dagster 1.13); its metadata holds the pid.
STARTED_PROCESS_PREFIX = "Started process for run (pid:"

PROC = Path("/proc")


@dataclass(frozen=True)
class RunProcess:
    """The process a run reported as its own, and when it reported it (epoch seconds)."""

    run_id: str
    pid: int
    reported_at: float


def run_process(run_id: str, events: Iterable[dg.EventLogEntry]) -> RunProcess | None:
    """The run's process from its engine events: the last "Started process for run" (a resumed run
    reports its new process). None when the run has reported none (launched in-process, or still
    starting: run monitoring's start timeout covers those)."""
    found: RunProcess | None = None
    for entry in events:
        event = entry.dagster_event
        if event is None or not (entry.message or "").startswith(STARTED_PROCESS_PREFIX):
            continue
        pid = event.engine_event_data.metadata.get("pid") if event.engine_event_data else None
        text = getattr(pid, "value", pid)
        if isinstance(text, str) and text.isdigit():
            found = RunProcess(run_id, int(text), entry.timestamp)
    return found


def _boot_time(proc: Path) -> float:
    for line in (proc / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise RuntimeError(f"{proc}/stat has no btime")


def process_gone(process: RunProcess, proc: Path = PROC) -> bool:
    """Whether the run's process no longer runs on this host: no such pid, a zombie (killed, not
    yet reaped by its parent), or a pid reused by a process that started after the run reported
    it. Reads /proc (Linux), where a process' start time tells a reused pid apart."""
    stat_path = proc / str(process.pid) / "stat"
    try:
        stat = stat_path.read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    # Fields after the command name, which may hold spaces and parentheses: state is the first,
    # starttime (clock ticks after boot) the 20th.
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return True
    started = _boot_time(proc) + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    # The run's process wrote the event after it started; a process started later reuses the pid.
    # One second of slack: starttime is counted in clock ticks, btime in whole seconds.
    return started > process.reported_at + 1.0
