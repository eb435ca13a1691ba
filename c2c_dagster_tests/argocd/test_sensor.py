"""argocd_sync_sensor on the real API server with Argo CD's real CRD: each finished sync is stored once
and requests one scoped post-sync snapshot; failures skip the tick with the cursor unchanged."""

from __future__ import annotations

import copy
from pathlib import Path

import dagster as dg
import pytest
import yaml

from c2c_dagster.argocd.cursor import ArgoCursor
from c2c_dagster.argocd.sensors import argocd_sync_sensor
from c2c_dagster.kubernetes.resources import KubeClusterConfig, KubernetesResource
from c2c_dagster.store import ARGOCD_SYNC_EVENTS
from c2c_dagster_tests.argocd.conftest import CLUSTER, ArgoEnv
from c2c_dagster_tests.argocd.data import application, history_entry, operation_state, status, synced
from c2c_devstack.services import free_port

pytestmark = pytest.mark.kubernetes

SHA1, SHA2, SHA3 = "a1" * 20, "b2" * 20, "c3" * 20
GROUP, VERSION, PLURAL = "argoproj.io", "v1alpha1", "applications"


def tick(argo: ArgoEnv, cursor: str | None, *, kubernetes: KubernetesResource | None = None,
         instance: dg.DagsterInstance | None = None):
    context = dg.build_sensor_context(
        cursor=cursor,
        resources={"kubernetes": kubernetes or argo.kubernetes, "store": argo.store},
        instance=instance or dg.DagsterInstance.ephemeral(),
    )
    return argocd_sync_sensor(context), context


def mine(result, argo: ArgoEnv) -> list[dg.RunRequest]:
    """This test's requests (other tests' Applications share the session's cluster)."""
    return [r for r in result.run_requests
            if r.tags["c2c/argocd-app"].startswith(argo.app_namespace + "/")]


def create_app(argo: ArgoEnv, name: str, *, dest_namespace: str | None = None, server: str | None = None,
               sources: list[dict] | None = None) -> dict:
    from kubernetes import client

    body = application(name, argo.app_namespace, dest_namespace=dest_namespace or argo.dest_namespace,
                       sources=sources, **({"server": server} if server else {}))
    return client.CustomObjectsApi(argo.api).create_namespaced_custom_object(
        GROUP, VERSION, argo.app_namespace, PLURAL, body)


def write_status(argo: ArgoEnv, name: str, new_status: dict) -> dict:
    """Write ``status`` as Argo CD's controller would.

    The real CRD declares no status subresource (``subresources: {}``), so the controller writes
    status with an ordinary update of the object; so do we.
    """
    from kubernetes import client

    custom = client.CustomObjectsApi(argo.api)
    app = custom.get_namespaced_custom_object(GROUP, VERSION, argo.app_namespace, PLURAL, name)
    app["status"] = new_status
    return custom.replace_namespaced_custom_object(GROUP, VERSION, argo.app_namespace, PLURAL, name, app)


def succeeded(argo: ArgoEnv, history: list[dict], *, revision: str, started: str, finished: str) -> dict:
    return status(
        history=history,
        operation=operation_state(
            "Succeeded", revision, started=started, finished=finished,
            resources=[synced("Deployment", "guestbook-ui", argo.dest_namespace),
                       synced("Service", "guestbook-ui", argo.dest_namespace, group="")]),
        images=[f"registry.example.com/guestbook-ui:{revision[:7]}"],
    )


def test_the_crd_has_no_status_subresource_so_status_is_written_with_the_object(k8s_cluster) -> None:
    from kubernetes import client

    with k8s_cluster.api_client() as api:
        crd = client.ApiextensionsV1Api(api).read_custom_resource_definition(
            "applications.argoproj.io", _preload_content=False)
        versions = yaml.safe_load(crd.data)["spec"]["versions"]
    assert [v["name"] for v in versions] == ["v1alpha1"]
    assert "status" not in (versions[0].get("subresources") or {})


def test_a_finished_sync_is_stored_and_requests_one_scoped_snapshot_once(argo: ArgoEnv) -> None:
    baseline, _ = tick(argo, None)  # first sight of the cluster: a baseline, no snapshots
    assert baseline.run_requests == [] and ArgoCursor.loads(baseline.cursor).is_known(CLUSTER)

    uid = create_app(argo, "guestbook")["metadata"]["uid"]
    create_app(argo, "idle")  # never synced: no status, no event
    first_sync = [history_entry(1, SHA1, started="2026-01-31T10:00:00Z", deployed="2026-01-31T10:00:41Z",
                                initiated_by={"username": "alice"})]
    written = write_status(argo, "guestbook", succeeded(argo, first_sync, revision=SHA1,
                                                       started="2026-01-31T10:00:00Z", finished="2026-01-31T10:00:42Z"))
    assert written["status"]["operationState"]["phase"] == "Succeeded"  # the API server kept it

    first, _ = tick(argo, baseline.cursor)
    (request,) = mine(first, argo)
    assert len(first.run_requests) == 1  # nothing else in the cluster changed since the baseline
    event_id = f"{CLUSTER}/{argo.app_namespace}/guestbook/{uid}/1"
    assert request.run_key == f"post-sync:{event_id}"
    assert request.partition_key == CLUSTER  # destination https://kubernetes.default.svc: this cluster
    assert request.tags["c2c/cluster"] == CLUSTER  # as the scan schedule tags its runs
    assert request.asset_selection == [dg.AssetKey("deployment_snapshots")]
    assert request.run_config == {"ops": {"deployment_snapshots": {"config": {
        "mode": "post-sync",
        "namespaces": [argo.dest_namespace],
        "workloads": [f"Deployment/{argo.dest_namespace}/guestbook-ui"],
        "argocd_app": f"{argo.app_namespace}/guestbook",
        "sync_event_id": event_id,
    }}}}

    store = argo.store.get_store()
    stored = store.get(ARGOCD_SYNC_EVENTS.name, event_id)
    assert stored is not None
    assert (stored["phase"], stored["revision"], stored["initiated_by"], stored["health"], stored["sync_status"]) == (
        "Succeeded", SHA1, "alice", "Healthy", "Synced")
    assert stored["images"] == [f"registry.example.com/guestbook-ui:{SHA1[:7]}"]
    assert {(r["kind"], r["name"]) for r in stored["resources"]} == {("Deployment", "guestbook-ui"),
                                                                     ("Service", "guestbook-ui")}
    assert stored["snapshot_run_key"] == request.run_key

    # Same state, same cursor: the same run key (Dagster launches it once); next cursor: nothing.
    again, _ = tick(argo, baseline.cursor)
    assert [r.run_key for r in mine(again, argo)] == [request.run_key]
    quiet, _ = tick(argo, first.cursor)
    assert quiet.run_requests == [] and quiet.skip_reason is not None

    # A new sync: history id 2 (Argo CD keeps id 1 beside it).
    second_sync = first_sync + [history_entry(2, SHA2, started="2026-01-31T11:00:00Z", deployed="2026-01-31T11:00:30Z")]
    write_status(argo, "guestbook", succeeded(argo, second_sync, revision=SHA2,
                                              started="2026-01-31T11:00:00Z", finished="2026-01-31T11:00:31Z"))
    second, _ = tick(argo, quiet.cursor)
    assert [r.run_key for r in mine(second, argo)] == [f"post-sync:{CLUSTER}/{argo.app_namespace}/guestbook/{uid}/2"]

    # A failed sync: no history entry; recorded by finishedAt with phase Failed, and snapshotted
    # because it applied resources before failing.
    failed = copy.deepcopy(succeeded(argo, second_sync, revision=SHA3,
                                     started="2026-01-31T12:00:00Z", finished="2026-01-31T12:01:00Z"))
    failed["operationState"]["phase"] = "Failed"
    failed["operationState"]["syncResult"]["resources"][0]["status"] = "SyncFailed"
    failed["health"]["status"] = "Degraded"
    write_status(argo, "guestbook", failed)
    third, _ = tick(argo, second.cursor)
    failed_id = f"{CLUSTER}/{argo.app_namespace}/guestbook/{uid}/2026-01-31T12:01:00Z"
    assert [r.run_key for r in mine(third, argo)] == [f"post-sync:{failed_id}"]
    failed_doc = store.get(ARGOCD_SYNC_EVENTS.name, failed_id)
    assert (failed_doc["phase"], failed_doc["revision"], failed_doc["health"]) == ("Failed", SHA3, "Degraded")
    assert {d["event_id"] for d in store.find(ARGOCD_SYNC_EVENTS.name, "app", "guestbook")
            if d["app_namespace"] == argo.app_namespace} == {event_id, event_id[:-1] + "2", failed_id}
    store.close()


def test_the_first_tick_on_a_cluster_records_past_syncs_without_snapshotting_them(argo: ArgoEnv) -> None:
    uid = create_app(argo, "veteran")["metadata"]["uid"]
    history = [history_entry(i, f"{i:040d}", started=f"2026-01-0{i + 1}T10:00:00Z",
                             deployed=f"2026-01-0{i + 1}T10:00:30Z") for i in range(3)]
    write_status(argo, "veteran", succeeded(argo, history, revision=f"{2:040d}",
                                            started="2026-01-03T10:00:00Z", finished="2026-01-03T10:00:31Z"))
    result, _ = tick(argo, None)
    # Weeks-old syncs: a "post-sync" snapshot now would mislabel today's state; the scan covers it.
    assert mine(result, argo) == []
    store = argo.store.get_store()
    ids = {d["event_id"] for d in store.find(ARGOCD_SYNC_EVENTS.name, "app", "veteran")}
    store.close()
    assert ids == {f"{CLUSTER}/{argo.app_namespace}/veteran/{uid}/{i}" for i in range(3)}


def test_an_app_whose_destination_namespace_does_not_exist_is_still_recorded(argo: ArgoEnv) -> None:
    baseline, _ = tick(argo, None)
    uid = create_app(argo, "ghost", dest_namespace="no-such-namespace")["metadata"]["uid"]
    history = [history_entry(0, SHA1, started="2026-01-31T10:00:00Z", deployed="2026-01-31T10:00:05Z")]
    write_status(argo, "ghost", status(history=history, health="Missing", operation=operation_state(
        "Succeeded", SHA1, started="2026-01-31T10:00:00Z", finished="2026-01-31T10:00:06Z", resources=[])))
    result, _ = tick(argo, baseline.cursor)
    (request,) = mine(result, argo)
    # The snapshot of a namespace that does not exist is simply empty; the sync is on record.
    assert request.run_config["ops"]["deployment_snapshots"]["config"]["namespaces"] == ["no-such-namespace"]
    store = argo.store.get_store()
    assert store.get(ARGOCD_SYNC_EVENTS.name, f"{CLUSTER}/{argo.app_namespace}/ghost/{uid}/0")["health"] == "Missing"
    store.close()


def test_an_app_deploying_to_an_unknown_cluster_is_recorded_without_a_run(argo: ArgoEnv) -> None:
    baseline, _ = tick(argo, None)
    uid = create_app(argo, "remote", server="https://10.200.0.1:6443")["metadata"]["uid"]
    history = [history_entry(0, SHA1, started="2026-01-31T10:00:00Z", deployed="2026-01-31T10:00:05Z")]
    write_status(argo, "remote", status(history=history, operation=operation_state(
        "Succeeded", SHA1, started="2026-01-31T10:00:00Z", finished="2026-01-31T10:00:06Z", resources=[])))
    result, _ = tick(argo, baseline.cursor)
    assert mine(result, argo) == []
    store = argo.store.get_store()
    doc = store.get(ARGOCD_SYNC_EVENTS.name, f"{CLUSTER}/{argo.app_namespace}/remote/{uid}/0")
    store.close()
    assert "cluster" not in doc and "https://10.200.0.1:6443" in doc["ingest_problems"][0]


def test_a_recreated_app_starts_a_new_history_and_keeps_the_old_one(argo: ArgoEnv) -> None:
    from kubernetes import client

    custom = client.CustomObjectsApi(argo.api)
    baseline, _ = tick(argo, None)
    old_uid = create_app(argo, "phoenix")["metadata"]["uid"]
    old_history = [history_entry(i, f"{i + 1:040d}", started=f"2026-01-0{i + 1}T10:00:00Z",
                                 deployed=f"2026-01-0{i + 1}T10:00:30Z") for i in range(3)]
    write_status(argo, "phoenix", succeeded(argo, old_history, revision=f"{3:040d}",
                                            started="2026-01-03T10:00:00Z", finished="2026-01-03T10:00:31Z"))
    first, _ = tick(argo, baseline.cursor)
    assert [r.run_key for r in mine(first, argo)] == [f"post-sync:{CLUSTER}/{argo.app_namespace}/phoenix/{old_uid}/2"]

    # Deleted and created again under the same name: the API server gives it a new uid, and
    # Argo CD starts its history at id 0 again.
    custom.delete_namespaced_custom_object(GROUP, VERSION, argo.app_namespace, PLURAL, "phoenix")
    new_uid = create_app(argo, "phoenix")["metadata"]["uid"]
    assert new_uid != old_uid
    new_history = [history_entry(i, f"{i + 7:040d}", started=f"2026-02-0{i + 1}T10:00:00Z",
                                 deployed=f"2026-02-0{i + 1}T10:00:30Z") for i in range(2)]
    write_status(argo, "phoenix", succeeded(argo, new_history, revision=f"{8:040d}",
                                            started="2026-02-02T10:00:00Z", finished="2026-02-02T10:00:31Z"))
    second, _ = tick(argo, first.cursor)
    # Ids 0 and 1 were seen for the old app; for the new one they are new, and its sync is snapshotted.
    assert [r.run_key for r in mine(second, argo)] == [f"post-sync:{CLUSTER}/{argo.app_namespace}/phoenix/{new_uid}/1"]

    store = argo.store.get_store()
    events = {d["event_id"]: d for d in store.find(ARGOCD_SYNC_EVENTS.name, "app", "phoenix", limit=100)
              if d["app_namespace"] == argo.app_namespace}
    store.close()
    prefix = f"{CLUSTER}/{argo.app_namespace}/phoenix"
    assert set(events) == {f"{prefix}/{old_uid}/{i}" for i in range(3)} | {f"{prefix}/{new_uid}/{i}" for i in range(2)}
    # The old app's history is intact: id 0 still names the old app's first revision.
    assert events[f"{prefix}/{old_uid}/0"]["revision"] == f"{1:040d}"
    assert events[f"{prefix}/{new_uid}/0"]["revision"] == f"{7:040d}"
    assert {d["app_uid"] for d in events.values()} == {old_uid, new_uid}


def test_a_multi_source_app_keeps_one_path_per_revision(argo: ArgoEnv) -> None:
    sources = [
        {"repoURL": "https://charts.example.com", "chart": "guestbook", "targetRevision": "1.4.0",
         "helm": {"valueFiles": ["$values/values/prod.yaml"]}},
        {"repoURL": "https://github.com/example/gitops-config.git", "targetRevision": "main", "ref": "values"},
    ]
    baseline, _ = tick(argo, None)
    uid = create_app(argo, "charted", sources=sources)["metadata"]["uid"]
    entry = {"id": 0, "revisions": ["1.4.0", SHA1], "sources": sources, "deployedAt": "2026-01-31T10:00:30Z",
             "deployStartedAt": "2026-01-31T10:00:00Z", "initiatedBy": {"automated": True}}
    operation = operation_state("Succeeded", "", started="2026-01-31T10:00:00Z", finished="2026-01-31T10:00:31Z",
                                resources=[synced("Deployment", "guestbook-ui", argo.dest_namespace)])
    operation["syncResult"].update(revision="", revisions=["1.4.0", SHA1], sources=sources)
    del operation["syncResult"]["source"]
    written = write_status(argo, "charted", status(history=[entry], operation=operation))
    assert written["status"]["history"][0]["sources"][1] == sources[1]  # the real CRD kept the ref-only source
    tick(argo, baseline.cursor)
    store = argo.store.get_store()
    doc = store.get(ARGOCD_SYNC_EVENTS.name, f"{CLUSTER}/{argo.app_namespace}/charted/{uid}/0")
    store.close()
    assert doc["revisions"] == ["1.4.0", SHA1]
    assert doc["source_paths"] == ["guestbook", ""]


def _kubeconfig_with(source: Path, target: Path, *, server: str | None = None, token: str | None = None) -> Path:
    config = yaml.safe_load(source.read_text())
    if server:
        config["clusters"][0]["cluster"]["server"] = server
    if token:
        config["users"][0]["user"] = {"token": token}
    target.write_text(yaml.safe_dump(config))
    return target


def test_an_unreachable_api_server_skips_naming_cluster_and_url_with_the_cursor_unchanged(
    argo: ArgoEnv, k8s_cluster, tmp_path: Path
) -> None:
    baseline, _ = tick(argo, None)
    down_url = f"https://127.0.0.1:{free_port()}"
    down = KubeClusterConfig(name="down", kubeconfig=str(_kubeconfig_with(
        k8s_cluster.kubeconfig, tmp_path / "down.yaml", server=down_url)))
    only_down = KubernetesResource(clusters=[down], request_timeout_seconds=5)
    skipped, context = tick(argo, baseline.cursor, kubernetes=only_down)
    assert isinstance(skipped, dg.SkipReason)
    assert "'down'" in skipped.skip_message and down_url in skipped.skip_message
    assert "cursor unchanged" in skipped.skip_message
    assert context.cursor == baseline.cursor

    # Beside a readable cluster: that one advances, the unreachable one keeps its (absent) entry.
    both = KubernetesResource(clusters=[argo.kubernetes.clusters[0], down], request_timeout_seconds=5)
    result, _ = tick(argo, baseline.cursor, kubernetes=both)
    cursor = ArgoCursor.loads(result.cursor)
    assert cursor.is_known(CLUSTER) and not cursor.is_known("down")


def test_a_forbidden_listing_skips_naming_the_missing_permission(argo: ArgoEnv, k8s_cluster, tmp_path: Path) -> None:
    from kubernetes import client

    core = client.CoreV1Api(argo.api)
    core.create_namespaced_service_account(argo.app_namespace, {"metadata": {"name": "no-rights"}})
    token = core.create_namespaced_service_account_token(
        "no-rights", argo.app_namespace, {"spec": {"expirationSeconds": 600}}).status.token
    forbidden = KubernetesResource(clusters=[KubeClusterConfig(name="locked", kubeconfig=str(_kubeconfig_with(
        k8s_cluster.kubeconfig, tmp_path / "locked.yaml", token=token)))])
    skipped, context = tick(argo, "{}", kubernetes=forbidden)
    assert isinstance(skipped, dg.SkipReason)
    assert "403" in skipped.skip_message and "applications.argoproj.io" in skipped.skip_message
    assert k8s_cluster.server in skipped.skip_message and "'locked'" in skipped.skip_message
    assert context.cursor == "{}"
