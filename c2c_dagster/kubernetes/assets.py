"""The ``deployment_snapshots`` asset: what runs where, per cluster, as versioned documents.

No ``from __future__ import annotations`` here: Dagster reads the config and resource types
from the function signature at definition time.
"""

import re

import dagster as dg

from c2c_core.timeutil import utc_now
from c2c_dagster.cluster.pager import api_page_lister
from c2c_dagster.cluster.resources import KubernetesResource
from c2c_dagster.documents.deployments import PodVersion, WorkloadVersion
from c2c_dagster.freshness import freshness_policy
from c2c_dagster.kubernetes.collect import DAEMONSETS, DEPLOYMENTS, PODS, STATEFULSETS
from c2c_dagster.kubernetes.history import (
    CARRIED_FIELDS,
    PLAN_FIELDS,
    plan_history,
    read_open_versions,
    read_watermark,
    scan_watermark,
    write_history,
)
from c2c_dagster.kubernetes.partitions import cluster_partitions
from c2c_dagster.kubernetes.preview import snapshot_preview
from c2c_dagster.kubernetes.snapshot import Scope, snapshot_cluster
from c2c_dagster.store import MetadataStoreResource
from c2c_dagster.store.settings import store_kind

MODES = ("scan", "post-sync")
_WORKLOAD_RE = re.compile(r"^[A-Za-z]+/[^/]+/[^/]+$")
_APP_RE = re.compile(r"^[^/]+/[^/]+$")
# Which LIST must have succeeded before an unobserved version may be closed as gone.
_TYPE_OF_KIND = {"Deployment": DEPLOYMENTS.key, "StatefulSet": STATEFULSETS.key, "DaemonSet": DAEMONSETS.key}


class SnapshotConfig(dg.Config):
    """What to snapshot. Defaults: a full scan (the schedule). The Argo CD sensor asks for a
    ``post-sync`` snapshot scoped to the synced app's namespaces and workloads."""

    mode: str = "scan"  # "scan" or "post-sync"
    namespaces: list[str] = []  # empty: every namespace
    workloads: list[str] = []  # "Kind/namespace/name"; empty: every workload in scope
    argocd_app: str = ""  # "namespace/name" of the Application that synced
    sync_event_id: str = ""  # the argocd-sync-events document this snapshot follows


def _check(config: SnapshotConfig) -> None:
    # Refused before any API call: a typo would otherwise snapshot nothing and close nothing.
    if config.mode not in MODES:
        raise dg.Failure(f"mode must be one of {MODES}, got {config.mode!r}")
    bad = [w for w in config.workloads if not _WORKLOAD_RE.match(w)]
    if bad:
        raise dg.Failure(f"workloads must read Kind/namespace/name, got {bad}")
    if config.argocd_app and not _APP_RE.match(config.argocd_app):
        raise dg.Failure(f"argocd_app must read namespace/name, got {config.argocd_app!r}")


@dg.asset(
    partitions_def=cluster_partitions,
    # Unreachable API servers and store hiccups are transient; nothing is written until the
    # whole cluster has been read, so a retry starts clean.
    retry_policy=dg.RetryPolicy(max_retries=3, delay=15, backoff=dg.Backoff.EXPONENTIAL),
    freshness_policy=freshness_policy("deployment_snapshots"),
    kinds={"kubernetes", store_kind()},
    group_name="deployments",
    owners=["team:platform"],
)
def deployment_snapshots(
    context: dg.AssetExecutionContext,
    config: SnapshotConfig,
    kubernetes: KubernetesResource,
    store: MetadataStoreResource,
) -> dg.MaterializeResult:
    """What runs where: every Deployment, StatefulSet and DaemonSet of a cluster and every pod,
    with the node it runs on and the sha256 digest of each container's image — the
    image -> deployment -> pod -> node half of traceability, and its history.

    Read with one paginated LIST per resource type (never per object or per workload), joined
    by ownerReferences. ``deployment-metadata`` keeps one document per version of each workload
    and pod: a change writes a new version; an unchanged object is not rewritten by a full scan
    (the cluster's scan watermark, one document, records that it was seen) and has its
    ``last_seen`` refreshed by a scoped one, so the cluster at any past moment can be
    reconstructed without a document per pod per scan.
    A type the collector may not read is reported with the RBAC rule to add, and the snapshot
    is marked partial, never complete.

    One partition per cluster: a snapshot is a cluster's state *now* (there is no past window to
    backfill, so no time partitions), and per cluster each one's runs, failures and retries stand
    alone, and a post-sync run targets exactly the cluster an Argo CD app deploys to.
    """
    _check(config)
    cluster = context.partition_key
    scope = Scope.of(config.namespaces, config.workloads, config.argocd_app)
    snapshot_time = utc_now()

    with kubernetes.api_client(cluster) as api:
        snapshot, collection = snapshot_cluster(
            api_page_lister(api, kubernetes.request_timeout_seconds),
            server=api.configuration.host,
            page_size=kubernetes.page_size,
            cluster=cluster, snapshot_time=snapshot_time, mode=config.mode, scope=scope,
            sync_event_id=config.sync_event_id,
        )
    for error in collection.errors:
        context.log.warning(f"cluster {cluster}: {error.describe()}")
    for pod in snapshot.orphaned_pods[:20]:
        context.log.info(f"pod {pod}: its owner was not in the LIST results (deleted meanwhile, or unreadable)")

    metadata_store = store.get_store()
    unread = collection.unread
    # A partial snapshot compares with the open versions' joined fields too (plan_history).
    fields = PLAN_FIELDS + CARRIED_FIELDS if unread else PLAN_FIELDS
    previous = [
        version
        for version in read_open_versions(metadata_store, cluster, scope.list_namespaces, fields=fields)
        if scope.covers(version.namespace, version.workload or "", version.argocd_app)
    ]

    def may_close(version: WorkloadVersion | PodVersion) -> bool:
        # An app-scoped snapshot that could not read the Applications cannot tell "gone" from
        # "no longer matched to the app": it closes nothing.
        if scope.argocd_app and "applications" not in collection.complete:
            return False
        kind = PODS.key if isinstance(version, PodVersion) else _TYPE_OF_KIND.get(version.workload_kind or "")
        return kind in collection.complete

    # Only a scan that saw every namespace and every type proves the versions it did not rewrite.
    proves_all = scope.everything and not collection.partial
    plan = plan_history(
        snapshot.versions, previous, snapshot_time=snapshot.snapshot_time, may_close=may_close,
        partial=collection.partial, unread=unread, watermark=read_watermark(metadata_store, cluster),
        advance=scan_watermark(cluster, snapshot.snapshot_time, context.run.run_id, config.mode) if proves_all else None,
    )
    write_history(metadata_store, plan)

    containers = snapshot.containers()
    unknown = sorted({
        f"{pod.namespace}/{pod.pod_name}/{c.name}" for pod in snapshot.pods for c in pod.containers if not c.image_digest
    })
    return dg.MaterializeResult(
        metadata={
            "cluster": cluster,
            "mode": config.mode,
            "scope": "cluster" if scope.everything else dg.MetadataValue.json(
                {"namespaces": sorted(scope.namespaces), "workloads": sorted(scope.workloads),
                 "argocd_app": scope.argocd_app}
            ),
            "workloads": len(snapshot.workloads),
            "pods": len(snapshot.pods),
            "containers": len(containers),
            "new_documents": len(plan.new),
            "refreshed_documents": len(plan.refreshed),
            "unchanged_documents": plan.unchanged,  # not rewritten: the scan watermark covers them
            "documents_written": plan.writes,
            "scan_watermark": plan.watermark.scanned_at if plan.watermark else "not advanced (scoped or partial)",
            "closed_documents": len(plan.closed),
            "gone_objects": plan.gone,
            "partial": collection.partial,
            "errors": dg.MetadataValue.json([e.describe() for e in collection.errors]),
            "digests_unknown": len(unknown),
            "digests_unknown_containers": dg.MetadataValue.json(unknown[:50]),
            "orphaned_pods": len(snapshot.orphaned_pods),
            "list_calls": collection.list_calls,
            "list_restarts": collection.restarts,
            "list_seconds": round(collection.seconds, 3),
            "argocd_applications_listed": "applications" in collection.complete,
            **snapshot_preview(cluster, snapshot.pods, snapshot.workloads),
        }
    )
