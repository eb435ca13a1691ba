"""A run's process is told gone from /proc exactly when it is: alive is alive, a SIGKILLed process
is gone whether or not its parent has reaped it (a zombie), and a pid now held by a process that
started after the run reported it (a reused pid) is gone. Real processes, no emulation."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from c2c_dagster.runs.dead_runs import RunProcess, process_gone


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen(["sleep", "60"])


def test_a_live_process_is_not_gone_and_a_killed_one_is_even_unreaped() -> None:
    child = _sleeper()
    try:
        process = RunProcess("run", child.pid, reported_at=time.time())
        assert not process_gone(process)
        os.kill(child.pid, signal.SIGKILL)
        time.sleep(0.2)  # not waited for: a zombie until reaped
        with open(f"/proc/{child.pid}/stat") as stat:
            assert ") Z " in stat.read()
        assert process_gone(process)
    finally:
        child.kill()
        child.wait()
    assert process_gone(process)  # reaped: no such pid


def test_a_pid_reused_by_a_later_process_is_gone() -> None:
    child = _sleeper()
    try:
        # The run reported this pid a minute before the process now holding it started.
        assert process_gone(RunProcess("run", child.pid, reported_at=time.time() - 60))
        assert not process_gone(RunProcess("run", child.pid, reported_at=time.time()))
    finally:
        child.kill()
        child.wait()
