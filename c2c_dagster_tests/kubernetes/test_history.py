"""deployment-metadata grows with change, not with scans: an unchanged snapshot writes no new
document (only last_seen refreshes), a changed state (image, node, phase, restartCount) writes a
new version and closes the old, timestamps alone are not a change, vanished objects are closed
only when their type was listed completely, and any past moment can be reconstructed."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from c2c_core.timeutil import iso_utc
from c2c_dagster.documents.deployments import version_from_document
from c2c_dagster.kubernetes.history import (
    plan_history,
    read_open_versions,
    state_hash,
    write_history,
)
from c2c_dagster.kubernetes.snapshot import build_snapshot
from c2c_dagster.store import DEPLOYMENT_METADATA, EmbeddedStore
from c2c_devstack.kube_objects import collect_from, deployment, deployment_pods, node, replicaset

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
INDEX = DEPLOYMENT_METADATA.name


def _cluster(image: str = "registry.local/web:1", replicas: int = 3) -> dict:
    return {
        "nodes": [node("node-1")],
        "deployments": [deployment("shop", "web", image, replicas=replicas)],
        "replicasets": [replicaset("shop", "web", "abc", replicas=replicas)],
        "pods": deployment_pods("shop", "web", "abc", replicas, image),
    }


def _scan(store: EmbeddedStore, objects: dict, when: datetime, **faults):
    collection = collect_from(objects, page_size=100, **faults)
    snap = build_snapshot(collection, cluster="c1", snapshot_time=when)
    previous = read_open_versions(store, "c1")
    kinds = {"pod": "pods", "Deployment": "deployments"}
    plan = plan_history(
        snap.versions, previous, snapshot_time=snap.snapshot_time, partial=collection.partial,
        may_close=lambda v: kinds.get("pod" if v.doc_type == "pod" else v.workload_kind) in collection.complete,
    )
    write_history(store, plan)
    return plan


def _state_at(store: EmbeddedStore, moment: str) -> dict[str, dict]:
    """Reconstruct: the version of each object whose interval contains ``moment``."""
    result = {}
    for doc in store.iter_all(INDEX):
        if doc["first_seen"] <= moment and doc["last_seen"] >= moment:
            key = version_from_document(doc).object_key
            assert key not in result, "two versions of one object at one moment"
            result[key] = doc
    return result


def test_unchanged_cluster_refreshes_last_seen_and_writes_no_new_document(tmp_path) -> None:
    store = EmbeddedStore(tmp_path / "s.sqlite")
    first = _scan(store, _cluster(), T0)
    assert len(first.new) == 4 and not first.refreshed  # 1 Deployment + 3 pods
    for i in range(1, 6):
        plan = _scan(store, _cluster(), T0 + timedelta(minutes=10 * i))
        assert (len(plan.new), len(plan.refreshed), len(plan.closed)) == (0, 4, 0)
    assert store.count(INDEX) == 4
    doc = store.get(INDEX, first.new[1].doc_id)
    assert doc["first_seen"] == "2026-03-01T12:00:00Z" and doc["last_seen"] == "2026-03-01T12:50:00Z"
    assert doc["current"] == "c1"


def test_rollout_writes_new_versions_and_any_moment_can_be_reconstructed(tmp_path) -> None:
    store = EmbeddedStore(tmp_path / "s.sqlite")
    _scan(store, _cluster("registry.local/web:1"), T0)
    _scan(store, _cluster("registry.local/web:1"), T0 + timedelta(minutes=10))
    new = _cluster("registry.local/web:2")
    new["replicasets"] = [replicaset("shop", "web", "def", revision="2", replicas=3)]
    new["pods"] = deployment_pods("shop", "web", "def", 3, "registry.local/web:2")
    plan = _scan(store, new, T0 + timedelta(minutes=20))
    # The Deployment changed (template image, replicasets), 3 new pods appeared, 3 old are gone.
    assert len(plan.new) == 4 and plan.gone == 3 and len(plan.closed) == 4
    _scan(store, new, T0 + timedelta(minutes=30))
    assert store.count(INDEX) == 8

    before = _state_at(store, "2026-03-01T12:05:00Z")
    after = _state_at(store, "2026-03-01T12:25:00Z")
    images = lambda state: {d["containers"][0]["image"] for d in state.values() if d["doc_type"] == "pod"}  # noqa: E731
    assert images(before) == {"registry.local/web:1"} and images(after) == {"registry.local/web:2"}
    assert len(before) == len(after) == 4
    # Only the newest versions stay current: the previous state is still one query away.
    assert {v.doc_id for v in read_open_versions(store, "c1")} == {d["doc_id"] for d in after.values()}
    gone = [d for d in store.iter_all(INDEX) if d.get("gone")]
    assert len(gone) == 3 and all(d["until"] == "2026-03-01T12:20:00Z" for d in gone)


def test_restart_count_is_state_but_timestamps_are_not() -> None:
    (pod,) = build_snapshot(collect_from(_cluster(replicas=1)), cluster="c1", snapshot_time=T0).pods
    later = copy.deepcopy(pod)
    later.startTime = "2026-03-02T00:00:00Z"
    later.mode, later.sync_event_id = "post-sync", "argocd/web/7"
    assert state_hash(later) == state_hash(pod)
    crashed = copy.deepcopy(pod)
    crashed.containers[0] = replace(crashed.containers[0], restartCount=4, state="waiting", reason="CrashLoopBackOff",
                                    last_state="terminated", last_state_reason="OOMKilled")
    assert state_hash(crashed) != state_hash(pod)
    again = copy.deepcopy(crashed)
    again.containers[0].restartCount = 5
    assert state_hash(again) != state_hash(crashed)


def test_forbidden_type_does_not_close_its_versions_as_gone(tmp_path) -> None:
    store = EmbeddedStore(tmp_path / "s.sqlite")
    _scan(store, _cluster(), T0)
    plan = _scan(store, _cluster(), T0 + timedelta(minutes=10), forbidden={"deployments"})
    assert plan.gone == 0
    assert {v.doc_type for v in read_open_versions(store, "c1")} == {"workload", "pod"}


def test_duplicate_open_versions_from_an_interrupted_run_are_resolved(tmp_path) -> None:
    store = EmbeddedStore(tmp_path / "s.sqlite")
    _scan(store, _cluster(), T0)
    # A run that wrote its new versions and died before closing the old ones.
    changed = _cluster("registry.local/web:2")
    snap = build_snapshot(collect_from(changed), cluster="c1", snapshot_time=T0 + timedelta(minutes=10))
    plan = plan_history(snap.versions, read_open_versions(store, "c1"), snapshot_time=snap.snapshot_time,
                        may_close=lambda v: True)
    store.upsert(INDEX, [v.to_document() for v in plan.new])
    assert len(read_open_versions(store, "c1")) == 8
    plan = _scan(store, changed, T0 + timedelta(minutes=20))
    assert len(plan.new) == 0 and len(read_open_versions(store, "c1")) == 4
    assert {v.containers[0].image for v in read_open_versions(store, "c1")} == {"registry.local/web:2"}


def test_version_ids_are_deterministic() -> None:
    snap = build_snapshot(collect_from(_cluster(replicas=1)), cluster="c1", snapshot_time=T0)
    ids = [v.doc_id for v in plan_history(snap.versions, [], snapshot_time=iso_utc(T0),
                                          may_close=lambda v: True).new]
    assert ids == ["c1/workload/Deployment/shop/web@2026-03-01T12:00:00Z",
                   "c1/pod/shop/web-abc-0@2026-03-01T12:00:00Z"]
