"""A real OpenSearch 2.19 single node on loopback, built from Maven Central jars.

The distribution tarball cannot be downloaded on these machines (only package registries are
reachable), so ``scripts/services/opensearch.sh`` builds ``services/opensearch`` - a small main
class booting ``org.opensearch.node.Node`` with the Netty HTTP transport, analysis-common and
Painless modules - and caches the jars plus a ``java`` argfile under ``$C2C_CACHE``. This module
runs that install (a ~50 ms no-op when warm), starts the node on free loopback ports in the
test's work dir and waits until ``/_cluster/health`` is green or yellow.

``opensearch_secured`` starts the same server with the security plugin.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from c2c_devstack.services import REPO_ROOT, ManagedProcess, cache_dir, free_port, wait_until

VERSION = "2.19.4"
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "services" / "opensearch.sh"
MAIN_CLASS = "org.c2c.opensearch.C2cOpenSearchNode"
START_TIMEOUT = 120  # seconds; a cold JVM on 2 busy cores takes ~10-20 s


def install_dir() -> Path:
    return cache_dir() / f"opensearch-{VERSION}"


@dataclass
class OpenSearchService:
    """A running node: point clients at ``url`` (plain HTTP, no auth)."""

    url: str  # "http://127.0.0.1:PORT"
    version: str  # as the node reports it in GET /, e.g. "2.19.6"
    process: ManagedProcess
    startup_seconds: float
    workdir: Path | None = None  # the node's home, data and log are under it (for ``restart``)

    def stop(self) -> None:
        self.process.stop()


def ensure_installed() -> Path:
    """Run the install script: idempotent, and fast when the cache is warm and current.

    Always running it (rather than trusting any stamp here) means an edit to the pom or the
    Java source is rebuilt before the next test session instead of silently testing old jars.
    """
    done = subprocess.run(
        ["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{INSTALL_SCRIPT} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return install_dir()


def _health_ok(url: str) -> bool:
    # wait_for_status makes the node itself wait briefly, so we poll less often for nothing.
    response = requests.get(
        f"{url}/_cluster/health", params={"wait_for_status": "yellow", "timeout": "1s"}, timeout=5
    )
    return response.status_code == 200 and response.json().get("status") in ("green", "yellow")


def start(workdir: Path, **node: Any) -> OpenSearchService:
    """Start a single node with its home, data and logs under ``workdir``.

    ``node``: what a variant changes (``opensearch_secured``): the URL scheme, extra node
    settings, a readiness probe, and a ``prepare(node_home)`` that lays out its config first.
    """
    home = ensure_installed()
    # free_port() can race with another process grabbing the port before the JVM binds it;
    # the node then exits at once with a Bind*Exception, so simply try fresh ports.
    for attempt in range(1, 4):
        attempt_dir = workdir / f"attempt-{attempt}"
        try:
            return _start_once(home, attempt_dir, **node)
        except RuntimeError:
            log = (attempt_dir / "opensearch.log").read_text(errors="replace")
            if "Address already in use" not in log or attempt == 3:
                raise
    raise AssertionError("unreachable")


def _version(url: str) -> str:
    return requests.get(url, timeout=5).json()["version"]["number"]


def _start_once(
    home: Path, workdir: Path, *, scheme: str = "http", settings: Sequence[str] = (),
    health: Callable[[str], bool] | None = None, prepare: Callable[[Path], None] | None = None,
) -> OpenSearchService:
    http_port, transport_port = free_port(), free_port()
    url = f"{scheme}://127.0.0.1:{http_port}"
    if prepare is not None:
        prepare(workdir / "node")
    tmp = workdir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)

    argv = [
        "java",
        # Classpath and JVM flags, written by the install script (the one place they live).
        f"@{home / 'jvm.args'}",
        # The JVM's scratch files (and Lucene/Netty temp files) stay in the test's work dir.
        f"-Djava.io.tmpdir={tmp}",
    ]
    archive = home / "node.jsa"
    if archive.is_file():
        # Class-data sharing recorded at install time: maps pre-parsed classes, ~4 s faster start.
        argv.append(f"-XX:SharedArchiveFile={archive}")
    argv += [MAIN_CLASS, str(workdir / "node"), str(http_port), str(transport_port), *settings]

    started = time.monotonic()
    process = ManagedProcess.spawn(
        "opensearch", argv, log_path=workdir / "opensearch.log", cwd=workdir
    )
    try:
        probe = health or _health_ok
        wait_until(
            lambda: probe(url),
            what=f"OpenSearch at {url}",
            timeout=START_TIMEOUT,
            process=process,
        )
        version = _version(url) if health is None else ""
    except BaseException:
        process.stop()
        raise
    return OpenSearchService(
        url=url,
        version=version,
        process=process,
        startup_seconds=time.monotonic() - started,
        workdir=workdir,
    )


def restart(service: OpenSearchService) -> OpenSearchService:
    """Start a stopped (or killed) plain node again on its own data, on fresh ports."""
    assert service.workdir is not None
    service.process.stop()  # reaps it if it is already dead
    return _start_once(ensure_installed(), service.workdir)
