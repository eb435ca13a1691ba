"""deployment-metadata as history that grows with change, not with scans.

Each document is one *version* of one object (a workload or a pod): it holds the observed state
from ``first_seen`` until ``until`` (set when the state changed or the object went away), and
``last_seen`` says when a snapshot last observed exactly that state. The cluster at any past
moment T is the set of versions with ``first_seen <= T`` and ``last_seen >= T`` (or
``until > T``); ``last_seen`` also shows where the collector was not looking (a gap of more than
one scan interval).

Writes grow with change, not with scans. A full, complete scan (every namespace, every type
listed) that finds a version unchanged does not rewrite it: it advances the cluster's *scan
watermark* instead (one ``scan-watermarks`` document: when, which run), since every version
still open after such a scan was observed by it. A version's ``last_seen`` is therefore read
against the watermark (``store/watermarks.py``): an open version was last seen at the
watermark, unless its own ``last_seen`` is newer (it began or was refreshed after that scan). Closing a
version writes its effective ``last_seen`` into it, so a closed version stands alone. Scoped
(post-sync) and partial snapshots observed only part of the cluster and refresh the versions
they saw one by one (``merge``), as they always did. Readers go through
``read_watermarks`` / ``resolve_versions_last_seen``.

The *state hash* covers what an operator would call a change: images and digests, placement
(node, IPs), phase and readiness, container states and their reasons, replica counts, strategy,
labels, annotations, revision, generations, condition type/status/reason. It leaves out
timestamps (``startTime``, ``startedAt``, condition transition times), the snapshot's own
fields (mode, time) and the history fields. ``restartCount`` IS in it: every restart is an
event (an OOMKill at 03:12 is what an incident review looks for), and a steady cluster's counts
do not move, so the cost is at most one version per scan per crash-looping pod — the pods one
wants to see — never one per healthy pod.

A partial snapshot does not know what it took from the types it could not read: a pod's node
zone without the Nodes, its revision without the ReplicaSets, its workload and Argo CD app
without its owner, a workload's ReplicaSets and pod count without those. Those fields are taken
from the open version of the same object (``carry_unread``) before the state is compared, so an
unchanged object keeps its version through a partial scan (a 403 on one type) and the good scan
after it, instead of a version for what could not be read and another when it can be again.

Reading the previous state is one query per snapshot: the open versions carry ``current`` =
cluster (and ``current_ns`` = cluster/namespace, for scoped snapshots); closing a version clears
both. If two open versions of one object exist (a run died between writing the new version and
closing the old, or two runs overlapped), the newest stays open and the others are closed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from c2c_dagster.argocd.applications import APPLICATIONS
from c2c_dagster.documents.deployments import (
    POD,
    WORKLOAD,
    PodVersion,
    ScanWatermark,
    Version,
    WorkloadVersion,
    version_from_document,
)
from c2c_dagster.kubernetes.collect import DAEMONSETS, DEPLOYMENTS, JOBS, NODES, PODS, REPLICASETS, STATEFULSETS
from c2c_dagster.store import DEPLOYMENT_METADATA, FIND_ALL, SCAN_WATERMARKS, MetadataStore
from c2c_dagster.store import watermarks
from c2c_dagster.store.watermarks import effective_last_seen

AnyVersion = WorkloadVersion | PodVersion

# Fields that are never state: when it was seen, by which run, and the history bookkeeping.
VOLATILE_FIELDS = frozenset(
    {"doc_id", "state_hash", "snapshot_time", "first_seen", "last_seen", "until", "gone", "current",
     "current_ns", "mode", "sync_event_id", "partial", "last_mode", "last_sync_event_id", "startTime",
     # How well this snapshot could resolve the owner, not a property of the pod.
     "owner_resolved"}
)
# Per container: times move on every restart, and restartCount already says it restarted.
VOLATILE_CONTAINER_FIELDS = frozenset({"startedAt", "finishedAt"})


def state_hash(version: Version) -> str:
    """sha256 over the state fields (see the module docstring) of the stored document, stable
    across key order."""
    state = {k: v for k, v in version.to_document().items() if k not in VOLATILE_FIELDS}
    if "containers" in state:
        state["containers"] = [
            {k: v for k, v in c.items() if k not in VOLATILE_CONTAINER_FIELDS} for c in state["containers"]
        ]
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()


# What a version takes from another type than its own object's, per document type: unknown to a
# snapshot that could not read that type.
JOINED_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    POD: {NODES.key: ("node",), REPLICASETS.key: ("revision",), APPLICATIONS.key: ("argocd_app",)},
    WORKLOAD: {REPLICASETS.key: ("replicasets",), PODS.key: ("pod_count",), APPLICATIONS.key: ("argocd_app",)},
}
# A pod whose owner could not be resolved names its workload and app as best it can (the owner
# reference, its own labels); when an owner type was unreadable, the last resolved answer stands.
OWNER_TYPES = frozenset({DEPLOYMENTS.key, STATEFULSETS.key, DAEMONSETS.key, REPLICASETS.key, JOBS.key})
OWNER_FIELDS = ("workload_kind", "workload_name", "workload", "argocd_app", "revision")
#: The fields ``carry_unread`` may take from a previous version (read with ``PLAN_FIELDS`` when a
#: snapshot is partial).
CARRIED_FIELDS: tuple[str, ...] = ("nodeName", "node", "revision", "argocd_app", "replicasets", "pod_count",
                                   "workload_kind", "workload_name", "workload")


def carry_unread(observed: AnyVersion, before: AnyVersion, unread: frozenset[str]) -> AnyVersion:
    """``observed`` with the fields it could not know, the ``unread`` types being unreadable, taken
    from ``before`` (the open version of the same object). A pod's node placement is carried only
    while it names the same node; the rest of a pod's joined fields do not change while it lives."""
    if not unread:
        return observed
    names: set[str] = set()
    for rtype, fields in JOINED_FIELDS[observed.doc_type or ""].items():
        if rtype in unread:
            names.update(fields)
    if isinstance(observed, PodVersion):
        if not observed.owner_resolved and unread & OWNER_TYPES:
            names.update(OWNER_FIELDS)
        if "node" in names and getattr(before, "nodeName", None) != observed.nodeName:
            names.discard("node")
    return replace(observed, **{name: getattr(before, name) for name in names}) if names else observed


def version_id(key: str, first_seen: str) -> str:
    """Deterministic: one object has at most one version starting at a given snapshot time."""
    return f"{key}@{first_seen}"


@dataclass
class HistoryPlan:
    """What to write: new versions (replace), then refreshes and closings (merge updates), then
    the cluster's scan watermark when the snapshot advances it."""

    new: list[AnyVersion] = field(default_factory=list)
    refreshed: list[dict[str, Any]] = field(default_factory=list)
    closed: list[dict[str, Any]] = field(default_factory=list)
    gone: int = 0  # objects no longer observed (a subset of ``closed``)
    # Versions found unchanged and left as they are: the watermark says they were seen.
    unchanged: int = 0
    watermark: ScanWatermark | None = None

    @property
    def merges(self) -> list[dict[str, Any]]:
        return [*self.refreshed, *self.closed]

    @property
    def writes(self) -> int:
        """Documents this plan writes."""
        return len(self.new) + len(self.refreshed) + len(self.closed) + (self.watermark is not None)


def _seen(version: Version, watermark: ScanWatermark | None) -> str | None:
    return effective_last_seen(version.last_seen, version.until is None, watermark)


def _close(version: Version, when: str, *, gone: bool, watermark: ScanWatermark | None) -> dict[str, Any]:
    # null removes the lookup keys: a closed version is no longer found as current. Its
    # last_seen is written as the watermark reads it: once closed, the watermark no longer applies.
    close = {"doc_id": version.doc_id, "current": None, "current_ns": None, "until": when, "gone": gone}
    seen = _seen(version, watermark)
    if seen != version.last_seen:
        close.update({"last_seen": seen, "last_mode": watermark.mode if watermark else None,
                      "last_sync_event_id": None})
    return close


def _refresh(before: Version, observed: Version, when: str) -> dict[str, Any]:
    return {"doc_id": before.doc_id, "last_seen": when, "last_mode": observed.mode,
            "last_sync_event_id": observed.sync_event_id}


def plan_history(
    observed: Iterable[AnyVersion],
    previous: Iterable[AnyVersion],
    *,
    snapshot_time: str,
    may_close: Callable[[AnyVersion], bool],
    partial: bool = False,
    watermark: ScanWatermark | None = None,
    advance: ScanWatermark | None = None,
    unread: frozenset[str] = frozenset(),
) -> HistoryPlan:
    """Compare a snapshot's versions with the open versions of the same scope.

    ``may_close(previous_version)`` says whether a version not observed now may be closed as
    gone: only when it lies in the snapshot's scope and its type was listed completely (a 403 on
    StatefulSets must not read as "every StatefulSet was deleted"). ``watermark``: the cluster's
    current one (what the open versions' last_seen is read against). ``advance``: the watermark
    of this snapshot, given only for a full, complete scan; the unchanged versions are then
    left as they are and the watermark is written instead of a refresh of each. ``unread``: the
    types the snapshot could not read; what it took from them is carried from the open
    versions (``carry_unread``), which must then hold ``CARRIED_FIELDS``.
    """
    plan = HistoryPlan(watermark=advance)
    open_versions: dict[str, AnyVersion] = {}
    for version in sorted(previous, key=lambda v: (v.first_seen or "", v.doc_id or "")):
        key = version.object_key
        if key in open_versions:  # an older duplicate open version: keep the newest only
            plan.closed.append(_close(open_versions[key], version.first_seen or snapshot_time, gone=False,
                                      watermark=watermark))
        open_versions[key] = version

    for version in observed:
        key = version.object_key
        before = open_versions.pop(key, None)
        if before is not None:
            version = carry_unread(version, before, unread)
        digest = state_hash(version)
        if before is not None and before.state_hash == digest:
            if advance is not None:
                plan.unchanged += 1
            else:
                plan.refreshed.append(_refresh(before, version, snapshot_time))
            continue
        if before is not None:
            plan.closed.append(_close(before, snapshot_time, gone=False, watermark=watermark))
        plan.new.append(replace(
            version,
            doc_id=version_id(key, snapshot_time),
            state_hash=digest,
            snapshot_time=snapshot_time,
            first_seen=snapshot_time,
            last_seen=snapshot_time,
            until=None,
            gone=False,
            partial=partial,
            current=version.cluster,
            current_ns=f"{version.cluster}/{version.namespace}",
        ))

    for version in open_versions.values():
        if may_close(version):
            plan.closed.append(_close(version, snapshot_time, gone=True, watermark=watermark))
            plan.gone += 1
    return plan


#: What a snapshot needs of each previous (open) version: which object it is (``object_key``,
#: ``Scope.covers``, the close rule's kind), its state hash, and the history fields a close or
#: refresh writes from. Not its containers, labels or conditions: the state hash stands for them.
PLAN_FIELDS: tuple[str, ...] = (
    "doc_id", "doc_type", "cluster", "namespace", "workload", "workload_kind", "pod_name", "argocd_app",
    "state_hash", "first_seen", "last_seen", "until",
)


def read_open_versions(
    store: MetadataStore, cluster: str, namespaces: Iterable[str] = (), *,
    fields: Sequence[str] | None = PLAN_FIELDS,
) -> list[AnyVersion]:
    """The open versions of a cluster (or of some of its namespaces): one query, however many
    (the stores page past OpenSearch's 10,000-hit window). By default each holds only
    ``PLAN_FIELDS``, what ``plan_history`` compares: an unchanged re-scan of a large cluster then
    reads a few hundred bytes per version instead of whole pods. ``fields=None``: whole versions."""
    index = DEPLOYMENT_METADATA.name
    wanted = sorted(set(namespaces))
    if wanted:
        docs = store.find(index, "current_ns", [f"{cluster}/{ns}" for ns in wanted], limit=FIND_ALL, fields=fields)
    else:
        docs = store.find(index, "current", cluster, limit=FIND_ALL, fields=fields)
    return [version_from_document(doc) for doc in docs]


def read_watermark(store: MetadataStore, cluster: str) -> ScanWatermark | None:
    """The cluster's deployment-metadata watermark, if a full, complete scan ever wrote one."""
    return watermarks.read_watermark(store, cluster, DEPLOYMENT_METADATA.name)


def resolve_versions_last_seen(store: MetadataStore, docs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """deployment-metadata documents as read, with ``last_seen`` (and ``last_mode``) read against
    their clusters' watermarks: what every reader of last_seen should see."""
    return watermarks.resolve_last_seen_against_watermarks(
        store, DEPLOYMENT_METADATA.name, docs, lambda doc: doc.get("until") is None,
        extra=lambda w: {"last_mode": w.mode, "last_sync_event_id": None})


def scan_watermark(cluster: str, snapshot_time: str, scan_id: str = "", mode: str = "scan") -> ScanWatermark:
    """The watermark a full, complete scan of ``cluster`` at ``snapshot_time`` writes."""
    return watermarks.new_watermark(cluster, DEPLOYMENT_METADATA.name, snapshot_time, scan_id, mode)


def write_history(store: MetadataStore, plan: HistoryPlan) -> None:
    """New versions first, then merges, then the watermark: a run that dies in between leaves
    two open versions of an object, which the next snapshot resolves (newest stays open), never
    a lost one; and the watermark never claims a scan whose changes were not all written."""
    index = DEPLOYMENT_METADATA.name
    if plan.new:
        store.upsert(index, [version.to_document() for version in plan.new], mode="replace")
    if plan.merges:
        store.upsert(index, plan.merges, mode="merge")
    if plan.watermark is not None:
        store.upsert(SCAN_WATERMARKS.name, [plan.watermark.to_document()], mode="replace")
