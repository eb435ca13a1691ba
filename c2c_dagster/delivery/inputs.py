"""What ``metrics.py`` needs, read from the store: release events joined to their records and builds,
the failed and degraded syncs, the commits released before the range, each cluster's first scan.

Reads are bounded by the range: release events and syncs of ``[start - recovery horizon, end +
failure window)`` by time, then records, builds and earlier releases by the ids and commits those
name (a few targeted lookups), never whole indices.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


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
from c2c_dagster.documents.argocd import SyncEventDocument
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
CONTAINER_KEY = ("cluster", "namespace", "workload_kind", "workload_name", "container_name")


def _chunks(values: Iterable[str], size: int = LOOKUP_CHUNK) -> Iterator[list[str]]:
    ordered = sorted(set(values))
    for i in range(0, len(ordered), size):
        yield ordered[i:i + size]


def find_many(store: MetadataStore, index: str, field: str, values: Iterable[str]) -> list[dict[str, Any]]:
    """Every document whose lookup ``field`` is one of ``values``, in chunks the stores take."""
    found: dict[str, dict[str, Any]] = {}
    id_field = store.spec(index).id_field
    for chunk in _chunks(values):
        for doc in store.find(index, field, chunk, limit=FIND_ALL):
            found[str(doc[id_field])] = doc
    return list(found.values())


def app_of(event: dict[str, Any], record: dict[str, Any] | None) -> str:
    """The Argo CD application managing the workload when known, else ``namespace/name``."""
    return (record or {}).get("argocd_app") or event.get("argocd_app") or f"{event['namespace']}/{event['workload_name']}"


def _key(doc: dict[str, Any], digest: str | None) -> tuple[Any, ...]:
    return (*(doc.get(k) for k in CONTAINER_KEY), digest)


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
    """The inputs of ``metrics.delivery_metrics`` for the days in [start, end)."""
    stats = InputStats()
    context_start, context_end = start - policy.recovery_horizon, end + policy.failure_window
    clusters = production_clusters(store, policy)
    observed = {c: moment for c in clusters if (moment := store.earliest(DEPLOYMENT_METADATA.name, "cluster", c))}

    events = [e for e in store.list_range(RELEASE_EVENTS.name, context_start, context_end, limit=FIND_ALL)
              if policy.production.covers(e["cluster"], e["namespace"])]
    stats.release_events = len(events)
    records = {_key(r, r.get("image_digest")): r
               for r in find_many(store, TRACEABILITY_METADATA.name, "image_digest", {e["to_digest"] for e in events})}
    build_of = {e["event_id"]: (records.get(_key(e, e["to_digest"])) or {}).get("build_id") or e.get("to_build_id")
                for e in events}
    builds = {b["build_id"]: b for b in find_many(store, CI_BUILD_METADATA.name, "build_id",
                                                  {b for b in build_of.values() if b})}
    stats.builds = len(builds)

    release_rows, commit_rows = [], []
    for event in events:
        record = records.get(_key(event, event["to_digest"]))
        build = builds.get(build_of[event["event_id"]] or "")
        commits = (build or {}).get("commits") or [{"commit_id": c} for c in event.get("to_commit_ids") or []]
        release_rows.append({
            "event_id": event["event_id"],
            "cluster": event["cluster"],
            "namespace": event["namespace"],
            "workload": f"{event['workload_kind']}/{event['workload_name']}",
            "app": app_of(event, record),
            "at": event["at"],
            "rollback": bool(event.get("rollback")),
            "fix": bool(build) and policy.is_fix(build.get("branch"), (c.get("message") or "" for c in commits)),
            "traceable": build_of[event["event_id"]] is not None,
            "external": (record or {}).get("image_class") == "external",
        })
        at = parse_time(event["at"])
        if start <= at < end:
            commit_rows += [{"event_id": event["event_id"], "commit_id": c["commit_id"], "committed_at": c.get("timestamp")}
                            for c in commits if c.get("commit_id")]

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
    for sync in store.list_range(ARGOCD_SYNC_EVENTS.name, start - tolerance, end + tolerance, limit=FIND_ALL):
        cluster = sync.get("cluster")
        if not cluster or not sync.get("finished_at") or not policy.production.covers_cluster(cluster):
            continue
        names = (f"{sync.get('app_namespace')}/{sync['app']}", sync["app"])
        if sync.get("phase") in FAILED_PHASES and not applied_anything(SyncEventDocument.from_document(sync)):
            # Deployed nothing: the running deployment was not touched, whatever its health says.
            attempts.append({"cluster": cluster, "app": next((n for n in names if n in apps), names[0]),
                             "finished_at": sync["finished_at"]})
            continue
        signals = [name for name, hit in (("sync_failed", sync.get("phase") in FAILED_PHASES),
                                          ("sync_degraded", sync.get("health") == DEGRADED)) if hit]
        for signal in signals:
            for app in set(names):
                rows.append({"cluster": cluster, "app": app, "finished_at": sync["finished_at"], "signal": signal})
    return rows, attempts


def _ran_in_production(store: MetadataStore, policy: DeliveryPolicy, commits: set[str]) -> list[dict[str, Any]]:
    """(cluster, app, commit, since) for every production digest that carried one of ``commits``:
    the records of the builds that took them (a record is a digest that ran in a workload), each
    since the earliest of its first pod start and its release events. This is what makes a
    commit running at c2c's first scan, or released outside the computed range, not new."""
    if not commits:
        return []
    records = [r for r in find_many(store, TRACEABILITY_METADATA.name, "commit_ids", commits)
               if r.get("image_digest") and policy.production.covers(r["cluster"], r["namespace"])]
    released: dict[tuple[Any, ...], datetime] = {}
    for event in find_many(store, RELEASE_EVENTS.name, "to_digest", {r["image_digest"] for r in records}):
        key, at = _key(event, event["to_digest"]), parse_time(event["at"])
        if at is not None and (key not in released or at < released[key]):
            released[key] = at
    rows: list[dict[str, Any]] = []
    for record in records:
        # A rollback restarts the record's first_seen; its first release event remembers the start.
        times = [t for t in (parse_time(record.get("first_seen")), released.get(_key(record, record["image_digest"]))) if t]
        if not times:
            continue
        since, app = iso_utc(min(times)), app_of(record, record)
        rows += [{"cluster": record["cluster"], "app": app, "commit_id": c, "since": since}
                 for c in record.get("commit_ids") or [] if c in commits]
    return rows


__all__: Sequence[str] = ["InputStats", "app_of", "find_many", "production_clusters", "read_inputs"]
