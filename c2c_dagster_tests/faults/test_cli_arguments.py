"""Bad arguments to every installed command line: each empty, 100,000-character or malformed
argument is exit 2 and one line on stderr naming the argument and what it takes; never a
traceback, never the huge value echoed back. The commands are the installed entry points run
as subprocesses; the commands ``c2c --help`` lists must all be covered here.

Nothing is emulated: the store behind ``c2c`` is the embedded one in a temporary directory (no
argument here may reach it, and ``trace`` queries that do are refused before any read).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
HUGE = "x" * 100_000

# (command, argument named in the message, argv)
CASES = [
    ("c2c trace", "--build", ["trace", "--build", ""]),
    ("c2c trace", "--build", ["trace", "--build", HUGE]),
    ("c2c trace", "--build", ["trace", "--build", "Node-JS/master"]),  # no build number
    ("c2c trace", "--build", ["trace", "--build", "job\x01-1"]),
    ("c2c trace", "--workload", ["trace", "--workload", ""]),
    ("c2c trace", "--workload", ["trace", "--workload", "a/" + "n" * 300]),
    ("c2c trace", "--pod", ["trace", "--pod", "no-namespace"]),
    ("c2c trace", "--commit", ["trace", "--commit", HUGE]),
    ("c2c trace", "--commit", ["trace", "--commit", "not-hex"]),
    ("c2c trace", "--digest", ["trace", "--digest", "sha256:1234"]),
    ("c2c", "command", ["nosuch"]),
    ("c2c", "command", [HUGE]),
    ("c2c store", "store_command", ["store", ""]),
    ("c2c store prune", "--days", ["store", "prune", "--days", ""]),
    ("c2c store prune", "--days", ["store", "prune", "--days", HUGE]),
    ("c2c store prune", "--days", ["store", "prune", "--days", "-3"]),
    ("c2c store prune", "--days", ["store", "prune", "--days", "9" * 40]),
    ("c2c metrics serve", "--port", ["metrics", "serve", "--port", ""]),
    ("c2c metrics serve", "--port", ["metrics", "serve", "--port", "70000"]),
    ("c2c metrics serve", "--refresh-seconds", ["metrics", "serve", "--refresh-seconds", "nan"]),
    ("c2c metrics serve", "--address", ["metrics", "serve", "--address", HUGE]),
    ("c2c metrics serve", "--dagster-home", ["metrics", "serve", "--dagster-home", "/no/such/dir"]),
    ("c2c metrics serve", "--dora-days", ["metrics", "serve", "--dora-days", "0"]),
    ("c2c config", "--verbose", ["config", "--verbose"]),  # takes no argument
    ("c2c dora", "--app", ["dora", "--app", ""]),
    ("c2c dora", "--cluster", ["dora", "--cluster", HUGE]),
    ("c2c dora", "--since", ["dora", "--since", "999999999d"]),
    ("c2c dora", "--since", ["dora", "--since", "yesterday"]),
    ("c2c dora", "--until", ["dora", "--until", "2026-13-45"]),
    ("c2c dora", "--since", ["dora", "--since", "0001-01-01"]),
    ("c2c-build-metadata", "--output", ["--output", ""]),
    ("c2c-build-metadata", "--job-name", ["--job-name", HUGE]),
    ("c2c-build-metadata", "--job-name", ["--job-name", "j" * 600, "--build-number", "1", "--print-tag"]),
    ("c2c-build-metadata", "--build-number", ["--job-name", "j", "--build-number", "9" * 40, "--print-tag"]),
    ("c2c-build-metadata", "--digest-file", ["--digest-file", ""]),
    ("c2c-build-metadata", "--status", ["--job-name", "j", "--build-number", "1", "--output", "o.json",
                                        "--image", "a/b", "--status", "GREEN", "--digest-file", "d"]),
    ("c2c-build-metadata", "--output", ["--job-name", "j", "--build-number", "1", "--output", "/no/such/dir/o.json",
                                        "--image", "a/b", "--digest-file", "d"]),
    ("c2c-build-metadata", "--repo", ["--repo", "/no/such/dir", "--job-name", "j", "--build-number", "1", "--print-tag"]),
]


def run(command: str, argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    program = "c2c-build-metadata" if command.startswith("c2c-build-metadata") else "c2c"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "C2C_STORE_PATH": str(tmp_path / "store.sqlite")}
    return subprocess.run([str(BIN / program), *argv], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=120)


@pytest.mark.parametrize(("command", "argument", "argv"), CASES,
                         ids=[f"{c}:{' '.join(a)[:40]}" for c, _, a in CASES])
def test_a_bad_argument_is_exit_2_and_one_line_naming_it(tmp_path, fault_report, command, argument, argv) -> None:
    done = run(command, argv, tmp_path)
    message = done.stderr.strip()
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "\n" not in message, message[:2000]
    assert argument in message and len(message) < 600, message[:2000]
    assert done.stdout == ""
    shown = " ".join(a if len(a) < 60 else f"<{len(a):,} chars>" for a in argv).replace("\x01", "\\x01")
    fault_report(fault=f"bad argument: {command.split()[0]} {shown or '(empty)'}",
                 expected=f"exit 2, one line naming {argument}",
                 observed=f"exit {done.returncode}: {message[:110]}" + ("..." if len(message) > 110 else ""))


def test_every_command_c2c_help_lists_is_covered(tmp_path) -> None:
    helped = run("c2c", ["--help"], tmp_path).stdout
    listed = set(re.search(r"\{([a-z,]+)\}", helped).group(1).split(","))
    covered = {c.split()[1] for c, _, _ in CASES if c.startswith("c2c ")}
    assert listed == covered == {"trace", "store", "metrics", "dora", "config"}
    for sub, expected in (("store", {"init", "prune"}), ("metrics", {"serve"})):
        names = set(re.search(r"\{([a-z,]+)\}", run("c2c", [sub, "--help"], tmp_path).stdout).group(1).split(","))
        assert names == expected
    # store init takes no argument: anything given is refused the same way.
    extra = run("c2c", ["store", "init", "--force"], tmp_path)
    assert extra.returncode == 2 and "unrecognized arguments: --force" in extra.stderr
