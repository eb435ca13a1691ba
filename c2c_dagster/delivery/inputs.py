"""What ``metrics.py`` needs, read from the store: release events joined to their records and builds,
the failed and degraded syncs, the commits released before the range, each cluster's first scan.

Reads are bounded by the range: release events and syncs of ``[start - recovery horizon, end +
failure window)`` by time, then records, builds and earlier releases by the ids and commits those
name (a few targeted lookups), never whole indices. Each document is read as its model
(``ReleaseEvent``, ``TraceabilityRecord``, ``BuildDocument``, ``SyncEventDocument``), so a field
name is checked where it is used.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from c2c_dagster.argocd.events import applied_anything
from c2c_dagster.delivery.metrics import (
    ATTEMPT_COLUMNS,
    COMMIT_COLUMNS,
    RAN_COLUMNS,
    RELEASE_COLUMNS,
    SYNC_COLUMNS,
    DeliveryInputs,
    frame,
)
from c2c_dagster.delivery.policy import DeliveryPolicy
from c2c_core.builds import Commit
from c2c_dagster.documents.argocd import SyncEventDocument
from c2c_dagster.documents.base import Document, gc_paused
from c2c_dagster.documents.builds import BuildDocument
from c2c_dagster.documents.traceability import CONTAINER_KEY, ReleaseEvent, TraceabilityRecord
from c2c_dagster.store import (
    ARGOCD_SYNC_EVENTS,
    CI_BUILD_METADATA,
    DEPLOYMENT_METADATA,
    FIND_ALL,
    RELEASE_EVENTS,
    TRACEABILITY_METADATA,
    MetadataStore,
)
from c2c_core.timeutil import iso_utc, parse_time

# Values per lookup: SQLite binds one parameter each, OpenSearch one term each.
LOOKUP_CHUNK = 1000
FAILED_PHASES = frozenset({"Failed", "Error"})
DEGRADED = "Degraded"

D = TypeVar("D", bound=Document)
# What each lookup below uses of the documents it finds, so the store returns only that (a
# record's pods, a build's images and problems are never read here): every field of these models
# has a default, and the ones not read stay at it.
RECORD_JOIN_FIELDS = (*CONTAINER_KEY, "image_digest", "build_id", "argocd_app", "image_class")
BUILD_FIELDS = ("build_id", "branch", "commits")
RECORD_RAN_FIELDS = (*CONTAINER_KEY, "image_digest", "first_seen", "commit_ids", "argocd_app")
RELEASE_RAN_FIELDS = (*CONTAINER_KEY, "to_digest", "at")


def _chunks(values: Iterable[str], size: int = LOOKUP_CHUNK) -> Iterator[list[str]]:
    ordered = sorted(set(values))
    for i in range(0, len(ordered), size):
        yield ordered[i:i + size]


def find_many(store: MetadataStore, index: str, field: str, values: Iterable[str], model: type[D],
              fields: Sequence[str] | None = None) -> list[D]:
    """Every document whose lookup ``field`` is one of ``values``, in chunks the stores take, each
    once (by the index's id: a document can match in two chunks), read as ``model``; with
    ``fields``, only those (and the id) are read, the model's others left at their defaults."""
    found: dict[str, dict[str, Any]] = {}
    id_field = store.spec(index).id_field
    wanted = None if fields is None else [id_field, *fields]
    for chunk in _chunks(values):
        for doc in store.find(index, field, chunk, limit=FIND_ALL, fields=wanted):
            found[str(doc[id_field])] = doc
    return model.from_documents(found.values())


def app_of(event: ReleaseEvent | TraceabilityRecord, record: TraceabilityRecord | None) -> str:
    """The Argo CD application managing the workload when known, else ``namespace/name``."""
    return (record.argocd_app if record else None) or event.argocd_app or f"{event.namespace}/{event.workload_name}"


def _key(doc: ReleaseEvent | TraceabilityRecord, digest: str | None) -> tuple[Any, ...]:
    """A workload container running ``digest`` (``CONTAINER_KEY``, spelled out: 10^5 calls a year):
    how release events and records are joined."""
    return (doc.cluster, doc.namespace, doc.workload_kind, doc.workload_name, doc.container_name, digest)


@dataclass
class InputStats:
    """What was read, for the logs."""

    release_events: int = 0
    builds: int = 0
    failure_syncs: int = 0
    failed_sync_attempts: int = 0
    commits_ran_before: int = 0


def production_clusters(store: MetadataStore, policy: DeliveryPolicy) -> list[str]:
    """The production clusters c2c has scanned or recorded releases for."""
    known = set(store.distinct(DEPLOYMENT_METADATA.name, "cluster")) | set(store.distinct(RELEASE_EVENTS.name, "cluster"))
    return sorted(c for c in known if policy.production.covers_cluster(c))


def read_inputs(store: MetadataStore, policy: DeliveryPolicy, start: datetime, end: datetime) -> tuple[DeliveryInputs, InputStats]:
    """The inputs of ``metrics.delivery_metrics`` for the days in [start, end).

    The cyclic GC is paused meanwhile (``gc_paused``): a year holds ~10^6 commits, and as
    ``Commit`` models (unlike dicts of strings) the collector tracks them, so every full
    collection the next allocations trigger walks them all and frees nothing. Measured on a year
    of 500 workloads (105,000 releases, 1.2 million commits; in-memory documents): with it
    running, reading them as models took 2.5x the CPU of reading them as dicts."""
    with gc_paused():
        return _read_inputs(store, policy, start, end)


def _read_inputs(store: MetadataStore, policy: DeliveryPolicy, start: datetime,
                 end: datetime) -> tuple[DeliveryInputs, InputStats]:
    stats = InputStats()
    context_start, context_end = start - policy.recovery_horizon, end + policy.failure_window
    clusters = production_clusters(store, policy)
    observed = {c: moment for c in clusters if (moment := store.earliest(DEPLOYMENT_METADATA.name, "cluster", c))}

    events = [e for e in ReleaseEvent.from_documents(
                  store.list_range(RELEASE_EVENTS.name, context_start, context_end, limit=FIND_ALL))
              if policy.production.covers(e.cluster, e.namespace)]
    stats.release_events = len(events)
    records = {_key(r, r.image_digest): r for r in find_many(
        store, TRACEABILITY_METADATA.name, "image_digest", {e.to_digest for e in events}, TraceabilityRecord,
        RECORD_JOIN_FIELDS)}
    build_of = {e.event_id: (r.build_id if (r := records.get(_key(e, e.to_digest))) else None) or e.to_build_id
                for e in events}
    builds = {b.build_id: b for b in find_many(store, CI_BUILD_METADATA.name, "build_id",
                                               {b for b in build_of.values() if b}, BuildDocument,
                                               BUILD_FIELDS)}
    stats.builds = len(builds)

    release_rows, commit_rows = [], []
    for event in events:
        record = records.get(_key(event, event.to_digest))
        build = builds.get(build_of[event.event_id] or "")
        commits = (build.commits if build else None) or [Commit(c) for c in event.to_commit_ids]
        release_rows.append({
            "event_id": event.event_id,
            "cluster": event.cluster,
            "namespace": event.namespace,
            "workload": f"{event.workload_kind}/{event.workload_name}",
            "app": app_of(event, record),
            "at": event.at,
            "rollback": bool(event.rollback),
            "fix": build is not None and policy.is_fix(build.branch, (c.message or "" for c in commits)),
            "traceable": build_of[event.event_id] is not None,
            "external": record is not None and record.image_class == "external",
        })
        at = parse_time(event.at)
        if start <= at < end:
            commit_rows += [{"event_id": event.event_id, "commit_id": c.commit_id, "committed_at": c.timestamp}
                            for c in commits if c.commit_id]

    syncs, attempts = _failure_syncs(store, policy, context_start, context_end, {r["app"] for r in release_rows})
    stats.failure_syncs, stats.failed_sync_attempts = len(syncs), len(attempts)
    ran = _ran_in_production(store, policy, {c["commit_id"] for c in commit_rows})
    stats.commits_ran_before = len(ran)
    inputs = DeliveryInputs(
        releases=frame(release_rows, RELEASE_COLUMNS),
        commits=frame(commit_rows, COMMIT_COLUMNS),
        syncs=frame(syncs, SYNC_COLUMNS),
        ran=frame(ran, RAN_COLUMNS),
        observed_since=observed,
        attempts=frame(attempts, ATTEMPT_COLUMNS),
    )
    return inputs, stats


def _failure_syncs(store: MetadataStore, policy: DeliveryPolicy, start: datetime, end: datetime,
                   apps: set[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Syncs that changed the cluster and ended Failed/Error or left the app Degraded, under both
    names an app goes by (``namespace/name`` when c2c resolved it, the bare name when it could
    not); and apart, the failed syncs that applied nothing (attempts), each under the one name of
    ``apps`` (the releases' apps) it goes by, else ``namespace/name``."""
    rows, attempts = [], []
    tolerance = policy.sync_tolerance
    for sync in SyncEventDocument.from_documents(
            store.list_range(ARGOCD_SYNC_EVENTS.name, start - tolerance, end + tolerance, limit=FIND_ALL)):
        cluster = sync.cluster
        if not cluster or not sync.finished_at or not policy.production.covers_cluster(cluster):
            continue
        names = (sync.app_name, sync.app)
        if sync.phase in FAILED_PHASES and not applied_anything(sync):
            # Deployed nothing: the running deployment was not touched, whatever its health says.
            attempts.append({"cluster": cluster, "app": next((n for n in names if n in apps), names[0]),
                             "finished_at": sync.finished_at})
            continue
        signals = [name for name, hit in (("sync_failed", sync.phase in FAILED_PHASES),
                                          ("sync_degraded", sync.health == DEGRADED)) if hit]
        for signal in signals:
            for app in dict.fromkeys(names):  # both names once, in a fixed order (a set's depends on the hash seed)
                rows.append({"cluster": cluster, "app": app, "finished_at": sync.finished_at, "signal": signal})
    return rows, attempts


def _ran_in_production(store: MetadataStore, policy: DeliveryPolicy, commits: set[str]) -> list[dict[str, Any]]:
    """(cluster, app, commit, since) for every production digest that carried one of ``commits``:
    the records of the builds that took them (a record is a digest that ran in a workload), each
    since the earliest of its first pod start and its release events. This is what makes a
    commit running at c2c's first scan, or released outside the computed range, not new."""
    if not commits:
        return []
    records = [r for r in find_many(store, TRACEABILITY_METADATA.name, "commit_ids", commits, TraceabilityRecord,
                                    RECORD_RAN_FIELDS)
               if r.image_digest and policy.production.covers(r.cluster, r.namespace)]
    released: dict[tuple[Any, ...], datetime] = {}
    for event in find_many(store, RELEASE_EVENTS.name, "to_digest", {r.image_digest for r in records}, ReleaseEvent,
                           RELEASE_RAN_FIELDS):
        key, at = _key(event, event.to_digest), parse_time(event.at)
        if at is not None and (key not in released or at < released[key]):
            released[key] = at
    rows: list[dict[str, Any]] = []
    for record in records:
        # A rollback restarts the record's first_seen; its first release event remembers the start.
        times = [t for t in (parse_time(record.first_seen), released.get(_key(record, record.image_digest))) if t]
        if not times:
            continue
        since, app = iso_utc(min(times)), app_of(record, record)
        rows += [{"cluster": record.cluster, "app": app, "commit_id": c, "since": since}
                 for c in record.commit_ids if c in commits]
    return rows


__all__: Sequence[str] = ["InputStats", "app_of", "find_many", "production_clusters", "read_inputs"]
