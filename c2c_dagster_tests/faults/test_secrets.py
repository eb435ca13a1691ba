"""Secrets never leak: with recognisable values in every credential setting (the OpenSearch
password, the Jenkins API token, the registry password), a real sensor tick and ci_builds run on a
real Dagster instance writing to the secured OpenSearch, plus the webserver's GraphQL answers
about that run and the code location's resources, the exporter's output, a failing store's error
message, and every process's captured output: none of the values appears anywhere.

Real: the secured OpenSearch node (security plugin), the Dagster instance (SQLite storage on disk:
runs, event logs, compute logs), dagster-webserver. Emulated: Jenkins (the project's emulator,
which checks the user and API token like Jenkins' basic authentication). User names are not
secrets (errors name them on purpose) and are not searched for.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import dagster as dg
import pytest
from prometheus_client import generate_latest
from prometheus_client.registry import CollectorRegistry

from c2c_dagster.jenkins.assets import ci_builds
from c2c_dagster.jenkins.resources import jenkins_resource_from_env
from c2c_dagster.jenkins.sensors import jenkins_build_sensor
from c2c_dagster.observability.exporter import StoreCollector
from c2c_dagster.registry.resources import registry_resource_from_env
from c2c_dagster.store import ALL_INDICES, OpenSearchStore, StoreError, StoreSettings, store_resource_from_env
from c2c_dagster.store.settings import close_shared_stores
from c2c_devstack.emulators.jenkins import EmulatedBuild, JenkinsEmulator
from c2c_devstack.services.dagster import make_dagster_home, start_webserver

pytestmark = pytest.mark.opensearch
JOB = "Node-JS/master"

RESOURCES_QUERY = """
query {
  workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError {
    ... on RepositoryLocation { repositories { name allTopLevelResourceDetails {
      name configuredValues { key value type } } } }
    ... on PythonError { message } } } } }
  runsOrError { ... on Runs { results { runId status runConfigYaml tags { key value } } } }
}
"""


def _files_containing(root: Path, secrets: dict[str, str]) -> list[str]:
    """Every file under ``root`` holding any secret's value (SQLite pages and logs alike)."""
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.relative_to(root)}: {name}" for name, value in secrets.items() if value.encode() in data]
    return found


def _leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, value in secrets.items() if value in text]


def test_no_credential_appears_in_storage_documents_graphql_exporter_or_output(
        opensearch_secured, tmp_path: Path, monkeypatch, capfd, fault_report) -> None:
    node = opensearch_secured
    mark = uuid.uuid4().hex[:10]
    secrets = {
        "C2C_OPENSEARCH_PASSWORD": f"OS-PASSWORD-{mark}",
        "C2C_JENKINS_API_TOKEN": f"JENKINS-TOKEN-{mark}",
        "C2C_REGISTRY_PASSWORD": f"REGISTRY-PASSWORD-{mark}",
    }
    writer = f"c2c-secrets-{mark}"
    node.add_user(writer, ["c2c_writer"], password=secrets["C2C_OPENSEARCH_PASSWORD"])
    jenkins = JenkinsEmulator(user="c2c", api_token=secrets["C2C_JENKINS_API_TOKEN"]).start()
    jenkins.add_build(JOB, EmulatedBuild(7, "SUCCESS", 1_769_838_318_000))
    home = make_dagster_home(tmp_path / "dagster_home")
    env = {
        "DAGSTER_HOME": str(home),
        "C2C_OPENSEARCH_URL": node.url, "C2C_OPENSEARCH_USER": writer,
        "C2C_OPENSEARCH_CA_CERTS": str(node.ca_path), "C2C_OPENSEARCH_REPLICAS": "0",
        "C2C_JENKINS_URL": jenkins.url, "C2C_JENKINS_USER": "c2c",
        "C2C_REGISTRY_USER": "c2c",
        **secrets,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    webserver = None
    try:
        # The resources exactly as definitions.py wires them, from this environment.
        resources = {"store": store_resource_from_env(), "jenkins": jenkins_resource_from_env(),
                     "registry": registry_resource_from_env()}
        with dg.DagsterInstance.get() as instance:
            context = dg.build_sensor_context(instance=instance, resources=resources)
            tick = jenkins_build_sensor(context)
            assert len(tick.run_requests) == 1
            request = tick.run_requests[0]
            result = dg.materialize([ci_builds], instance=instance, partition_key=request.partition_key,
                                    run_config=request.run_config, resources=resources,
                                    tags={"dagster/run_key": request.run_key})
            assert result.success
        close_shared_stores()
        # The document is in the secured store: the credentials did their work.
        with OpenSearchStore(node.url, username="admin", password=node.passwords["admin"],
                             ca_certs=str(node.ca_path)) as admin:
            assert admin.get("ci-build-metadata", "Node-JS/master-7") is not None
            documents = json.dumps([list(admin.iter_all(spec.name)) for spec in ALL_INDICES])

        # The webserver on the same instance: the run, its config and the code location's resources.
        webserver = start_webserver(tmp_path / "webserver", home, env=env)
        answers = json.dumps(webserver.graphql(RESOURCES_QUERY))
        assert result.run_id in answers
        configured = json.loads(answers)["workspaceOrError"]["locationEntries"][0]["locationOrLoadError"]
        store_values = {v["key"]: v for r in configured["repositories"] for res in r["allTopLevelResourceDetails"]
                        if res["name"] == "store" for v in res["configuredValues"]}
        # The UI shows where the password comes from, never its value.
        assert store_values["opensearch_password"]["type"] == "ENV_VAR"
        assert store_values["opensearch_password"]["value"] == "C2C_OPENSEARCH_PASSWORD"

        # The exporter's output, as production runs it: the reader, here with the same secret password.
        reader = f"c2c-secrets-reader-{mark}"
        node.add_user(reader, ["c2c_reader"], password=secrets["C2C_OPENSEARCH_PASSWORD"])
        monkeypatch.setenv("C2C_OPENSEARCH_USER", reader)
        registry = CollectorRegistry()
        registry.register(StoreCollector(lambda: StoreSettings.from_env().open(), refresh_seconds=0))
        exported = generate_latest(registry).decode()
        assert "c2c_store_up 1.0" in exported
        # A failing store's error message, with the secret credentials configured.
        monkeypatch.setenv("C2C_OPENSEARCH_CA_CERTS", str(tmp_path / "missing-ca.pem"))
        with pytest.raises(Exception) as failure:  # noqa: PT011 - any error: its text is what is checked
            StoreSettings.from_env().open().get("ci-build-metadata", "x")
        failed = f"{failure.value!r} {failure.value}"
        settings_repr = repr(StoreSettings.from_env()) + repr(store_resource_from_env())
    finally:
        if webserver is not None:
            webserver.stop()
        jenkins.stop()
        close_shared_stores()

    output = capfd.readouterr()
    places = {
        "Dagster instance storage (runs, event logs, compute logs)": _files_containing(home, secrets),
        "stored documents": _leaks(documents, secrets),
        "GraphQL answers": _leaks(answers, secrets),
        "exporter output": _leaks(exported, secrets),
        "store error message": _leaks(failed, secrets),
        "settings and resource repr": _leaks(settings_repr, secrets),
        "webserver log": _files_containing(tmp_path / "webserver", secrets),
        "captured stdout/stderr": _leaks(output.out + output.err, secrets),
    }
    assert not any(places.values()), places
    # The search itself finds a planted value (so "nothing found" means nothing is there).
    planted = tmp_path / "planted" / "x.db"
    planted.parent.mkdir()
    planted.write_bytes(b"\0page" + secrets["C2C_JENKINS_API_TOKEN"].encode() + b"\0")
    assert _files_containing(planted.parent, secrets) == ["x.db: C2C_JENKINS_API_TOKEN"]
    assert isinstance(failure.value, StoreError | OSError)
    fault_report(
        fault="recognisable values in every credential setting (OpenSearch password, Jenkins token, registry password)",
        expected="none appears in instance storage, documents, GraphQL, exporter output, errors or process output",
        observed=f"a sensor tick and a ci_builds run on a secured store; {len(places)} places searched "
                 f"({sum(1 for p in home.rglob('*') if p.is_file())} instance files): 0 occurrences")
