"""A real Dagster instance (temporary DAGSTER_HOME) and webserver serving c2c's code location."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from c2c_devstack.services import REPO_ROOT, ManagedProcess, free_port, wait_until

WORKSPACE = REPO_ROOT / "workspace.yaml"


SHIPPED_INSTANCE = REPO_ROOT / "k8s" / "base" / "dagster.yaml"


def local_instance_config() -> str:
    """dagster.yaml for a local instance (tests, the demo): SQLite storage, the default run
    launcher, no telemetry, and the shipped run queue (its limits, one run per cluster at a time,
    and its dequeue interval) and run monitoring from k8s/base/dagster.yaml, so the demo's daemon
    queues and watches runs as production does (a dead local run is c2c's dead_run_sensor's)."""
    shipped = yaml.safe_load(SHIPPED_INSTANCE.read_text())
    return yaml.safe_dump({"telemetry": {"enabled": False}, "concurrency": shipped["concurrency"],
                           "run_coordinator": shipped["run_coordinator"],
                           "run_monitoring": shipped["run_monitoring"]}, sort_keys=False)


def make_dagster_home(path: Path) -> Path:
    """A DAGSTER_HOME with the local instance's dagster.yaml (``local_instance_config``), its
    SQLite storages already created.

    Created here, once, because a daemon, its code server and a test opening a new home at the
    same moment each create and stamp them: SQLite can then hold two alembic heads ("Version table
    'alembic_version' has more than one head present"), after which the code location never loads
    and the daemon launches nothing (seen once in the daemon-fault test).
    """
    import dagster as dg  # here: the rest of this module runs without Dagster imported

    path.mkdir(parents=True, exist_ok=True)
    (path / "dagster.yaml").write_text(local_instance_config())
    with dg.DagsterInstance.from_config(str(path)) as instance:
        instance.get_runs(limit=1)  # run storage
        instance.all_instigator_state()  # schedule storage
        instance.fetch_materializations(dg.AssetKey("c2c_storage_created"), limit=1)  # event log index
    return path


def venv_bin(name: str) -> str:
    """A console script of the venv running the tests (dagster, dagster-webserver, c2c ...)."""
    return str(Path(sys.executable).parent / name)


@dataclass
class DagsterWebserver:
    url: str
    dagster_home: Path
    process: ManagedProcess

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = requests.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
        )
        if response.status_code >= 400:
            raise AssertionError(f"GraphQL HTTP {response.status_code}: {response.text[:3000]}")
        body = response.json()
        if body.get("errors"):
            raise AssertionError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def stop(self) -> None:
        self.process.stop()


def start_webserver(workdir: Path, dagster_home: Path, env: dict[str, str] | None = None, *,
                    workspace: Path = WORKSPACE) -> DagsterWebserver:
    port = free_port()
    process = ManagedProcess.spawn(
        "dagster-webserver",
        [venv_bin("dagster-webserver"), "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)],
        log_path=workdir / "webserver.log",
        env={"DAGSTER_HOME": str(dagster_home), **(env or {})},
        cwd=REPO_ROOT,
    )
    server = DagsterWebserver(url=f"http://127.0.0.1:{port}", dagster_home=dagster_home, process=process)
    wait_until(
        lambda: requests.get(f"{server.url}/server_info", timeout=2).ok,
        what=f"dagster-webserver on port {port}",
        timeout=120,
        process=process,
    )
    return server


def environ_without_store() -> dict[str, str]:
    """The current environment minus c2c's store settings: the embedded default applies."""
    return {k: v for k, v in os.environ.items() if not k.startswith("C2C_OPENSEARCH")}


def start_daemon(workdir: Path, dagster_home: Path, env: dict[str, str] | None = None, *,
                 workspace: Path = WORKSPACE) -> ManagedProcess:
    """``dagster-daemon run``: schedules, sensors, automation and the run queue of the instance."""
    return ManagedProcess.spawn(
        "dagster-daemon",
        [venv_bin("dagster-daemon"), "run", "-w", str(workspace)],
        log_path=workdir / "daemon.log",
        env={"DAGSTER_HOME": str(dagster_home), **(env or {})},
        cwd=REPO_ROOT,
    )
