"""The README's main command starts the Dagster UI with the c2c code location on the embedded store."""

from __future__ import annotations

import requests

from c2c_dagster_tests.services import REPO_ROOT, ManagedProcess, free_port, wait_until
from c2c_dagster_tests.services.dagster import environ_without_store


def test_scripts_demo_serves_the_ui_with_c2c_loaded(tmp_path) -> None:
    port = free_port()
    env = {**environ_without_store(), "C2C_UI_PORT": str(port), "DAGSTER_HOME": str(tmp_path / "home")}
    demo = ManagedProcess.spawn("scripts/demo", [str(REPO_ROOT / "scripts" / "demo")], log_path=tmp_path / "demo.log", env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus locationOrLoadError { __typename } } } } }"

        def loaded() -> bool:
            body = requests.post(f"{url}/graphql", json={"query": query}, timeout=5).json()
            entries = body["data"]["workspaceOrError"]["locationEntries"]
            return entries[0]["loadStatus"] == "LOADED"

        wait_until(loaded, what="scripts/demo's Dagster UI", timeout=240, process=demo)
        body = requests.post(f"{url}/graphql", json={"query": query}, timeout=5).json()
        entry = body["data"]["workspaceOrError"]["locationEntries"][0]
        assert entry["name"] == "c2c"
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"
        assert "embedded store" in demo.log_path.read_text()
    finally:
        demo.stop()
