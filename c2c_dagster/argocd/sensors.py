"""``argocd_sync_sensor``: records every finished Argo CD sync and snapshots what it deployed."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import dagster as dg

from c2c_core.timeutil import iso_utc, parse_time, utc_now
from c2c_dagster.argocd.assets import recorded
from c2c_dagster.argocd.cursor import AppCursor, ArgoCursor, advance_app, snapshot_event
from c2c_dagster.argocd.events import SyncEvent, app_key, app_uid, snapshot_scope, sync_events, wants_snapshot
from c2c_dagster.argocd.listing import list_applications
from c2c_dagster.cluster.pager import ClusterReadError
from c2c_dagster.cluster.resources import KubernetesResource
from c2c_dagster.cluster.tags import CLUSTER_TAG
from c2c_dagster.documents.argocd import SyncEventDocument
from c2c_dagster.settings import DEFAULTS, Settings
from c2c_dagster.store import ARGOCD_SYNC_EVENTS, MetadataStoreResource, StoreError

SNAPSHOT_ASSET = dg.AssetKey("deployment_snapshots")
RECORDS_ASSET = dg.AssetKey("traceability_records")
# How often the sensor lists every cluster's Applications (one paged LIST per cluster). It bounds
# how soon a finished sync is followed (benchmarks/sync_to_record_latency.py). Dagster's sensor
# daemon wakes every 5 s and evaluates a sensor whose interval has passed; 4 s has this sensor
# evaluated at every wake-up (at 5 s, a wake-up a few milliseconds early skips to the next, 10 s;
# at 15 s it was 15-20 s, which made the sensor the largest stage). Raise it for fleets of
# hundreds of clusters, where one tick's LISTs take seconds.
# The interval is C2C_ARGOCD_SENSOR_INTERVAL_SECONDS (Settings.argocd_sensor_interval_seconds, default 4).

# Tags shared with k8s/argocd/postsync-hook.yaml: the hook tags its run with the same app and
# partition, and the sensor does not request a second snapshot of a sync the hook covered. Both, like the scan
# schedule, tag the cluster (CLUSTER_TAG).
TRIGGER_TAG = "c2c/trigger"
APP_TAG = "c2c/argocd-app"
SYNC_EVENT_TAG = "c2c/sync-event-id"
PARTITION_TAG = "dagster/partition"
HOOK_TRIGGER = "argocd-postsync-hook"
SENSOR_TRIGGER = "argocd_sync_sensor"

@dataclass
class _Tick:
    """What one evaluation found, before anything is returned to Dagster."""

    documents: list[SyncEventDocument] = field(default_factory=list)
    requests: list[dg.RunRequest] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    without_crd: list[str] = field(default_factory=list)
    apps: int = 0
    covered_by_hook: int = 0


def _hook_run_id(instance: dg.DagsterInstance, event: SyncEvent, partition: str) -> str | None:
    """The run a PostSync hook launched for this sync, if any.

    The hook runs inside the sync, before Argo CD writes the history entry, so it cannot know
    the event id: its run is matched by app, partition and creation after the operation started.
    """
    started = parse_time(event.document.started_at)
    if started is None:
        return None
    runs = instance.get_runs(
        filters=dg.RunsFilter(
            tags={TRIGGER_TAG: HOOK_TRIGGER, APP_TAG: _app_name(event), PARTITION_TAG: partition},
            created_after=started,
        ),
        limit=1,
    )
    return runs[0].run_id if runs else None


def _app_name(event: SyncEvent) -> str:
    """``<app-namespace>/<app-name>``: how the hook's ConfigMap and the snapshot config name an app."""
    return event.document.app_name


def snapshot_request(event: SyncEvent, partition: str) -> dg.RunRequest:
    """A post-sync ``deployment_snapshots`` run scoped to what this sync deployed, followed in the
    same run by the cluster's ``traceability_records``: the new digest's record lands without a
    second run launch and an automation tick in between (the automation then finds it handled)."""
    scope = snapshot_scope(event)
    return dg.RunRequest(
        # Deterministic: the same sync seen again (e.g. a tick re-evaluated) launches nothing new.
        run_key=f"post-sync:{event.event_id}",
        partition_key=partition,
        asset_selection=[SNAPSHOT_ASSET, RECORDS_ASSET],
        run_config={
            # Both steps in the run's own process: a process per step (the default) loads the code
            # location once more per step, seconds each time on the sync-to-record path
            # (benchmarks/sync_to_record_latency.py).
            "execution": {"config": {"in_process": {}}},
            "ops": {
                "deployment_snapshots": {
                    "config": {
                        "mode": "post-sync",
                        "namespaces": scope.namespaces,
                        "workloads": scope.workloads,
                        "argocd_app": _app_name(event),
                        "sync_event_id": event.event_id,
                    }
                }
            }
        },
        tags={
            TRIGGER_TAG: SENSOR_TRIGGER,
            APP_TAG: _app_name(event),
            SYNC_EVENT_TAG: event.event_id,
            CLUSTER_TAG: partition,
        },
    )


def _read_cluster(
    context: dg.SensorEvaluationContext,
    kubernetes: KubernetesResource,
    cluster: str,
    cursor: ArgoCursor,
    tick: _Tick,
    recorded_at: str,
) -> None:
    """Find the new syncs of one cluster's Applications; advance its cursor only on success."""
    listing = list_applications(kubernetes, cluster)
    if listing is None:
        tick.without_crd.append(cluster)
        return
    # First listing of a cluster: every sync is recorded (history back-filled into the store)
    # but none snapshotted; those syncs are old and the scheduled scan already shows their state.
    baseline = not cursor.is_known(cluster)
    known = cursor.clusters.get(cluster, {})
    apps_cursor: dict[str, AppCursor] = {}
    documents: list[SyncEventDocument] = []
    requests: list[dg.RunRequest] = []
    covered = 0
    for app in listing:
        key = app_key(app)
        destination = (app.get("spec") or {}).get("destination") or {}
        target = kubernetes.cluster_for_destination(cluster, destination.get("server"), destination.get("name"))
        events = sync_events(app, argocd_cluster=cluster, cluster=target, recorded_at=recorded_at)
        new, apps_cursor[key] = advance_app(known.get(key), events, app_uid(app))
        if not new:
            continue
        phase = ((app.get("status") or {}).get("operationState") or {}).get("phase")
        chosen = None if baseline else snapshot_event(new, phase)
        for event in new:
            doc = replace(event.document)
            if event is chosen and wants_snapshot(event):
                if target is None:
                    context.log.warning(
                        f"Argo CD app {key} in cluster {cluster!r} deploys to server="
                        f"{destination.get('server')!r} name={destination.get('name')!r}, which is not a "
                        f"configured cluster; sync {event.event_id} recorded without a snapshot"
                    )
                elif hook_run := _hook_run_id(context.instance, event, target):
                    doc.snapshot_run_id = hook_run
                    covered += 1
                else:
                    request = snapshot_request(event, target)
                    doc.snapshot_run_key = request.run_key
                    requests.append(request)
            documents.append(doc)
    cursor.clusters[cluster] = apps_cursor  # apps deleted from Argo CD drop out here
    tick.documents.extend(documents)
    tick.requests.extend(requests)
    tick.apps += len(apps_cursor)
    tick.covered_by_hook += covered


def argocd_sync_tick(
    context: dg.SensorEvaluationContext,
    kubernetes: KubernetesResource,
    store: MetadataStoreResource,
) -> dg.SensorResult | dg.SkipReason:
    """Records finished Argo CD syncs and requests a scoped post-sync snapshot for each new one."""
    cursor = ArgoCursor.loads(context.cursor)
    # A cluster removed from the configuration leaves the cursor with it.
    cursor.clusters = {name: apps for name, apps in cursor.clusters.items() if name in kubernetes.cluster_names()}
    recorded_at = iso_utc(utc_now())
    tick = _Tick()
    for cluster in kubernetes.cluster_names():
        try:
            _read_cluster(context, kubernetes, cluster, cursor, tick, recorded_at)
        except ClusterReadError as exc:
            # That cluster's cursor entry is left as it was: its syncs are read again next tick.
            tick.failures.append(str(exc))
    if tick.failures and len(tick.failures) == len(kubernetes.cluster_names()):
        return dg.SkipReason(f"no cluster could be read; cursor unchanged: {'; '.join(tick.failures)}")

    if tick.documents:
        try:
            store.get_store().upsert(ARGOCD_SYNC_EVENTS.name, [doc.to_document() for doc in tick.documents])
        except StoreError as exc:
            # No run is requested for a sync whose event is not stored; the next tick retries both.
            return dg.SkipReason(f"sync events could not be stored; cursor unchanged: {exc}")

    summary = (
        f"{tick.apps} app(s) in {len(kubernetes.cluster_names()) - len(tick.failures) - len(tick.without_crd)} "
        f"cluster(s); {len(tick.documents)} sync event(s) recorded, {len(tick.requests)} snapshot(s) requested, "
        f"{tick.covered_by_hook} already launched by a PostSync hook; "
        f"{len(tick.without_crd)} cluster(s) without Argo CD"
    )
    context.log.info(summary)
    if tick.failures:
        context.log.warning(f"skipped, cursor unchanged for them: {'; '.join(tick.failures)}")
    # The stored batch is the argocd_sync_events asset's materialization: no run writes it.
    events = [recorded(tick.documents)] if tick.documents else []
    if not tick.requests:
        skip = summary + (f"; unreadable: {'; '.join(tick.failures)}" if tick.failures else "")
        return dg.SensorResult(skip_reason=skip, cursor=cursor.dumps(), asset_events=events)
    return dg.SensorResult(run_requests=tick.requests, cursor=cursor.dumps(), asset_events=events)


def build_argocd_sync_sensor(settings: Settings) -> dg.SensorDefinition:
    """The sensor for ``settings``: their interval, running by default where they name a cluster."""
    return dg.sensor(
        name="argocd_sync_sensor",
        target=dg.AssetSelection.assets(SNAPSHOT_ASSET, RECORDS_ASSET),
        minimum_interval_seconds=settings.argocd_sensor_interval_seconds,
        # Running by default only where a cluster is configured; a laptop demo has none.
        default_status=(dg.DefaultSensorStatus.RUNNING if settings.cluster_configured
                        else dg.DefaultSensorStatus.STOPPED),
        description=(
            "Watches Argo CD Applications in every configured cluster. Each newly finished sync is "
            "recorded in argocd-sync-events (config-repo revision, who started it, phase, health, images, "
            "synced resources) and reported as a materialization of argocd_sync_events, so deployment history outlives Argo CD's 10-entry status.history; each "
            "new sync also requests a post-sync deployment_snapshots run scoped to the app's destination "
            "namespace and synced workloads, with the cluster's traceability_records in the same run, "
            "unless its PostSync hook already launched one."
        ),
    )(argocd_sync_tick)


# The defaults' sensor (stopped); the code location's is ``build_argocd_sync_sensor(its settings)``.
argocd_sync_sensor = build_argocd_sync_sensor(DEFAULTS)
