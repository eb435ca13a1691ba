"""Sync events and post-sync snapshot scopes, read from Argo CD Application objects.

Pure functions over the Application as ``CustomObjectsApi`` returns it (a dict), tested
directly. Field names follow Argo CD's CRD (``status.history[]``, ``status.operationState``).

Argo CD facts this module relies on (argo-cd ``controller/sync.go``, ``controller/state.go``;
checked against the real v3.6 controller in ``c2c_dagster_tests/argocd/test_syncs.py``):

* ``status.history`` gains an entry only when a whole-app sync *succeeds* (not a dry run, not a
  sync of selected resources); its ``id`` grows by one per entry from 0, and its
  ``deployStartedAt`` is the operation's ``startedAt``, both at one-second resolution, so syncs
  started within the same second (a burst of commits, a rollback right after a sync) share it.
  Argo CD keeps the newest 10 (``revisionHistoryLimit``), so the store, not the Application, is
  the long history.
* the history entry is written before ``operationState`` turns ``Succeeded``, so a finished
  successful whole-app operation finds its entry; a ``Failed``/``Error`` operation has none, nor
  has a selective or dry-run sync (recorded by its ``finishedAt`` instead).
* ``operationState`` holds only the latest operation; older history entries carry no resources,
  phase, health or images of their own (those fields describe the app *now*).
* history ids start again at 0 in an Application that is deleted and created again under the same
  namespace/name; only ``metadata.uid`` tells the two apps apart, so it is part of every event id.
* a multi-source app's ``revisions`` has one entry per source, in ``sources`` order, ref-only
  sources (a ``ref`` and no ``path``/``chart``) included.
* a ``Failed``/``Error`` operation may have applied some resources, all, or none: its
  ``syncResult.resources[]`` says, each with its ``status`` (``Synced`` applied, ``SyncFailed``
  refused, ``Pruned``) and, from Argo CD 2.x on, the ``images`` of its manifest; an operation that
  failed before applying anything (manifest generation, a shared resource, a missing service
  account) has a ``syncResult`` without resources, or none. Argo CD's own controller tests write
  these shapes (``controller/appcontroller_test.go`` ``PreviousSyncAttemptFailed``/``Error``,
  ``TestProcessRequestedAppOperation_RunningPreviouslyFailed``; ``controller/sync_test.go``);
  ``c2c_dagster_tests/argocd/test_events.py`` replays them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from c2c_core.timeutil import parse_time
from c2c_dagster.documents.argocd import SyncEventDocument

Application = Mapping[str, Any]

TERMINAL_PHASES = frozenset({"Succeeded", "Failed", "Error"})
SUCCEEDED = "Succeeded"
# syncResult.resources[].status of a resource the sync changed in the cluster ("SyncFailed" and
# "OutOfSync" did not; "PruneSkipped" left it).
APPLIED = frozenset({"Synced", "Pruned"})
# ... and of one whose manifest (and so its images) is now in the cluster.
SYNCED = "Synced"

# (API group, kind) of the workload types a deployment snapshot reads; everything else an app
# syncs (Services, ConfigMaps, CRs ...) narrows nothing and is left out of the scope.
WORKLOAD_KINDS = frozenset(
    {
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("", "Pod"),
    }
)


@dataclass(frozen=True)
class SyncEvent:
    """One finished sync of one Application, as stored in ``argocd-sync-events``."""

    event_id: str
    document: SyncEventDocument
    history_id: int | None
    finished_at: str | None
    # True for the operation in ``status.operationState`` (the latest one), whose resources,
    # health and images are known; False for an older history entry.
    is_current_operation: bool
    # ``operation_key`` of that operation (None for an older history entry).
    operation_key: str | None = None


@dataclass(frozen=True)
class SnapshotScope:
    """What a post-sync snapshot reads: namespaces and ``Kind/namespace/name`` workloads."""

    namespaces: list[str] = field(default_factory=list)
    workloads: list[str] = field(default_factory=list)


def app_key(app: Application) -> str:
    """``<namespace>/<name>`` of the Application object (Argo CD apps may live in any namespace)."""
    meta = app.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def app_uid(app: Application) -> str | None:
    """The Application object's ``metadata.uid``: a re-created app of the same name gets a new one."""
    return (app.get("metadata") or {}).get("uid") or None


def event_id_for(argocd_cluster: str, app: Application, history_id: int | None, finished_at: str | None) -> str:
    """``<cluster>/<app-namespace>/<app-name>/<app uid>/<history id>``, or ``.../<finishedAt>`` without one.

    ``argocd_cluster`` is where the Application object lives (its identity), not where it
    deploys to: two Argo CD instances may both have an ``argocd/guestbook``. The uid keeps a
    re-created app (history ids from 0 again) from overwriting the events of the one before; an
    object without a uid (never one read from an API server) leaves that part out.
    """
    uid = app_uid(app)
    sync = history_id if history_id is not None else finished_at
    return f"{argocd_cluster}/{app_key(app)}/{uid}/{sync}" if uid else f"{argocd_cluster}/{app_key(app)}/{sync}"


def _initiated_by(value: Mapping[str, Any] | None) -> tuple[str | None, bool | None]:
    if not value:
        return None, None
    if value.get("automated"):
        return "automated", True
    return value.get("username") or None, False


def _sources(record: Mapping[str, Any], spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The sources a sync used: the record's own (history entry / syncResult), else the spec's."""
    if record.get("sources"):
        return list(record["sources"])
    if record.get("source"):
        return [record["source"]]
    if spec.get("sources"):
        return list(spec["sources"])
    return [spec["source"]] if spec.get("source") else []


def _one_or_many(values: list[str], multi_source: bool) -> str | list[str] | None:
    # A keyword field holds one value or several: a single-source app stores a string, a
    # multi-source app the list, so a lookup by one commit or repo finds either kind of app.
    if multi_source:
        return values
    return values[0] if values else None


def _resource(entry: Mapping[str, Any]) -> dict[str, Any]:
    resource = {
        "group": entry.get("group", ""),
        "kind": entry.get("kind"),
        "namespace": entry.get("namespace", ""),
        "name": entry.get("name"),
        "status": entry.get("status"),
    }
    # Hooks (e.g. c2c's own PostSync Job) are listed with their hook type; they are not part of
    # the deployed state, and the snapshot scope leaves them out.
    if entry.get("hookType"):
        resource["hook_type"] = entry["hookType"]
    if entry.get("message"):
        resource["message"] = entry["message"]
    return resource


def _synced_images(sync_result: Mapping[str, Any]) -> list[str]:
    """The images of the manifests a sync applied (``syncResult.resources[].images``), hooks aside.

    Preferred to ``status.summary.images``: the controller refreshes that summary with the
    reconciliation *after* the operation, so read right after a sync it can still list the images
    from before it. Empty for an Argo CD that does not record images per resource.
    """
    images: dict[str, None] = {}
    for resource in sync_result.get("resources") or []:
        if not resource.get("hookType"):
            images.update(dict.fromkeys(resource.get("images") or []))
    return sorted(images)


def _applied_images(sync_result: Mapping[str, Any]) -> list[str]:
    """The images a failed or errored operation put in the cluster: those of the resources it
    applied (``Synced``) before failing, hooks aside. Nothing when it applied nothing. Never
    ``status.summary.images``: that is what the app ran before, which the failed sync did not
    deploy (and an Argo CD that lists no images per resource leaves this empty: unknown is not
    the old images)."""
    images: dict[str, None] = {}
    for resource in sync_result.get("resources") or []:
        if not resource.get("hookType") and resource.get("status") == SYNCED:
            images.update(dict.fromkeys(resource.get("images") or []))
    return sorted(images)


def operation_key(operation: Mapping[str, Any]) -> str | None:
    """Which finished operation this is: its ``finishedAt`` and a digest of what was asked and how
    it ended. The real controller writes one-second timestamps, and a self-heal can start and end
    within the second the sync before it ended, so ``finishedAt`` alone does not tell them apart.
    """
    if not operation.get("finishedAt"):
        return None
    material = json.dumps({key: operation.get(key) for key in ("startedAt", "phase", "retryCount", "operation")},
                          sort_keys=True)
    return f"{operation['finishedAt']}#{hashlib.sha1(material.encode()).hexdigest()[:10]}"


def _revisions(record: Mapping[str, Any]) -> list[str]:
    """The revision(s) a history entry or syncResult names: ``revisions`` (multi-source) or ``revision``."""
    if record.get("revisions"):
        return list(record["revisions"])
    return [record["revision"]] if record.get("revision") else []


def operation_history_id(operation: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> int | None:
    """The history entry a finished *successful* operation wrote, or None.

    Matched by ``deployStartedAt == startedAt`` (Argo CD copies one into the other). Both have
    one-second resolution, so several entries may match: the newest is the latest operation's
    (Argo CD appends), provided it deployed the revisions the operation synced; if not, the
    operation wrote no entry and the match is an earlier sync's. A selective sync (a self-heal,
    a sync of chosen resources) or a dry run writes none, whatever the timestamps say. History
    written by versions without ``deployStartedAt`` falls back to the newest entry deployed at
    or after the operation started.
    """
    if operation.get("phase") != SUCCEEDED or not history:
        return None
    requested = (operation.get("operation") or {}).get("sync") or {}
    if requested.get("resources") or requested.get("dryRun"):
        # Argo CD records history only for a whole-app sync that is not a dry run
        # (controller/sync.go); a self-heal syncs just the drifted resources.
        return None
    started = parse_time(operation.get("startedAt"))
    synced = _revisions(operation.get("syncResult") or {})
    for entry in sorted(history, key=lambda entry: int(entry["id"]), reverse=True):
        if entry.get("deployStartedAt") and parse_time(entry["deployStartedAt"]) == started:
            return int(entry["id"]) if not synced or _revisions(entry) == synced else None
    newest = max(history, key=lambda entry: int(entry["id"]))
    deployed = parse_time(newest.get("deployedAt"))
    if not newest.get("deployStartedAt") and started and deployed and deployed >= started:
        return int(newest["id"])
    return None


def sync_events(
    app: Application,
    *,
    argocd_cluster: str,
    cluster: str | None,
    recorded_at: str,
) -> list[SyncEvent]:
    """Every finished sync visible in ``app``: each history entry, plus a finished failed operation.

    ``cluster`` is the configured cluster the app deploys to (None when its destination is not
    one c2c reads: the event is still recorded, with the reason in ``ingest_problems``).
    Oldest first.
    """
    meta = app.get("metadata") or {}
    spec = app.get("spec") or {}
    status = app.get("status") or {}
    destination = spec.get("destination") or {}
    history = sorted(status.get("history") or [], key=lambda entry: int(entry["id"]))
    operation = status.get("operationState") or {}
    finished = operation.get("phase") in TERMINAL_PHASES and bool(operation.get("finishedAt"))
    current_id = operation_history_id(operation, history) if finished else None

    base: dict[str, Any] = {
        "argocd_cluster": argocd_cluster,
        "cluster": cluster,
        "app": meta.get("name"),
        "app_namespace": meta.get("namespace"),
        "app_uid": app_uid(app),
        "project": spec.get("project"),
        # History does not record where each sync went; the destination is the app's current one.
        "destination_server": destination.get("server"),
        "destination_name": destination.get("name"),
        "destination_namespace": destination.get("namespace"),
        "recorded_at": recorded_at,
    }
    if cluster is None:
        base["ingest_problems"] = [
            f"destination server={destination.get('server')!r} name={destination.get('name')!r} "
            f"is not a cluster c2c is configured to read; no post-sync snapshot"
        ]

    events: list[SyncEvent] = []
    for entry in history:
        is_current = current_id is not None and int(entry["id"]) == current_id
        events.append(
            _event(app, base, spec, status, argocd_cluster, entry=entry, operation=operation if is_current else None)
        )
    if finished and current_id is None:
        events.append(_event(app, base, spec, status, argocd_cluster, entry=None, operation=operation))
    return events


def _event(
    app: Application,
    base: Mapping[str, Any],
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    argocd_cluster: str,
    *,
    entry: Mapping[str, Any] | None,
    operation: Mapping[str, Any] | None,
) -> SyncEvent:
    """One event from a history entry, the current operation, or both when they are the same sync."""
    doc = dict(base)
    entry = entry or {}
    operation = operation or {}
    sync_result = operation.get("syncResult") or {}
    requested = (operation.get("operation") or {}).get("sync") or {}

    # What was deployed: the history entry is authoritative; a failed operation has only its
    # syncResult (when it got that far) or the revision it was asked to sync.
    record = entry or sync_result
    sources = _sources(record, spec)
    multi_source = len(sources) > 1 or bool(record.get("revisions"))
    revisions = list(record.get("revisions") or [])
    if not revisions:
        single = record.get("revision") or requested.get("revision")
        revisions = [single] if single else list(requested.get("revisions") or [])
    doc["repo_url"] = _one_or_many([s["repoURL"] for s in sources if s.get("repoURL")], multi_source)
    doc["revision"] = _one_or_many(revisions, multi_source)
    doc["revisions"] = revisions
    # One entry per source, aligned with ``revisions``: a ref-only source has no path ("").
    doc["source_paths"] = [s.get("path") or s.get("chart") or "" for s in sources]

    history_id = int(entry["id"]) if entry else None
    finished_at = operation.get("finishedAt") or entry.get("deployedAt")
    doc["history_id"] = history_id
    doc["deployed_at"] = entry.get("deployedAt")
    doc["started_at"] = entry.get("deployStartedAt") or operation.get("startedAt")
    doc["finished_at"] = finished_at
    who = entry.get("initiatedBy") or (operation.get("operation") or {}).get("initiatedBy")
    initiated_by, automated = _initiated_by(who)
    doc["initiated_by"] = initiated_by
    doc["automated"] = automated

    if operation:
        doc["phase"] = operation.get("phase")
        doc["message"] = operation.get("message")
        doc["retry_count"] = operation.get("retryCount")
        doc["resources"] = [_resource(r) for r in sync_result.get("resources") or []]
        # These describe the app as it is now, i.e. right after its latest operation; an older
        # history entry gets none rather than values that belong to a later sync.
        doc["sync_status"] = (status.get("sync") or {}).get("status")
        doc["health"] = (status.get("health") or {}).get("status")
        if operation.get("phase") == SUCCEEDED:
            doc["images"] = _synced_images(sync_result) or list((status.get("summary") or {}).get("images") or [])
        else:
            doc["images"] = _applied_images(sync_result)
    else:
        # Argo CD writes a history entry only for a successful sync.
        doc["phase"] = SUCCEEDED
        doc["resources"] = []

    event_id = event_id_for(argocd_cluster, app, history_id, finished_at)
    doc["event_id"] = event_id
    return SyncEvent(
        event_id=event_id,
        document=SyncEventDocument.from_document(doc),
        history_id=history_id,
        finished_at=finished_at,
        is_current_operation=bool(operation),
        operation_key=operation_key(operation) if operation else None,
    )


def wants_snapshot(event: SyncEvent) -> bool:
    """Whether a finished operation is worth a post-sync snapshot.

    A success always is. A failed or errored sync is when it applied (or pruned) some resources
    before failing (Argo CD applies a wave's resources together, so a valid ConfigMap lands
    beside a Deployment the API server refuses), and what actually runs then is exactly what an
    operator needs. One that applied nothing (every resource ``SyncFailed``, or no syncResult
    at all, e.g. manifest generation failed) changed nothing, and the scheduled scan covers it.
    """
    return event.document.phase == SUCCEEDED or applied_anything(event.document)


def applied_anything(document: SyncEventDocument) -> bool:
    """Whether a sync changed something in the cluster: a successful one did; a failed or errored
    one when any of its resources (hooks aside) was applied or pruned before it failed. One that
    applied nothing is an attempt, not a deployment (DORA counts it apart: ``delivery/``)."""
    if document.phase == SUCCEEDED:
        return True
    return any(r.status in APPLIED for r in document.resources if not r.hook_type)


def snapshot_scope(event: SyncEvent) -> SnapshotScope:
    """The destination namespace(s) and synced workloads of one sync, for a scoped snapshot."""
    doc = event.document
    default_ns = doc.destination_namespace or ""
    namespaces = {default_ns} if default_ns else set()
    workloads: set[str] = set()
    for resource in doc.resources:
        if resource.hook_type:
            continue
        namespace = resource.namespace or ""
        if namespace:
            namespaces.add(namespace)
        # A pruned workload no longer exists; its namespace is still worth reading.
        if (resource.group or "", resource.kind) in WORKLOAD_KINDS and resource.status != "Pruned":
            workloads.add(f"{resource.kind}/{namespace or default_ns}/{resource.name}")
    return SnapshotScope(namespaces=sorted(namespaces), workloads=sorted(workloads))
