"""The in-memory join turns LIST results into workload and pod documents with every field of the
seed's section 6.4: owner chains (Deployment via ReplicaSet, CronJob via Job, StatefulSet,
DaemonSet, bare pods), init/regular/ephemeral containers, images without digests, node zone and
instance type, Argo CD apps (tracking annotation, label, status.resources) and snapshot scopes;
the streaming snapshot (pods joined page by page) gives the same documents."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from c2c_dagster.kubernetes.history import state_hash
from c2c_dagster.kubernetes.snapshot import Scope, build_snapshot, snapshot_cluster
from c2c_devstack.kube_objects import (
    FakeApi,
    application,
    collect_from,
    daemonset,
    deployment,
    deployment_pods,
    digest_of,
    job,
    node,
    owner,
    pod,
    replicaset,
    running,
    statefulset,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PINNED = digest_of("pinned")


def _objects() -> dict:
    return {
        "nodes": [node("node-1", "zone-a", "m5.large"), node("node-2", "zone-b", "c6i.xlarge")],
        "deployments": [deployment("shop", "web", "registry.local/web:2.0", replicas=2, revision="3",
                                   labels={"app.kubernetes.io/instance": "shop-web"})],
        "replicasets": [replicaset("shop", "web", "new", revision="3"), replicaset("shop", "web", "old",
                                                                                 revision="2", replicas=1)],
        "statefulsets": [statefulset("db", "pg", f"postgres@{PINNED}")],
        "daemonsets": [daemonset("kube-system", "agent", "agent:latest")],
        "jobs": [job("batch", "report-123", cronjob="report"), job("batch", "oneoff")],
        "applications": [application("argocd", "shop-web", "shop"),
                         application("argocd", "db", "db", resources=[{"group": "apps", "kind": "StatefulSet",
                                                                       "namespace": "db", "name": "pg"}])],
        "pods": [
            *deployment_pods("shop", "web", "new", 2, "registry.local/web:2.0", node_name="node-2"),
            *deployment_pods("shop", "web", "old", 1, "registry.local/web:1.0"),
            pod("db", "pg-0", owners=[owner("StatefulSet", "pg", "db")], containers=(("db", f"postgres@{PINNED}"),),
                statuses=[running("db", f"postgres@{PINNED}", image_id=f"docker-pullable://postgres@{PINNED}")]),
            pod("kube-system", "agent-x", owners=[owner("DaemonSet", "agent", "kube-system")],
                containers=(("agent", "agent:latest"),)),
            pod("batch", "report-123-q", owners=[owner("Job", "report-123", "batch")], phase="Succeeded"),
            pod("batch", "oneoff-z", owners=[owner("Job", "oneoff", "batch")]),
            # A bare pod with init and ephemeral containers; the app image is still pulling.
            pod("debug", "toolbox", containers=(("app", "busybox"),), init=(("setup", "busybox:1.36"),),
                ephemeral=(("debugger", "nicolaka/netshoot:v0.13"),),
                statuses=[{"name": "app", "image": "busybox", "imageID": "", "restartCount": 0,
                           "state": {"waiting": {"reason": "ErrImagePull"}}, "lastState": {}}],
                init_statuses=[{"name": "setup", "image": "busybox:1.36", "imageID": f"docker://{digest_of('b')}",
                                "restartCount": 0, "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}],
                ephemeral_statuses=[running("debugger", "nicolaka/netshoot:v0.13")], phase="Pending"),
        ],
    }


def _snap(scope: Scope = Scope(), **faults) -> tuple:
    """The pod and workload documents as they are stored, by name, and the snapshot."""
    snap = build_snapshot(collect_from(_objects(), **faults), cluster="prod", snapshot_time=NOW, scope=scope)
    pods = {p.pod_name: p.to_document() for p in snap.pods}
    return pods, {w.workload: w.to_document() for w in snap.workloads}, snap


def test_owner_chains_resolve_to_the_top_level_workload() -> None:
    pods, _, snap = _snap()
    workload = {name: p["workload"] for name, p in pods.items()}
    assert workload == {
        "web-new-0": "Deployment/shop/web", "web-new-1": "Deployment/shop/web", "web-old-0": "Deployment/shop/web",
        "pg-0": "StatefulSet/db/pg", "agent-x": "DaemonSet/kube-system/agent",
        "report-123-q": "CronJob/batch/report", "oneoff-z": "Job/batch/oneoff",
        "toolbox": "Pod/debug/toolbox",  # no owner: its own workload
    }
    assert not snap.orphaned_pods
    assert pods["web-old-0"]["replicaset"] == "web-old" and pods["web-old-0"]["revision"] == "2"
    assert pods["web-new-0"]["pod-template-hash"] == "new" and pods["web-new-0"]["revision"] == "3"


def test_pod_documents_carry_placement_and_runtime_fields() -> None:
    pods, _, snap = _snap()
    web = pods["web-new-0"]
    assert web["cluster"] == "prod" and web["mode"] == "scan" and snap.snapshot_time == "2026-03-01T12:00:00Z"
    assert web["nodeName"] == "node-2"
    assert web["node"] == {"name": "node-2", "zone": "zone-b", "region": None, "instance_type": "c6i.xlarge"}
    assert (web["podIP"], web["hostIP"], web["phase"], web["ready"]) == ("10.244.0.5", "172.31.0.10", "Running", True)
    assert web["startTime"] == "2026-01-01T00:00:00Z"
    (app,) = web["containers"]
    assert app["image"] == "registry.local/web:2.0" and app["image_tag"] == "2.0" and app["image_pin"] == "tag"
    assert app["image_digest"] == digest_of("registry.local/web:2.0") and app["digest_source"] == "imageID"
    assert app["state"] == "running" and app["restartCount"] == 0
    assert pods["pg-0"]["containers"][0]["image_digest"] == PINNED
    assert pods["pg-0"]["containers"][0]["image_pin"] == "digest"


def test_init_and_ephemeral_containers_and_images_without_digests() -> None:
    pods, _, _ = _snap()
    containers = {c["name"]: c for c in pods["toolbox"]["containers"]}
    assert {n: c["type"] for n, c in containers.items()} == {"setup": "init", "app": "regular",
                                                               "debugger": "ephemeral"}
    assert containers["setup"]["image_digest"] == digest_of("b")
    assert containers["setup"]["state"] == "terminated" and containers["setup"]["reason"] == "Completed"
    # Still pulling: no imageID, no pinned digest -> unknown, never guessed.
    assert containers["app"]["imageID"] == "" and containers["app"]["image_digest"] is None
    assert containers["app"]["digest_source"] is None and containers["app"]["image_pin"] == "latest"
    assert containers["app"]["state"] == "waiting" and containers["app"]["reason"] == "ErrImagePull"
    assert containers["debugger"]["state"] == "running" and containers["debugger"]["image_tag"] == "v0.13"


def test_workload_documents_carry_replicas_strategy_revision_and_rollout_state() -> None:
    _, workloads, _ = _snap()
    web = workloads["Deployment/shop/web"]
    assert web["replicas"] == {"desired": 2, "current": 2, "ready": 2, "available": 2, "updated": 2}
    assert web["strategy"] == {"type": "RollingUpdate", "maxSurge": "25%", "maxUnavailable": "1"}
    assert web["revision"] == "3" and web["generation"] == 1 and web["observedGeneration"] == 1
    assert web["conditions"][0]["type"] == "Available" and web["conditions"][0]["reason"] == "MinimumReplicasAvailable"
    assert [rs["name"] for rs in web["replicasets"]] == ["web-new", "web-old"]  # mid-rollout: both run pods
    assert web["pod_count"] == 3 and web["labels"] == {"app.kubernetes.io/instance": "shop-web"}
    assert web["containers"][0]["image"] == "registry.local/web:2.0"
    pg = workloads["StatefulSet/db/pg"]
    assert pg["strategy"]["partition"] == "0" and pg["revision"] == "pg-abc"
    assert pg["containers"][0]["image_digest"] == PINNED
    agent = workloads["DaemonSet/kube-system/agent"]
    assert agent["replicas"]["desired"] == 2 and agent["strategy"]["type"] == "OnDelete"
    assert set(workloads) == {"Deployment/shop/web", "StatefulSet/db/pg", "DaemonSet/kube-system/agent"}


def test_argocd_app_from_tracking_label_annotation_or_application_resources() -> None:
    pods, workloads, _ = _snap()
    assert workloads["Deployment/shop/web"]["argocd_app"] == "argocd/shop-web"  # instance label
    assert pods["web-new-0"]["argocd_app"] == "argocd/shop-web"  # pods inherit their workload's app
    assert workloads["StatefulSet/db/pg"]["argocd_app"] == "argocd/db"  # Application status.resources
    assert workloads["DaemonSet/kube-system/agent"]["argocd_app"] is None


def test_helm_instance_label_without_an_application_is_not_an_argocd_app() -> None:
    objects = _objects()
    objects["applications"] = []
    objects["deployments"][0]["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"] = (
        "apps_shop:apps/Deployment:shop/web")
    objects["statefulsets"][0]["metadata"]["labels"] = {"app.kubernetes.io/instance": "helm-release"}
    snap = build_snapshot(collect_from(objects), cluster="prod", snapshot_time=NOW)
    workloads = {w.workload: w.argocd_app for w in snap.workloads}
    assert workloads["StatefulSet/db/pg"] is None
    # The tracking annotation is Argo CD's own: trusted, even with the app not (yet) listed.
    assert workloads["Deployment/shop/web"] == "apps_shop"


def test_scopes_select_namespaces_workloads_or_one_app() -> None:
    pods, workloads, _ = _snap(Scope.of(namespaces=["db"]))
    assert set(pods) == {"pg-0"} and set(workloads) == {"StatefulSet/db/pg"}
    pods, workloads, _ = _snap(Scope.of(workloads=["Deployment/shop/web"]))
    assert set(pods) == {"web-new-0", "web-new-1", "web-old-0"} and set(workloads) == {"Deployment/shop/web"}
    pods, workloads, _ = _snap(Scope.of(argocd_app="argocd/db"))
    assert set(pods) == {"pg-0"}
    assert Scope.of(workloads=["Deployment/shop/web"]).list_namespaces == frozenset({"shop"})
    # With the Applications unreadable an app is known by its tracking name only; it still matches.
    app_scope = Scope.of(argocd_app="argocd/db")
    assert app_scope.covers("db", "StatefulSet/db/pg", "db") and not app_scope.covers("db", "x", "other")


def test_forbidden_statefulsets_still_name_their_pods_workload_from_owner_references() -> None:
    pods, workloads, snap = _snap(forbidden={"statefulsets"})
    assert pods["pg-0"]["workload"] == "StatefulSet/db/pg" and pods["pg-0"]["owner_resolved"] is False
    assert "StatefulSet/db/pg" not in workloads
    assert snap.orphaned_pods == ["db/pg-0"]


def test_unchanged_objects_keep_the_state_hash_the_untyped_documents_had() -> None:
    """Pinned hashes, computed by the code before documents were typed: upgrading c2c must not
    make every object of every cluster look changed (one new version each) on the next scan."""
    _, _, snap = _snap()
    hashes = {getattr(v, "pod_name", None) or v.workload: state_hash(v) for v in snap.versions}
    assert hashes["Deployment/shop/web"] == "3974b6f55cb3c8c720a56281b59bb4ec8b8c6b3d78b4729e1dcad180f6adfb86"
    assert hashes["StatefulSet/db/pg"] == "6ae4de4aeb74b5cca4f42432e2ece252b7fd31b2b2881ae93d47dd8e135fa190"
    assert hashes["DaemonSet/kube-system/agent"] == "d4afc13ec90e30658cd952e5203fdce7a18ed8e62ce7283d09b8d94d69ee9b35"
    assert hashes["web-new-0"] == "38226cb8946655fe06049bbd0f11008c9f3b51b02a2e26a52800763b6fbe05fc"
    assert hashes["pg-0"] == "f24136fdee98976db1f37483c42bf9d249051be3538c5f524c0cea44359c8096"
    assert hashes["toolbox"] == "da3b38fe956676a2a00919c098a983adac8316710fca40d35650d58bb86edfa7"


@pytest.mark.parametrize("case", [
    {},
    {"scope": Scope.of(namespaces=["shop", "batch"])},
    {"scope": Scope.of(argocd_app="argocd/db")},
    {"faults": {"gone_once": {"pods"}}},  # the pod LIST restarts after its second page
    {"faults": {"forbidden": {"replicasets", "statefulsets"}}},
    {"faults": {"absent": {"applications"}}},
])
def test_streamed_snapshot_equals_the_one_joined_from_a_whole_collection(case: dict) -> None:
    """``snapshot_cluster`` joins each pod page as it arrives; what it produces must not differ."""
    scope, faults = case.get("scope", Scope()), case.get("faults", {})
    whole = build_snapshot(collect_from(_objects(), namespaces=scope.list_namespaces, **dict(faults)),
                           cluster="prod", snapshot_time=NOW, scope=scope)
    api = FakeApi(_objects(), **{k: set(v) for k, v in faults.items()})
    streamed, collection = snapshot_cluster(api, server="https://fake", page_size=2, cluster="prod",
                                            snapshot_time=NOW, scope=scope)
    assert [p.to_document() for p in streamed.pods] == [p.to_document() for p in whole.pods]
    assert [w.to_document() for w in streamed.workloads] == [w.to_document() for w in whole.workloads]
    assert streamed.orphaned_pods == whole.orphaned_pods
    assert "pods" not in collection.items  # no slim pod kept beside the documents
    assert ("pods" in collection.complete) == ("pods" not in faults.get("forbidden", ()))
    assert whole.pods and whole.workloads  # the comparison compared something
