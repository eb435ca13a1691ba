"""The Argo CD behaviour c2c relies on, produced by the real controller (Argo CD 3.6 on the test
control plane, syncing local git repos) and read by the real ``argocd_sync_sensor``: automated
syncs of image-tag commits, history past Argo CD's 10-entry cap, a rollback, a failed sync, a
degraded app, a multi-source app, an app deleted and created again, apps that deploy where c2c
does not look. kwok runs the synced pods (no containers)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import dagster as dg
import pytest

from c2c_core.timeutil import parse_time, utc_now
from c2c_dagster.argocd.cursor import ArgoCursor
from c2c_dagster_tests.argocd.conftest import CLUSTER, GitOps, mine, tick
from c2c_dagster_tests.argocd.data import history_entry, operation_state, status
from c2c_devstack.services import wait_until
from c2c_devstack.services.argocd import ConfigRepo, deployment_manifest, manifests_yaml

pytestmark = [pytest.mark.kubernetes, pytest.mark.argocd]

# kwok's pod-ready stage holds a pod carrying this annotation in Pending (services/k8s/kwok-stages.yaml).
HOLD_PENDING = {"pod-ready.stage.kwok.x-k8s.io/delay": "1h"}
# A failed automated sync is retried 5 times over about 2.5 minutes by default; once, at once, here.
RETRY_ONCE = {"limit": 1, "backoff": {"duration": "1s", "factor": 1, "maxDuration": "1s"}}


def pod_images(gitops: GitOps, app: str) -> list[tuple[str, str]]:
    """(image, imageID) of the Running pods of the Deployment ``app`` in the destination namespace."""
    from kubernetes import client

    with gitops.argocd.cluster.api_client() as api:
        pods = client.CoreV1Api(api).list_namespaced_pod(gitops.dest_namespace, label_selector=f"app={app}").items
    return sorted((p.spec.containers[0].image, p.status.container_statuses[0].image_id)
                  for p in pods if p.status.phase == "Running" and p.metadata.deletion_timestamp is None)


def wait_running(gitops: GitOps, app: str, image: str, count: int = 1) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    def settled() -> bool:
        found[:] = pod_images(gitops, app)
        return [i for i, _ in found] == [image] * count

    wait_until(settled, what=f"{count} pod(s) of {app} running {image}", timeout=60)
    return found


def test_an_image_tag_commit_is_synced_by_argo_cd_and_recorded_once_with_a_scoped_snapshot(gitops: GitOps) -> None:
    baseline, _ = tick(gitops, None)  # first sight of the cluster: a baseline, no snapshots
    assert baseline.run_requests == [] and ArgoCursor.loads(baseline.cursor).is_known(CLUSTER)
    first = gitops.commit_image("web", "registry.local/shop/web:1.0", replicas=2)
    gitops.create_app("web")
    # Never synced (no automated sync, no operation): Argo CD compares it, nothing more.
    gitops.create_app("idle", path="web", automated=False, dest_namespace=gitops.namespace())
    app = gitops.argocd.wait_for_operation(gitops.app_namespace, "web", revision=first)
    idle = gitops.argocd.wait_for(gitops.app_namespace, "idle", lambda a: a.get("status", {}).get("sync", {}).get(
        "status") == "OutOfSync", what="idle compared")
    assert "history" not in idle["status"] and "operationState" not in idle["status"]

    operation, (entry,) = app["status"]["operationState"], app["status"]["history"]
    assert operation["phase"] == "Succeeded" and operation["operation"]["initiatedBy"] == {"automated": True}
    assert operation["syncResult"]["revision"] == first
    # What c2c matches an operation to its history entry by: id from 0, deployStartedAt = startedAt.
    assert (entry["id"], entry["revision"], entry["initiatedBy"]) == (0, first, {"automated": True})
    assert entry["deployStartedAt"] == operation["startedAt"]
    assert entry["source"] == {"repoURL": gitops.repo.url, "path": "web", "targetRevision": "main"}
    # The controller manager rolled it out; kwok runs the pods with an imageID for the tag.
    running = wait_running(gitops, "web", "registry.local/shop/web:1.0", count=2)
    assert all(image_id.startswith("registry.local/shop/web@sha256:") for _, image_id in running)

    result, _ = tick(gitops, baseline.cursor)
    event_id = gitops.event_id(app, 0)
    (request,) = mine(result, gitops)
    # The batch the tick stored is reported on the argocd_sync_events asset (no run writes it).
    (stored,) = result.asset_events
    assert stored.asset_key == dg.AssetKey("argocd_sync_events") and stored.metadata["sync_events"].value >= 1
    assert CLUSTER in stored.metadata["by_cluster"].value
    assert request.run_key == f"post-sync:{event_id}" and request.partition_key == CLUSTER
    assert request.tags["c2c/cluster"] == CLUSTER  # as the scan schedule tags its runs
    assert request.run_config["ops"]["deployment_snapshots"]["config"] == {
        "mode": "post-sync", "namespaces": [gitops.dest_namespace],
        "workloads": [f"Deployment/{gitops.dest_namespace}/web"],
        "argocd_app": f"{gitops.app_namespace}/web", "sync_event_id": event_id}
    doc = gitops.events("web")[event_id]
    assert (doc["phase"], doc["revision"], doc["repo_url"], doc["initiated_by"], doc["automated"]) == (
        "Succeeded", first, gitops.repo.url, "automated", True)
    assert (doc["started_at"], doc["finished_at"], doc["deployed_at"]) == (
        operation["startedAt"], operation["finishedAt"], entry["deployedAt"])
    assert doc["images"] == ["registry.local/shop/web:1.0"] and doc["source_paths"] == ["web"]
    assert [(r["kind"], r["name"], r["status"]) for r in doc["resources"]] == [("Deployment", "web", "Synced")]
    assert set(gitops.events("web")) == {event_id} and gitops.events("idle") == {}
    # Same state, same cursor: the same run key (Dagster launches it once); next cursor: nothing.
    again, _ = tick(gitops, baseline.cursor)
    assert [r.run_key for r in mine(again, gitops)] == [request.run_key]
    quiet, _ = tick(gitops, result.cursor)
    assert mine(quiet, gitops) == []

    # A second commit, a new tag: history id 1 beside id 0; the first event keeps its revision.
    second = gitops.commit_image("web", "registry.local/shop/web:1.1", replicas=2)
    app = gitops.synced("web", second)
    assert [(e["id"], e["revision"]) for e in app["status"]["history"]] == [(0, first), (1, second)]
    wait_running(gitops, "web", "registry.local/shop/web:1.1", count=2)
    later, _ = tick(gitops, quiet.cursor)
    assert [r.run_key for r in mine(later, gitops)] == [f"post-sync:{gitops.event_id(app, 1)}"]
    events = gitops.events("web")
    assert {e["history_id"]: e["revision"] for e in events.values()} == {0: first, 1: second}
    assert events[gitops.event_id(app, 1)]["images"] == ["registry.local/shop/web:1.1"]


def test_every_sync_is_kept_after_argo_cd_drops_it_from_its_history(gitops: GitOps) -> None:
    baseline, _ = tick(gitops, None)
    commits = [gitops.commit_image("web", "registry.local/shop/web:0")]
    gitops.create_app("web")
    app = gitops.argocd.wait_for_operation(gitops.app_namespace, "web", revision=commits[0])
    cursor = tick(gitops, baseline.cursor)[0].cursor
    for n in range(1, 12):
        commits.append(gitops.commit_image("web", f"registry.local/shop/web:{n}"))
        app = gitops.synced("web", commits[-1])
        result, _ = tick(gitops, cursor)  # the sensor runs between syncs, as its 30 s interval would
        assert [r.run_key for r in mine(result, gitops)] == [f"post-sync:{gitops.event_id(app, n)}"]
        cursor = result.cursor

    # Argo CD kept the newest 10 (ids 2..11); c2c kept all 12, each with the commit it deployed.
    assert [e["id"] for e in app["status"]["history"]] == list(range(2, 12))
    events = gitops.events("web")
    assert {e["history_id"]: e["revision"] for e in events.values()} == dict(enumerate(commits))
    assert {e["images"][0] for e in events.values() if e.get("images")} <= {
        f"registry.local/shop/web:{n}" for n in range(12)}
    # The cursor holds what Argo CD still shows, not all that was ever seen.
    key = f"{gitops.app_namespace}/web"
    assert ArgoCursor.loads(cursor).clusters[CLUSTER][key].history_ids == set(range(2, 12))


def test_the_first_tick_on_a_cluster_records_past_syncs_without_snapshotting_them(gitops: GitOps) -> None:
    commits = [gitops.commit_image("web", "registry.local/shop/web:1")]
    app = gitops.create_app("web")
    gitops.argocd.wait_for_operation(gitops.app_namespace, "web", revision=commits[0])
    for n in (2, 3):
        commits.append(gitops.commit_image("web", f"registry.local/shop/web:{n}"))
        app = gitops.synced("web", commits[-1])
    result, _ = tick(gitops, None)
    # Old syncs: a "post-sync" snapshot now would mislabel today's state; the scan covers it.
    assert mine(result, gitops) == []
    assert {d["event_id"]: d["revision"] for d in gitops.events("web").values()} == {
        gitops.event_id(app, i): commit for i, commit in enumerate(commits)}


def test_a_rollback_to_an_earlier_history_id_is_a_new_sync_by_its_user(gitops: GitOps) -> None:
    baseline, _ = tick(gitops, None)
    good = gitops.commit_image("web", "registry.local/shop/web:good")
    gitops.create_app("web")
    gitops.argocd.wait_for_operation(gitops.app_namespace, "web", revision=good)
    bad = gitops.commit_image("web", "registry.local/shop/web:bad")
    app = gitops.synced("web", bad)
    wait_running(gitops, "web", "registry.local/shop/web:bad")
    cursor = tick(gitops, baseline.cursor)[0].cursor

    # `argocd app rollback web 0` refuses while automated sync is on; then the API server
    # (server/application/application.go, Rollback -> argo.SetAppOperation) writes this operation:
    # the entry's revision and source, the apply strategy, the user, and clears operationState.
    gitops.argocd.patch_application(gitops.app_namespace, "web", {"spec": {"syncPolicy": {"automated": None}}})
    target = app["status"]["history"][0]
    gitops.argocd.patch_application(gitops.app_namespace, "web", {
        "operation": {"sync": {"revision": target["revision"], "source": target["source"],
                               "syncStrategy": {"apply": {}}},
                      "initiatedBy": {"username": "alice"}},
        "status": {"operationState": None}})
    app = gitops.argocd.wait_for_operation(gitops.app_namespace, "web", revision=good)

    assert app["status"]["operationState"]["phase"] == "Succeeded"
    # A rollback is an ordinary new history entry, with the old revision and the user.
    assert [(e["id"], e["revision"], e["initiatedBy"]) for e in app["status"]["history"]] == [
        (0, good, {"automated": True}), (1, bad, {"automated": True}), (2, good, {"username": "alice"})]
    # HEAD of main is still the bad commit: the app is OutOfSync, running the rolled-back image.
    assert app["status"]["sync"]["revision"] == bad
    wait_running(gitops, "web", "registry.local/shop/web:good")

    result, _ = tick(gitops, cursor)
    rollback_id = gitops.event_id(app, 2)
    assert [r.run_key for r in mine(result, gitops)] == [f"post-sync:{rollback_id}"]
    doc = gitops.events("web")[rollback_id]
    assert (doc["revision"], doc["initiated_by"], doc["automated"], doc["phase"]) == (good, "alice", False, "Succeeded")
    assert doc["images"] == ["registry.local/shop/web:good"]


def test_a_failed_sync_is_recorded_by_its_end_and_the_next_good_sync_continues_the_history(gitops: GitOps) -> None:
    baseline, _ = tick(gitops, None)
    good = gitops.commit_image("web", "registry.local/shop/web:1")
    gitops.create_app("web", retry=RETRY_ONCE)
    gitops.argocd.wait_for_operation(gitops.app_namespace, "web", revision=good)
    cursor = tick(gitops, baseline.cursor)[0].cursor

    # An invalid manifest: the API server refuses the Deployment (replicas < 0).
    invalid = deployment_manifest("web", "registry.local/shop/web:2")
    invalid["spec"]["replicas"] = -1
    settings = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-settings"}, "data": {"mode": "fast"}}
    bad = gitops.repo.commit({"web/deployment.yaml": manifests_yaml(invalid, settings)}, "web: replicas -1")
    app = gitops.synced("web", bad)
    operation = app["status"]["operationState"]
    assert operation["phase"] == "Failed" and operation["retryCount"] == 1
    # The API server refused the Deployment; the ConfigMap beside it was applied all the same.
    settings_result, deployment_result = sorted(operation["syncResult"]["resources"], key=lambda r: r["kind"])
    assert (settings_result["kind"], settings_result["status"]) == ("ConfigMap", "Synced")
    assert (deployment_result["kind"], deployment_result["status"]) == ("Deployment", "SyncFailed")
    assert "spec.replicas" in deployment_result["message"]
    assert [e["revision"] for e in app["status"]["history"]] == [good]  # no entry for a failure

    result, _ = tick(gitops, cursor)
    failed_id = gitops.event_id(app, operation["finishedAt"])
    doc = gitops.events("web")[failed_id]
    assert (doc["phase"], doc["revision"], doc["retry_count"]) == ("Failed", bad, 1)
    assert {(r["kind"], r["status"]) for r in doc["resources"]} == {("ConfigMap", "Synced"), ("Deployment", "SyncFailed")}
    assert "history_id" not in doc
    # What it applied is all its images say: the ConfigMap has none and the refused Deployment's
    # web:2 never reached the cluster; nor is it the web:1 the app ran before (status.summary).
    assert not doc.get("images")
    # It changed the cluster (the ConfigMap), so it is snapshotted; the old pods still run the
    # good image, which is what that snapshot shows.
    assert [r.run_key for r in mine(result, gitops)] == [f"post-sync:{failed_id}"]
    assert [i for i, _ in pod_images(gitops, "web")] == ["registry.local/shop/web:1"]

    fixed = gitops.commit_image("web", "registry.local/shop/web:3")
    app = gitops.synced("web", fixed)
    assert [(e["id"], e["revision"]) for e in app["status"]["history"]] == [(0, good), (1, fixed)]
    after, _ = tick(gitops, result.cursor)
    assert [r.run_key for r in mine(after, gitops)] == [f"post-sync:{gitops.event_id(app, 1)}"]
    assert {d["phase"] for d in gitops.events("web").values()} == {"Succeeded", "Failed"}
    assert len(gitops.events("web")) == 3


def test_a_hand_edit_undone_by_self_heal_is_a_sync_without_a_history_entry(gitops: GitOps) -> None:
    from kubernetes import client

    baseline, _ = tick(gitops, None)
    head = gitops.commit_image("web", "registry.local/shop/web:1")
    gitops.create_app("web", self_heal=True)
    gitops.argocd.wait_for_operation(gitops.app_namespace, "web", revision=head)
    wait_running(gitops, "web", "registry.local/shop/web:1")
    settled = gitops.argocd.wait_for(
        gitops.app_namespace, "web",
        lambda a: a["status"]["sync"]["status"] == "Synced" and not a.get("operation"), what="settled")
    cursor = tick(gitops, baseline.cursor)[0].cursor
    # Argo CD stamps operations to the second, and an operation without a history entry is known
    # by its end: the hand edit waits for the next second, so its self-heal cannot share a
    # timestamp with an operation the sensor has already handled (two self-heals within one
    # second are indistinguishable in the Application's status, and recorded as one).
    last = parse_time(settled["status"]["operationState"]["finishedAt"])
    wait_until(lambda: utc_now() >= last + timedelta(seconds=1), what="the second after the last operation",
               timeout=5, interval=0.1)

    # `kubectl set image` by hand: the live Deployment drifts from git, and Argo CD re-applies it.
    with gitops.argocd.cluster.api_client() as api:
        client.AppsV1Api(api).patch_namespaced_deployment("web", gitops.dest_namespace, {"spec": {"template": {
            "spec": {"containers": [{"name": "web", "image": "registry.local/shop/web:hotfix"}]}}}})
    # (Its timestamps may equal the sync's before it: both have one-second resolution.)
    gitops.argocd.wait_for(
        gitops.app_namespace, "web",
        lambda a: a["status"]["operationState"]["operation"]["sync"].get("resources"), what="self-heal sync")
    wait_running(gitops, "web", "registry.local/shop/web:1")
    # Settled: back in sync, nothing running. (Argo CD may take two self-heal passes while the
    # rollout it started moves on; each is a sync of the Deployment alone.)
    healed = gitops.argocd.wait_for(
        gitops.app_namespace, "web",
        lambda a: a["status"]["sync"]["status"] == "Synced" and not a.get("operation")
        and a["status"]["operationState"]["phase"] == "Succeeded", what="back in sync")
    operation = healed["status"]["operationState"]
    # A self-heal syncs only what drifted, and a selective sync writes no history entry.
    assert operation["operation"]["sync"]["resources"] == [{"group": "apps", "kind": "Deployment", "name": "web"}]
    assert operation["operation"]["initiatedBy"] == {"automated": True}
    assert operation["operation"]["sync"]["autoHealAttemptsCount"] >= 1
    assert [e["id"] for e in healed["status"]["history"]] == [0]

    # c2c records it as a sync of its own, by its end, and snapshots what it re-applied. (Only the
    # latest operation is visible: two self-heals between two sensor ticks are recorded as one.)
    result, _ = tick(gitops, cursor)
    healed_id = gitops.event_id(healed, operation["finishedAt"])
    assert [r.run_key for r in mine(result, gitops)] == [f"post-sync:{healed_id}"]
    doc = gitops.events("web")[healed_id]
    assert (doc["phase"], doc["revision"], doc["automated"], doc.get("history_id")) == ("Succeeded", head, True, None)


def test_a_sync_that_succeeds_into_a_degraded_app_is_recorded_with_that_health(gitops: GitOps) -> None:
    baseline, _ = tick(gitops, None)
    # Its pods never become ready (kwok holds them Pending) and the Deployment gives up after 1s:
    # the controller manager sets ProgressDeadlineExceeded, which Argo CD reads as Degraded.
    stuck = gitops.repo.commit({"web/deployment.yaml": manifests_yaml(deployment_manifest(
        "web", "registry.local/shop/web:stuck", pod_annotations=HOLD_PENDING, progress_deadline_seconds=1))},
        "web: stuck")
    gitops.create_app("web")
    app = gitops.argocd.wait_for_operation(gitops.app_namespace, "web", revision=stuck)
    # The sync itself succeeds: applying is its job; health is the app's state after it.
    assert app["status"]["operationState"]["phase"] == "Succeeded"
    app = gitops.argocd.wait_for(gitops.app_namespace, "web",
                                 lambda a: a["status"]["health"]["status"] == "Degraded", what="Degraded")
    assert app["status"]["health"]["message"] == f"Caused by apps/Deployment:{gitops.dest_namespace}/web"

    tick(gitops, baseline.cursor)
    doc = gitops.events("web")[gitops.event_id(app, 0)]
    assert (doc["phase"], doc["health"], doc["sync_status"]) == ("Succeeded", "Degraded", "Synced")


def test_a_multi_source_app_keeps_one_repo_path_and_revision_per_source(gitops: GitOps, tmp_path) -> None:
    platform = ConfigRepo.create(tmp_path / "platform")
    web = gitops.commit_image("web", "registry.local/shop/web:1")
    worker = platform.commit({"worker/deployment.yaml": manifests_yaml(
        deployment_manifest("worker", "registry.local/shop/worker:1"))}, "worker 1")
    sources = [
        {"repoURL": gitops.repo.url, "path": "web", "targetRevision": "main"},
        {"repoURL": platform.url, "path": "worker", "targetRevision": "main"},
        # A ref-only source (what a Helm source's $values would name): a revision, no manifests.
        {"repoURL": platform.url, "ref": "values", "targetRevision": "main"},
    ]
    baseline, _ = tick(gitops, None)
    gitops.create_app("shop", sources=sources)
    app = gitops.argocd.wait_for_operation(gitops.app_namespace, "shop", revision=web)
    (entry,) = app["status"]["history"]
    assert entry["revisions"] == [web, worker, worker] and entry["sources"] == sources
    assert app["status"]["operationState"]["syncResult"]["revisions"] == [web, worker, worker]

    # Only the platform repo moves: a new history entry with one new revision.
    worker2 = platform.commit({"worker/deployment.yaml": manifests_yaml(
        deployment_manifest("worker", "registry.local/shop/worker:2"))}, "worker 2")
    app = gitops.synced("shop", worker2)
    assert [e["revisions"] for e in app["status"]["history"]] == [[web, worker, worker], [web, worker2, worker2]]

    result, _ = tick(gitops, baseline.cursor)
    events = gitops.events("shop")
    first, second = events[gitops.event_id(app, 0)], events[gitops.event_id(app, 1)]
    for doc, revisions in ((first, [web, worker, worker]), (second, [web, worker2, worker2])):
        assert doc["revisions"] == revisions and doc["revision"] == revisions
        assert doc["repo_url"] == [gitops.repo.url, platform.url, platform.url]
        assert doc["source_paths"] == ["web", "worker", ""]
    request = mine(result, gitops)[0]
    assert request.run_config["ops"]["deployment_snapshots"]["config"]["workloads"] == [
        f"Deployment/{gitops.dest_namespace}/web", f"Deployment/{gitops.dest_namespace}/worker"]


def test_an_app_deleted_and_created_again_starts_a_new_history_beside_the_old(gitops: GitOps) -> None:
    baseline, _ = tick(gitops, None)
    commits = [gitops.commit_image("web", "registry.local/shop/web:1")]
    old = gitops.create_app("web")
    gitops.argocd.wait_for_operation(gitops.app_namespace, "web", revision=commits[0])
    commits.append(gitops.commit_image("web", "registry.local/shop/web:2"))
    old = gitops.synced("web", commits[-1])
    cursor = tick(gitops, baseline.cursor)[0].cursor

    # Deleted without Argo CD's resources finalizer: the Deployment stays, the app is gone.
    gitops.argocd.delete_application(gitops.app_namespace, "web")
    from kubernetes import client

    with gitops.argocd.cluster.api_client() as api:
        wait_until(lambda: not client.CustomObjectsApi(api).list_namespaced_custom_object(
            "argoproj.io", "v1alpha1", gitops.app_namespace, "applications")["items"], what="app deleted", timeout=30)
    commits.append(gitops.commit_image("web", "registry.local/shop/web:3"))
    gitops.create_app("web")
    new = gitops.argocd.wait_for_operation(gitops.app_namespace, "web", revision=commits[-1])
    assert new["metadata"]["uid"] != old["metadata"]["uid"]
    # Argo CD starts the new app's history at id 0 again.
    assert [(e["id"], e["revision"]) for e in new["status"]["history"]] == [(0, commits[-1])]

    result, _ = tick(gitops, cursor)
    assert [r.run_key for r in mine(result, gitops)] == [f"post-sync:{gitops.event_id(new, 0)}"]
    events = gitops.events("web")
    assert {i: events[i]["revision"] for i in events} == {
        gitops.event_id(old, 0): commits[0], gitops.event_id(old, 1): commits[1], gitops.event_id(new, 0): commits[2]}


def test_destinations_c2c_does_not_read_are_recorded_without_a_snapshot_run(gitops: GitOps) -> None:
    baseline, _ = tick(gitops, None)
    # The same API server registered in Argo CD under a second address c2c is not configured for:
    # to c2c it is another cluster.
    remote = gitops.argocd.register_cluster("remote", server=gitops.argocd.cluster.server.replace("127.0.0.1", "localhost"))
    gitops.commit_image("web", "registry.local/shop/web:1")
    # An app of cluster-scoped objects only, deploying to a namespace that does not exist.
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": f"{gitops.app_namespace}-reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}
    head = gitops.repo.commit({"ghost/role.yaml": manifests_yaml(role)}, "ghost: a ClusterRole")
    gitops.create_app("web", dest_server=remote)
    gitops.create_app("ghost", dest_namespace="no-such-namespace")
    remote_app = gitops.argocd.wait_for_operation(gitops.app_namespace, "web", revision=head)
    ghost = gitops.argocd.wait_for_operation(gitops.app_namespace, "ghost", revision=head)
    assert remote_app["status"]["operationState"]["phase"] == "Succeeded"
    assert ghost["status"]["operationState"]["phase"] == "Succeeded"

    result, _ = tick(gitops, baseline.cursor)
    requests = {r.tags["c2c/argocd-app"]: r for r in mine(result, gitops)}
    # The remote app's sync is on record with the reason, and no run asks for a cluster c2c lacks.
    assert list(requests) == [f"{gitops.app_namespace}/ghost"]
    remote_doc = gitops.events("web")[gitops.event_id(remote_app, 0)]
    assert "cluster" not in remote_doc and remote in remote_doc["ingest_problems"][0]
    # The snapshot of a namespace that does not exist is simply empty; the sync is on record.
    config = requests[f"{gitops.app_namespace}/ghost"].run_config["ops"]["deployment_snapshots"]["config"]
    assert (config["namespaces"], config["workloads"]) == (["no-such-namespace"], [])
    assert gitops.events("ghost")[gitops.event_id(ghost, 0)]["resources"][0]["kind"] == "ClusterRole"
    from kubernetes import client

    with gitops.argocd.cluster.api_client() as api:  # cluster-scoped: no namespace takes it along
        client.RbacAuthorizationV1Api(api).delete_cluster_role(role["metadata"]["name"])


def _paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path in a JSON value, list items merged (``history[].id``)."""
    if isinstance(value, dict):
        return {p for k, v in value.items() for p in {f"{prefix}.{k}"} | _paths(v, f"{prefix}.{k}")}
    if isinstance(value, list):
        return {p for item in value for p in _paths(item, f"{prefix}[]")}
    return set()


def test_the_status_the_pure_tests_write_has_the_fields_the_controller_writes(gitops: GitOps) -> None:
    """test_events/test_cursor feed pure functions hand-written status (cases like a sync from an
    older Argo CD without deployStartedAt cannot be made here); this keeps those dicts honest."""
    head = gitops.commit_image("web", "registry.local/shop/web:1")
    gitops.create_app("web")
    gitops.argocd.wait_for_operation(gitops.app_namespace, "web", revision=head)
    # The image summary lands with the status refresh after the sync.
    real = gitops.argocd.wait_for(gitops.app_namespace, "web", lambda a: a["status"].get("summary", {}).get("images"),
                                  what="summary.images")["status"]
    operation = real["operationState"]
    written = status(
        history=[history_entry(0, head, started=operation["startedAt"], deployed=operation["finishedAt"], path="web")],
        operation=operation_state("Succeeded", head, started=operation["startedAt"],
                                  finished=operation["finishedAt"], resources=operation["syncResult"]["resources"]),
    )
    # Every field c2c's events and cursor read, in both; the hand-written ones invent none.
    read = {".history[].id", ".history[].revision", ".history[].deployStartedAt", ".history[].deployedAt",
            ".history[].source.repoURL", ".history[].source.path", ".history[].initiatedBy.automated",
            ".operationState.phase", ".operationState.startedAt", ".operationState.finishedAt",
            ".operationState.message", ".operationState.operation.initiatedBy.automated",
            ".operationState.operation.sync.revision", ".operationState.syncResult.revision",
            ".operationState.syncResult.resources[].kind", ".operationState.syncResult.resources[].status",
            ".sync.status", ".sync.revision", ".health.status", ".summary.images"}
    assert read - _paths(real) == set() and read - _paths(written) == set()
    assert _paths(written) - _paths(real) <= {".summary.images"}  # empty lists have no item paths
