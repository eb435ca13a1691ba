"""Dagster is real: the code location validates, loads in a webserver, and runs on an instance."""

from __future__ import annotations

import subprocess

import dagster as dg

from c2c_dagster.definitions import defs
from c2c_dagster.store import EmbeddedStore, OpenSearchStore
from c2c_devstack.services import REPO_ROOT
from c2c_devstack.services.dagster import WORKSPACE, environ_without_store, venv_bin


def test_dagster_definitions_validate_passes(dagster_home) -> None:
    done = subprocess.run(
        [venv_bin("dagster"), "definitions", "validate", "-w", str(WORKSPACE)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**environ_without_store(), "DAGSTER_HOME": str(dagster_home)},
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation successful for code location c2c" in done.stdout + done.stderr


def test_webserver_loads_the_c2c_code_location_with_the_store(dagster_webserver) -> None:
    data = dagster_webserver.graphql(
        """
        query {
          workspaceOrError {
            __typename
            ... on Workspace {
              locationEntries {
                name
                locationOrLoadError {
                  __typename
                  ... on RepositoryLocation {
                    repositories { name allTopLevelResourceDetails { name } }
                  }
                  ... on PythonError { message }
                }
              }
            }
          }
        }
        """
    )
    entries = data["workspaceOrError"]["locationEntries"]
    assert [entry["name"] for entry in entries] == ["c2c"]
    location = entries[0]["locationOrLoadError"]
    assert location["__typename"] == "RepositoryLocation", location
    resources = {r["name"] for repo in location["repositories"] for r in repo["allTopLevelResourceDetails"]}
    assert "store" in resources


def test_store_resource_picks_the_backend_from_settings(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("C2C_OPENSEARCH_URL", raising=False)
    monkeypatch.setenv("C2C_STORE_PATH", str(tmp_path / "s.sqlite"))
    from c2c_dagster.store import store_resource_from_env

    embedded = store_resource_from_env().get_store()
    assert isinstance(embedded, EmbeddedStore)
    assert embedded.path == tmp_path / "s.sqlite"

    # With a URL, OpenSearch (not contacted here).
    monkeypatch.setenv("C2C_OPENSEARCH_URL", "https://opensearch.example:9200")
    monkeypatch.setenv("C2C_OPENSEARCH_PASSWORD", "s3cret")
    monkeypatch.setenv("C2C_OPENSEARCH_USER", "c2c")
    resource = store_resource_from_env()
    assert resource.opensearch_url == "https://opensearch.example:9200"
    assert resource.opensearch_verify_certs is True
    # The password is an EnvVar, resolved at run time and never shown in the UI config.
    assert isinstance(resource.opensearch_password, dg.EnvVar)
    assert resource.opensearch_password == "C2C_OPENSEARCH_PASSWORD"  # the variable's name, not its value
    assert isinstance(resource.opensearch_user, dg.EnvVar)


def test_definitions_run_on_a_persistent_instance(dagster_home, monkeypatch) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    with dg.DagsterInstance.get() as instance:
        assert not instance.is_ephemeral
        assert str(dagster_home) in instance.root_directory
    assert defs.resolve_all_asset_specs() is not None
