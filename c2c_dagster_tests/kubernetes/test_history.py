"""deployment-metadata grows with change, not with scans: an unchanged full scan writes one
document (the cluster's scan watermark), a scoped or partial one refreshes last_seen of what it
saw, a changed state (image, node, phase, restartCount) writes a new version and closes the old
with its last_seen read against the watermark, timestamps alone are not a change, vanished
objects are closed only when their type was listed completely, and any past moment can be
reconstructed, with last_seen exact, on the embedded store and the real OpenSearch node."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from c2c_core.timeutil import iso_utc
from c2c_dagster.documents.deployments import version_from_document
from c2c_dagster.documents.deployments import ScanWatermark
from c2c_dagster.kubernetes.history import (
    CARRIED_FIELDS,
    PLAN_FIELDS,
    HistoryPlan,
    plan_history,
    read_open_versions,
    read_watermark,
    resolve_versions_last_seen,
    scan_watermark,
    state_hash,
    write_history,
)
from c2c_dagster.kubernetes.snapshot import Scope, build_snapshot
from c2c_dagster.store import DEPLOYMENT_METADATA, EmbeddedStore, MetadataStore
from c2c_dagster.store.watermarks import effective_last_seen
from c2c_devstack.kube_objects import (
    collect_from,
    deployment,
    deployment_pods,
    node,
    owner,
    pod,
    replicaset,
    statefulset,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
INDEX = DEPLOYMENT_METADATA.name


def _cluster(image: str = "registry.local/web:1", replicas: int = 3) -> dict:
    return {
        "nodes": [node("node-1")],
        "deployments": [deployment("shop", "web", image, replicas=replicas)],
        "replicasets": [replicaset("shop", "web", "abc", replicas=replicas)],
        "pods": deployment_pods("shop", "web", "abc", replicas, image),
    }


def _plan(store: MetadataStore, objects: dict, when: datetime, *, scope: Scope = Scope(),
          fields: tuple[str, ...] | None = PLAN_FIELDS, **faults) -> HistoryPlan:
    """One snapshot planned as the asset plans it: a full, complete scan advances the watermark."""
    collection = collect_from(objects, page_size=100, namespaces=scope.list_namespaces, **faults)
    snap = build_snapshot(collection, cluster="c1", snapshot_time=when, scope=scope,
                          mode="scan" if scope.everything else "post-sync")
    if fields is not None and collection.unread:  # as the asset reads them for a partial snapshot
        fields = fields + CARRIED_FIELDS
    previous = read_open_versions(store, "c1", scope.list_namespaces, fields=fields)
    kinds = {"pod": "pods", "Deployment": "deployments", "StatefulSet": "statefulsets"}
    proves_all = scope.everything and not collection.partial
    return plan_history(
        snap.versions, previous, snapshot_time=snap.snapshot_time, partial=collection.partial,
        unread=collection.unread, may_close=lambda v: kinds.get("pod" if v.doc_type == "pod" else v.workload_kind) in collection.complete,
        watermark=read_watermark(store, "c1"),
        advance=scan_watermark("c1", snap.snapshot_time, f"run-{when:%H%M}") if proves_all else None,
    )


def _scan(store: MetadataStore, objects: dict, when: datetime, *, scope: Scope = Scope(), **faults) -> HistoryPlan:
    """One snapshot planned and written as the asset does."""
    plan = _plan(store, objects, when, scope=scope, **faults)
    write_history(store, plan)
    return plan


def _state_at(store: MetadataStore, moment: str) -> dict[str, dict]:
    """Reconstruct: the version of each object whose interval contains ``moment``, last_seen as
    readers see it (read against the watermark)."""
    result = {}
    for doc in resolve_versions_last_seen(store, store.iter_all(INDEX)):
        if doc["first_seen"] <= moment and doc["last_seen"] >= moment:
            key = version_from_document(doc).object_key
            assert key not in result, "two versions of one object at one moment"
            result[key] = doc
    return result


def test_unchanged_full_scan_writes_only_the_watermark_and_last_seen_stays_exact(store) -> None:
    first = _scan(store, _cluster(), T0)
    assert len(first.new) == 4 and not first.refreshed and first.writes == 5  # 1 Deployment + 3 pods + watermark
    for i in range(1, 6):
        plan = _scan(store, _cluster(), T0 + timedelta(minutes=10 * i))
        assert (len(plan.new), len(plan.refreshed), len(plan.closed), plan.unchanged) == (0, 0, 0, 4)
        assert plan.writes == 1
    assert store.count(INDEX) == 4
    doc = store.get(INDEX, first.new[1].doc_id)
    # The document itself was not rewritten; read against the watermark, it was last seen at 12:50.
    assert doc["first_seen"] == doc["last_seen"] == "2026-03-01T12:00:00Z" and doc["current"] == "c1"
    (resolved,) = resolve_versions_last_seen(store, [doc])
    assert resolved["last_seen"] == "2026-03-01T12:50:00Z" and resolved["last_mode"] == "scan"
    watermark = read_watermark(store, "c1")
    assert (watermark.scanned_at, watermark.scan_id, watermark.index) == ("2026-03-01T12:50:00Z", "run-1250", INDEX)


def test_scoped_and_partial_snapshots_refresh_what_they_saw_and_leave_the_watermark(store) -> None:
    objects = _cluster()
    objects["statefulsets"] = [statefulset("db", "pg", "postgres:16")]
    objects["pods"] += [pod("db", "pg-0", owners=[owner("StatefulSet", "pg", "db")],
                            containers=(("db", "postgres:16"),))]
    _scan(store, objects, T0)
    # A post-sync snapshot of namespace shop saw only shop: it cannot vouch for db.
    scoped = _scan(store, objects, T0 + timedelta(minutes=5), scope=Scope.of(namespaces=["shop"]))
    assert (len(scoped.refreshed), scoped.unchanged, scoped.watermark) == (4, 0, None)
    # A scan that could not list StatefulSets cannot vouch for them either.
    partial = _scan(store, objects, T0 + timedelta(minutes=10), forbidden={"statefulsets"})
    assert (len(partial.refreshed), partial.unchanged, partial.watermark) == (5, 0, None)  # all but pg
    assert read_watermark(store, "c1").scanned_at == "2026-03-01T12:00:00Z"
    state = _state_at(store, "2026-03-01T12:10:00Z")
    # At 12:10 the partial scan saw all but the StatefulSet, last seen at 12:00.
    assert len(state) == 5 and "c1/workload/StatefulSet/db/pg" not in state
    assert _state_at(store, "2026-03-01T12:00:00Z").keys() >= {"c1/workload/StatefulSet/db/pg"}


def test_a_version_closed_after_unchanged_scans_keeps_its_exact_last_seen(store) -> None:
    for minutes in (0, 10, 20):
        _scan(store, _cluster("registry.local/web:1"), T0 + timedelta(minutes=minutes))
    new = _cluster("registry.local/web:2")
    new["replicasets"] = [replicaset("shop", "web", "def", revision="2", replicas=3)]
    new["pods"] = deployment_pods("shop", "web", "def", 3, "registry.local/web:2")
    # The rollout is seen first by a post-sync snapshot: it closes the old versions itself.
    plan = _scan(store, new, T0 + timedelta(minutes=25), scope=Scope.of(namespaces=["shop"]))
    assert plan.gone == 3 and plan.watermark is None
    closed = [d for d in store.iter_all(INDEX) if d.get("until")]
    assert len(closed) == 4
    # Written into the closed versions: seen at the 12:20 scan, which wrote none of them.
    assert {d["last_seen"] for d in closed} == {"2026-03-01T12:20:00Z"}
    assert all(d["until"] == "2026-03-01T12:25:00Z" for d in closed)
    _scan(store, new, T0 + timedelta(minutes=30))
    images = lambda state: {d["containers"][0]["image"] for d in state.values() if d["doc_type"] == "pod"}  # noqa: E731
    assert images(_state_at(store, "2026-03-01T12:20:00Z")) == {"registry.local/web:1"}
    assert images(_state_at(store, "2026-03-01T12:30:00Z")) == {"registry.local/web:2"}
    assert not _state_at(store, "2026-03-01T12:22:00Z")  # between the last sighting and the next


def test_effective_last_seen_reads_open_versions_against_the_watermark() -> None:
    w = ScanWatermark(watermark_id="c1/deployment-metadata", cluster="c1", scanned_at="2026-03-01T12:50:00Z",
                      mode="scan")
    at = "2026-03-01T12:{}:00Z".format
    assert effective_last_seen(at("00"), True, w) == at("50")  # open through the scan
    assert effective_last_seen(at("00"), False, w) == at("00")  # closed: its own, as written when closed
    assert effective_last_seen(at("55"), True, w) == at("55")  # began or was refreshed after the scan
    assert effective_last_seen(at("00"), True, None) == at("00")  # no full scan yet


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


@pytest.mark.parametrize("forbidden", ["nodes", "replicasets", "deployments", "pods"])
def test_a_partial_scan_and_the_good_scan_after_it_keep_unchanged_versions(tmp_path, forbidden) -> None:
    # Issue 18: a scan partial by a 403 wrote new versions of unchanged pods (the node's zone, the
    # revision, the owner it could not read), and the next good scan closed them and wrote more.
    store = EmbeddedStore(tmp_path / "s.sqlite")
    _scan(store, _cluster(), T0)
    ids = {v.object_key: v.doc_id for v in read_open_versions(store, "c1")}
    partial = _scan(store, _cluster(), T0 + timedelta(minutes=10), forbidden={forbidden})
    assert not partial.new and not partial.closed and partial.refreshed
    good = _scan(store, _cluster(), T0 + timedelta(minutes=20))
    assert (len(good.new), len(good.closed), good.unchanged) == (0, 0, 4)
    assert {v.object_key: v.doc_id for v in read_open_versions(store, "c1")} == ids
    assert store.count(INDEX) == 4


def test_a_pod_changed_during_a_partial_scan_keeps_what_the_scan_could_not_read(tmp_path) -> None:
    store = EmbeddedStore(tmp_path / "s.sqlite")
    _scan(store, _cluster(), T0)
    restarted = _cluster()
    restarted["pods"][0]["status"]["containerStatuses"][0]["restartCount"] = 1
    partial = _scan(store, restarted, T0 + timedelta(minutes=10), forbidden={"nodes", "replicasets"})
    (new,) = partial.new
    assert new.node.zone == "zone-a" and new.revision == "1" and new.containers[0].restartCount == 1
    # The good scan after it finds that version unchanged.
    good = _scan(store, restarted, T0 + timedelta(minutes=20))
    assert (len(good.new), good.unchanged) == (0, 4)


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
    assert {v.containers[0].image for v in read_open_versions(store, "c1", fields=None)} == {"registry.local/web:2"}


def test_the_plan_from_the_compared_fields_alone_is_the_plan_from_whole_versions(store) -> None:
    # A snapshot reads only PLAN_FIELDS of the open versions: at every kind of step (first scan,
    # unchanged scan, scoped refresh, rollout, duplicates, a type it may not list, objects gone)
    # it must plan exactly what it would from whole versions.
    def step(objects: dict, minutes: int, **kwargs) -> HistoryPlan:
        slim, whole = (_plan(store, objects, T0 + timedelta(minutes=minutes), fields=f, **kwargs)
                       for f in (PLAN_FIELDS, None))
        assert slim == whole
        write_history(store, slim)
        return slim

    objects = _cluster()
    objects["statefulsets"] = [statefulset("db", "pg", "postgres:16")]
    objects["pods"] += [pod("db", "pg-0", owners=[owner("StatefulSet", "pg", "db")], containers=(("db", "postgres:16"),))]
    assert len(step(objects, 0).new) == 6
    assert step(objects, 10).unchanged == 6
    assert len(step(objects, 15, scope=Scope.of(namespaces=["shop"])).refreshed) == 4
    rollout = copy.deepcopy(objects)
    rollout["deployments"][0] = deployment("shop", "web", "registry.local/web:2", replicas=3)
    rollout["replicasets"] = [replicaset("shop", "web", "def", revision="2", replicas=3)]
    rollout["pods"] = [*deployment_pods("shop", "web", "def", 3, "registry.local/web:2"), objects["pods"][-1]]
    changed = step(rollout, 20)
    assert (len(changed.new), changed.gone, len(changed.closed)) == (4, 3, 4)
    # A rollback whose run died after writing its new versions: the next scan keeps the newest open.
    interrupted = _plan(store, objects, T0 + timedelta(minutes=25))
    store.upsert(INDEX, [v.to_document() for v in interrupted.new])
    resolved = step(objects, 30)  # the Deployment's older open version closed, the new pods gone
    assert (len(resolved.closed), resolved.gone, len(resolved.new)) == (4, 3, 0)
    gone = {**objects, "statefulsets": [], "pods": objects["pods"][:-1]}
    assert step(gone, 40, forbidden={"statefulsets"}).gone == 1  # the pod only: StatefulSets unreadable
    assert step(gone, 50).gone == 1  # now the StatefulSet


def test_version_ids_are_deterministic() -> None:
    snap = build_snapshot(collect_from(_cluster(replicas=1)), cluster="c1", snapshot_time=T0)
    ids = [v.doc_id for v in plan_history(snap.versions, [], snapshot_time=iso_utc(T0),
                                          may_close=lambda v: True).new]
    assert ids == ["c1/workload/Deployment/shop/web@2026-03-01T12:00:00Z",
                   "c1/pod/shop/web-abc-0@2026-03-01T12:00:00Z"]
