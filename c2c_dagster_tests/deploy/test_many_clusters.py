"""c2c on two real control planes at once, through a real Dagster webserver and daemon on
PostgreSQL with the shipped dagster.yaml's run queue: scans and post-sync snapshots of one
cluster never overlap while the two clusters run in parallel; and the same namespace/name running
different versions in the two clusters stays apart in snapshots, records, release events, the Argo
CD revision and ``c2c trace``. Runs execute as local processes here (the run launcher is the one
thing changed from the shipped dagster.yaml; the Kubernetes Job path is test_k8s_run_launcher)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from c2c_dagster.cluster.tags import CLUSTER_TAG
from c2c_dagster.jenkins.assets import ci_builds
from c2c_dagster.jenkins.resources import JenkinsResource
from c2c_dagster.store import (
    ARGOCD_SYNC_EVENTS,
    DEPLOYMENT_METADATA,
    RELEASE_EVENTS,
    TRACEABILITY_METADATA,
    MetadataStoreResource,
    OpenSearchStore,
)
from c2c_core.timeutil import iso_utc, utc_now
from c2c_dagster_tests.argocd.data import application, history_entry, operation_state, status, synced
from c2c_dagster_tests.kubernetes.conftest import wait_pods
from c2c_devstack.emulators.jenkins import EmulatedBuild
from c2c_devstack.services import REPO_ROOT, ManagedProcess, wait_until
from c2c_devstack.services.dagster import DagsterWebserver, start_daemon, start_webserver, venv_bin
from c2c_devstack.services.kustomize import build_overlay

pytestmark = [pytest.mark.kubernetes, pytest.mark.opensearch, pytest.mark.postgresql, pytest.mark.registry]

CLUSTERS = ("east", "west")
JOB = "shop/web/main"
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on Error { message }
  }
}"""
RUNS = """
query Runs($filter: RunsFilter!) {
  runsOrError(filter: $filter) {
    ... on Runs { results { runId status startTime endTime tags { key value } } }
  }
}"""
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
LOGS = """
query Logs($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection { events { __typename ... on MessageEvent { message }
                                      ... on ErrorEvent { error { message } } } }
  }
}"""
SENSOR = """
query Sensor($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) { ... on Sensor { id } } }"""
STOP_SENSOR = """
mutation Stop($id: String!) { stopSensor(id: $id) { __typename } }"""
# The automation sensors' runs (traceability_records after every snapshot, delivery_metrics after
# those) would queue beside the test's own runs at unknown times, as the schedule's would: both
# tests launch what they need themselves.
AUTOMATION = ("traceability_automation", "delivery_automation")


@dataclass
class TwoClusters:
    clusters: dict[str, Any]  # name -> KubernetesCluster
    webserver: DagsterWebserver
    daemon: ManagedProcess
    store: OpenSearchStore
    store_env: dict[str, str]

    def launch(self, asset: str, cluster: str, config: dict | None = None, tags: dict[str, str] | None = None) -> str:
        params: dict[str, Any] = {
            "selector": {"repositoryLocationName": "c2c", "repositoryName": "__repository__",
                         "jobName": "__ASSET_JOB", "assetSelection": [{"path": [asset]}]},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in
                                           {"dagster/partition": cluster, **(tags or {})}.items()]},
        }
        if config is not None:
            params["runConfigData"] = {"ops": {asset: {"config": config}}}
        answer = self.webserver.graphql(LAUNCH, {"params": params})["launchRun"]
        assert answer["__typename"] == "LaunchRunSuccess", answer
        return answer["run"]["runId"]

    def runs(self, **filter: Any) -> list[dict[str, Any]]:
        return self.webserver.graphql(RUNS, {"filter": filter})["runsOrError"]["results"]

    def wait(self, run_ids: list[str], timeout: float = 420) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}

        def finished() -> bool:
            found.update({r["runId"]: r for r in self.runs(runIds=run_ids)})
            return len(found) == len(run_ids) and all(r["status"] in FINISHED for r in found.values())

        wait_until(finished, what=f"runs {run_ids} finished", timeout=timeout, interval=1, process=self.daemon)
        failed = {i: r["status"] for i, r in found.items() if r["status"] != "SUCCESS"}
        assert not failed, f"runs did not succeed: {failed}; their errors:\n" + "\n".join(
            f"{i}: {error}" for i in failed for error in self.errors(i))
        return found

    def errors(self, run_id: str) -> list[str]:
        """The failure messages in a run's event log (step failures with their errors, run failure)."""
        events = self.webserver.graphql(LOGS, {"runId": run_id})["logsForRun"].get("events", [])
        return [f"{e['__typename']}: {e.get('message')} {(e.get('error') or {}).get('message', '')}".strip()
                for e in events if "Failure" in e["__typename"] or e.get("error")]


@pytest.fixture(scope="module")
def two_clusters(k8s_cluster, k8s_cluster_west, postgresql, opensearch_service,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoClusters]:
    """c2c configured with both clusters (a clusters file), its store a fresh index prefix on the
    real OpenSearch node, a webserver and a daemon on a fresh PostgreSQL database; no schedule
    and no automation sensor adds runs of its own (``AUTOMATION``)."""
    workdir = tmp_path_factory.mktemp("two-clusters")
    clusters = {"east": k8s_cluster, "west": k8s_cluster_west}
    clusters_file = workdir / "clusters.yaml"
    clusters_file.write_text(yaml.safe_dump([{"name": n, "kubeconfig": str(c.kubeconfig)} for n, c in clusters.items()]))
    database = postgresql.create_database(f"dagster_{uuid.uuid4().hex[:8]}")
    prefix = f"mc{uuid.uuid4().hex[:8]}-"
    store_env = {"C2C_OPENSEARCH_URL": opensearch_service.url, "C2C_INDEX_PREFIX": prefix, "C2C_OPENSEARCH_REPLICAS": "0"}
    env = {
        **store_env,
        "C2C_K8S_CLUSTERS_FILE": str(clusters_file),
        "DAGSTER_PG_HOST": postgresql.host, "DAGSTER_PG_PORT": str(postgresql.port), "DAGSTER_PG_DB": database,
        "DAGSTER_PG_USER": postgresql.user, "DAGSTER_PG_PASSWORD": postgresql.password,
        # No scheduled scan during the test: its runs would be queued too, but at unknown times.
        "C2C_SCAN_CRON": "0 0 1 1 *",
    }
    # The shipped instance (storage, run queue, run monitoring) with local processes for runs.
    objects = build_overlay("production")
    instance = yaml.safe_load(next(o for o in objects if o["metadata"]["name"] == "c2c-dagster-instance")
                              ["data"]["dagster.yaml"])
    del instance["run_launcher"]
    home = workdir / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance))
    workspace = workdir / "workspace.yaml"
    workspace.write_text(yaml.safe_dump({"load_from": [{"python_module": {
        "module_name": "c2c_dagster.definitions", "location_name": "c2c", "working_directory": str(REPO_ROOT)}}]}))
    webserver = start_webserver(workdir / "webserver", home, env=env, workspace=workspace)
    for name in AUTOMATION:  # before the daemon's first tick
        selector = {"repositoryLocationName": "c2c", "repositoryName": "__repository__", "sensorName": name}
        sensor_id = webserver.graphql(SENSOR, {"selector": selector})["sensorOrError"]["id"]
        assert webserver.graphql(STOP_SENSOR, {"id": sensor_id})["stopSensor"]["__typename"] == "StopSensorMutationResult"
    daemon = start_daemon(workdir / "daemon", home, env=env, workspace=workspace)
    store = OpenSearchStore(opensearch_service.url, index_prefix=prefix, number_of_replicas=0)
    try:
        yield TwoClusters(clusters, webserver, daemon, store, store_env)
    finally:
        store.close()
        daemon.stop()
        webserver.stop()


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["startTime"] < b["endTime"] and b["startTime"] < a["endTime"]


def test_one_run_per_cluster_at_a_time_and_clusters_in_parallel(two_clusters: TwoClusters) -> None:
    # Everything at once: a scheduled scan and an Argo CD post-sync snapshot of each cluster.
    launched: dict[str, list[str]] = {}
    for cluster in CLUSTERS:
        launched[cluster] = [
            two_clusters.launch("deployment_snapshots", cluster, {"mode": "scan"},
                                {"c2c/trigger": "cluster_scan_schedule", CLUSTER_TAG: cluster}),
            two_clusters.launch("deployment_snapshots", cluster,
                                {"mode": "post-sync", "namespaces": ["default"], "workloads": [],
                                 "argocd_app": "argocd/web", "sync_event_id": ""},
                                {"c2c/trigger": "argocd_sync_sensor", CLUSTER_TAG: cluster}),
        ]
    runs = two_clusters.wait([i for ids in launched.values() for i in ids])
    east, west = ([runs[i] for i in launched[c]] for c in CLUSTERS)
    print("\n" + "\n".join(f"{c} {r['runId'][:8]} {r['startTime']:.1f}-{r['endTime']:.1f}"
                           for c, rs in zip(CLUSTERS, (east, west)) for r in rs))
    assert not _overlap(*east), "two runs of cluster east overlapped"
    assert not _overlap(*west), "two runs of cluster west overlapped"
    assert any(_overlap(a, b) for a in east for b in west), "the clusters' runs did not run in parallel"


def _build(jenkins: Any, number: int, image: str, digest: str, commit: str) -> str:
    at = f"2026-01-0{number}T10:00:00Z"
    metadata = {
        "build_id": f"{JOB}-{number}", "job_name": JOB, "build_number": number, "branch": "main",
        "image_name": image, "image_tag": f"v{number}", "image_digest": digest,
        "commits": [{"commit_id": commit, "author": "Ada Lovelace", "email": "ada@example.com",
                     "message": f"release {number}"}],
        "authors": ["Ada Lovelace <ada@example.com>"], "build_status": "SUCCESS", "timestamp": at,
        "source_commit": commit,
    }
    millis = int(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() * 1000)
    jenkins.add_build(JOB, EmulatedBuild(number, "SUCCESS", millis,
                                         artifacts={"build-metadata.json": json.dumps(metadata).encode()}))
    return f"{JOB}#{number}"


def _deploy(api: Any, namespace: str, app: str, image: str) -> None:
    """shop/web as Argo CD applies it: its tracking annotation names the Application."""
    from kubernetes import client

    apps = client.AppsV1Api(api)
    labels = {"app": "web"}
    tracking = {"argocd.argoproj.io/tracking-id": f"{app.replace('/', '_')}:apps/Deployment:{namespace}/web"}
    body = {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": labels, "annotations": tracking},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": image}]}}}}
    if any(d.metadata.name == "web" for d in apps.list_namespaced_deployment(namespace).items):
        apps.replace_namespaced_deployment("web", namespace, body)
    else:
        apps.create_namespaced_deployment(namespace, body)


def _argocd_synced(api: Any, app: str, namespace: str, revisions: list[str]) -> None:
    """The Application ``app`` as its controller leaves it after syncing these config revisions.

    Written by the test, not by Argo CD: the session's one real Argo CD serves the first control
    plane only, and this test's two control planes each need an Argo CD of their own to sync the
    same app apart; what c2c reads of a status is proven on the real controller in
    ``c2c_dagster_tests/argocd/test_syncs.py``, whose checks the status builders here share."""
    from kubernetes import client

    custom = client.CustomObjectsApi(api)
    app_namespace, name = app.split("/")
    try:
        body = custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", app_namespace, "applications", name)
    except client.exceptions.ApiException:
        body = custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", app_namespace, "applications",
                                                      application(name, app_namespace, dest_namespace=namespace))
    now = utc_now()
    history = [history_entry(i, rev, started=iso_utc(now), deployed=iso_utc(now), path="apps/web")
               for i, rev in enumerate(revisions)]
    body["status"] = status(history=history, operation=operation_state(
        "Succeeded", revisions[-1], started=iso_utc(now), finished=iso_utc(now),
        resources=[synced("Deployment", "web", namespace)]))
    custom.replace_namespaced_custom_object("argoproj.io", "v1alpha1", app_namespace, "applications", name, body)


def _trace(two_clusters: TwoClusters, *args: str) -> dict[str, Any]:
    done = subprocess.run([venv_bin("c2c"), "trace", *args, "--json"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **two_clusters.store_env})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# Two releases through the daemon's sensors and queue, each run a process loading the code
# location: about 5 minutes alone on 2 cores, more beside other work.
@pytest.mark.timeout(1200)
def test_the_same_workload_in_two_clusters_is_traced_apart(two_clusters: TwoClusters, oci_registry,
                                                           jenkins_emulator, tmp_path: Path) -> None:
    from kubernetes import client

    repo = f"mc-{uuid.uuid4().hex[:6]}/web"
    commits = {1: uuid.uuid4().hex + uuid.uuid4().hex[:8], 2: uuid.uuid4().hex + uuid.uuid4().hex[:8]}
    digests = {n: oci_registry.build_and_push(repo, f"v{n}", files={"app.txt": f"web {n}\n"},
                                              labels={"org.opencontainers.image.revision": commits[n]})
               for n in (1, 2)}
    image = f"{oci_registry.host}/{repo}"
    builds = [_build(jenkins_emulator, n, image, digests[n], commits[n]) for n in (1, 2)]
    ingest = dg.materialize([ci_builds], partition_key="2026-01-01", resources={
        "jenkins": JenkinsResource(url=jenkins_emulator.url),
        "store": MetadataStoreResource(opensearch_url=two_clusters.store_env["C2C_OPENSEARCH_URL"],
                                       index_prefix=two_clusters.store_env["C2C_INDEX_PREFIX"], opensearch_replicas=0)},
        run_config={"ops": {"ci_builds": {"config": {"builds": builds}}}})
    assert ingest.success

    # Release 1 everywhere, each cluster's own Argo CD syncing its own config revision. Namespaces
    # of this test's own: the clusters are shared with the rest of the session.
    suffix = uuid.uuid4().hex[:6]
    namespace, app = f"shop-{suffix}", f"argocd-{suffix}/web"
    apis = {name: cluster.api_client() for name, cluster in two_clusters.clusters.items()}
    revision = {"east": "e" * 40, "west": "f" * 40}
    try:
        for name, api in apis.items():
            for ns in (namespace, app.split("/")[0]):
                client.CoreV1Api(api).create_namespace({"metadata": {"name": ns}})
            _deploy(api, namespace, app, f"{image}@{digests[1]}")
            _argocd_synced(api, app, namespace, [revision[name]])
        for api in apis.values():
            wait_pods(api, namespace, "web", 2, check=lambda pods: all(
                p.spec.containers[0].image.endswith(digests[1]) for p in pods))
        # The daemon's Argo CD sensor records both clusters' syncs.
        wait_until(lambda: {e["cluster"] for e in two_clusters.store.find(ARGOCD_SYNC_EVENTS.name, "app", "web")
                            if e["app_namespace"] == app.split("/")[0]} == set(CLUSTERS),
                   what="sync events of both clusters", timeout=180, interval=2, process=two_clusters.daemon)
        scans = [two_clusters.launch("deployment_snapshots", c, {"mode": "scan"}) for c in CLUSTERS]
        two_clusters.wait(scans)
        two_clusters.wait([two_clusters.launch("traceability_records", c) for c in CLUSTERS])

        # Release 2 reaches east only (staging first), through an Argo CD sync there.
        _deploy(apis["east"], namespace, app, f"{image}@{digests[2]}")
        wait_pods(apis["east"], namespace, "web", 2, check=lambda pods: all(
            p.spec.containers[0].image.endswith(digests[2]) for p in pods))
        revision["east2"] = "d" * 40
        _argocd_synced(apis["east"], app, namespace, [revision["east"], revision["east2"]])

        def post_sync_snapshot() -> list[dict]:
            # The sensor's run for east's second sync of this app (history id 1), finished.
            return [r for r in two_clusters.runs(tags=[{"key": "c2c/trigger", "value": "argocd_sync_sensor"},
                                                       {"key": "c2c/argocd-app", "value": app},
                                                       {"key": CLUSTER_TAG, "value": "east"}])
                    if r["status"] == "SUCCESS"
                    and any(t["key"] == "c2c/sync-event-id" and t["value"].endswith("/1") for t in r["tags"])]

        wait_until(post_sync_snapshot, what="the Argo CD sensor's post-sync snapshot of east", timeout=240,
                   interval=2, process=two_clusters.daemon)
        two_clusters.wait([two_clusters.launch("traceability_records", c) for c in CLUSTERS])
    finally:
        for api in apis.values():
            for ns in (namespace, app.split("/")[0]):
                try:
                    client.CoreV1Api(api).delete_namespace(ns)
                except client.exceptions.ApiException:
                    pass
            api.close()

    store = two_clusters.store
    # Snapshots: each cluster's current version of shop/web runs its own digest.
    for cluster, digest in (("east", digests[2]), ("west", digests[1])):
        current = [d for d in store.find(DEPLOYMENT_METADATA.name, "current", cluster)
                   if d.get("namespace") == namespace and d.get("doc_type") == "pod" and d.get("workload_name") == "web"]
        assert current and {c["image_digest"] for d in current for c in d["containers"]} == {digest}, cluster

    # Records: east runs build 2 (and ran build 1), west runs build 1; each with its own Argo CD revision.
    records = {(r["cluster"], r["image_digest"]): r for r in store.find(TRACEABILITY_METADATA.name, "namespace", namespace)
               if r["workload_name"] == "web" and r["image_digest"] in digests.values()}
    assert {key: (r["running"], r["build_id"], r.get("argocd_app"), r.get("argocd_revision"))
            for key, r in records.items()} == {
        ("east", digests[2]): (True, f"{JOB}-2", app, revision["east2"]),
        ("east", digests[1]): (False, f"{JOB}-1", app, revision["east"]),
        ("west", digests[1]): (True, f"{JOB}-1", app, revision["west"]),
    }

    # Release events: one in east, 1 -> 2; none in west.
    events = [e for e in store.find(RELEASE_EVENTS.name, "workload_name", "web") if e["namespace"] == namespace
              and e.get("to_build_id") in (f"{JOB}-1", f"{JOB}-2")]
    assert [(e["cluster"], e["from_build_id"], e["to_build_id"]) for e in events] == [("east", f"{JOB}-1", f"{JOB}-2")]

    # c2c trace: the workload in both clusters; commit 1 runs in west and ran before in east.
    workload = _trace(two_clusters, "--workload", f"{namespace}/web")
    assert {(r["cluster"], r["image_digest"]) for r in workload["running"]} == {("east", digests[2]), ("west", digests[1])}
    first = _trace(two_clusters, "--commit", commits[1][:12])
    assert {r["cluster"] for r in first["running"] if r["image_digest"] == digests[1]} == {"west"}
    assert {r["cluster"] for r in first["previously"] if r["image_digest"] == digests[1]} == {"east"}
    second = _trace(two_clusters, "--commit", commits[2])
    assert {(r["cluster"], r["image_digest"]) for r in second["running"]} == {("east", digests[2])}
    assert second["previously"] == []
