"""Starting the real services c2c's tests talk to.

Each service has an install script under ``scripts/services/`` (idempotent, caches its
artifacts under ``$C2C_CACHE``, default ``~/.cache/c2c``, keyed by version) and a module here
whose ``start(workdir)`` launches it on loopback and returns a handle with ``stop()``.
Callers: the session fixtures in ``c2c_dagster_tests/conftest.py``, ``scripts/demo.py`` and the benchmarks.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def cache_dir() -> Path:
    """Where installed service artifacts live, outside the clone so a warm start is quick."""
    path = Path(os.environ.get("C2C_CACHE", Path.home() / ".cache" / "c2c"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    probe: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    interval: float = 0.5,
    process: "ManagedProcess | None" = None,
) -> None:
    """Poll ``probe`` until it returns True; fail naming ``what`` (and the log tail) on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.popen.poll() is not None:
            raise RuntimeError(
                f"{what}: process exited with {process.popen.returncode} before it was ready\n"
                f"{process.log_tail()}"
            )
        try:
            if probe():
                return
        except Exception:  # noqa: BLE001 - not ready yet is any error
            pass
        time.sleep(interval)
    tail = process.log_tail() if process is not None else ""
    raise TimeoutError(f"{what} was not ready after {timeout:.0f}s\n{tail}")


@dataclass
class ManagedProcess:
    """A service process with its output in a log file, stopped with SIGTERM then SIGKILL."""

    name: str
    popen: subprocess.Popen
    log_path: Path

    @classmethod
    def spawn(
        cls,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> "ManagedProcess":
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        popen = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,  # so a stop reaches the whole process group
        )
        log.close()
        return cls(name=name, popen=popen, log_path=log_path)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(text[-lines:])

    def stop(self, timeout: float = 20) -> None:
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, 15)
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, 9)
            self.popen.wait(timeout=timeout)
        except ProcessLookupError:
            pass


@dataclass
class ProcessGroup:
    """Several processes stopped together, last started first."""

    processes: list[ManagedProcess] = field(default_factory=list)

    def add(self, process: ManagedProcess) -> ManagedProcess:
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
