"""The ``deployment_snapshots`` asset: what runs where, per cluster, as versioned documents. A thin
asset: ``inputs.py`` reads the cluster and the open versions, ``plan.py`` plans the history purely,
``history.py`` writes it, ``preview.py`` says what the UI shows.

No ``from __future__ import annotations`` here: Dagster reads the config and resource types
from the function signature at definition time.
"""

import re

import dagster as dg

from c2c_core.timeutil import utc_now
from c2c_dagster.cluster.pager import Collection
from c2c_dagster.cluster.resources import KubernetesResource
from c2c_dagster.freshness import freshness_policy
from c2c_dagster.kubernetes.history import read_watermark, write_history
from c2c_dagster.kubernetes.inputs import read_cluster, read_previous_versions
from c2c_dagster.kubernetes.partitions import cluster_partitions
from c2c_dagster.kubernetes.plan import plan_snapshot_history
from c2c_dagster.kubernetes.preview import snapshot_metadata
from c2c_dagster.kubernetes.snapshot import Scope, Snapshot
from c2c_dagster.store import MetadataStoreResource
from c2c_dagster.store.settings import store_kind

MODES = ("scan", "post-sync")
_WORKLOAD_RE = re.compile(r"^[A-Za-z]+/[^/]+/[^/]+$")
_APP_RE = re.compile(r"^[^/]+/[^/]+$")


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
    snapshot, collection = read_cluster(kubernetes, cluster, scope=scope, mode=config.mode,
                                        sync_event_id=config.sync_event_id, snapshot_time=utc_now())
    _log_what_was_not_read(context, snapshot, collection)

    metadata_store = store.get_store()
    previous = read_previous_versions(metadata_store, cluster, scope, collection)
    plan = plan_snapshot_history(snapshot, previous, collection, scope,
                                 watermark=read_watermark(metadata_store, cluster), run_id=context.run.run_id)
    write_history(metadata_store, plan)
    return dg.MaterializeResult(metadata=snapshot_metadata(scope, snapshot, collection, plan))


def _log_what_was_not_read(context: dg.AssetExecutionContext, snapshot: Snapshot, collection: Collection) -> None:
    for error in collection.errors:
        context.log.warning(f"cluster {snapshot.cluster}: {error.describe()}")
    for pod in snapshot.orphaned_pods[:20]:
        context.log.info(f"pod {pod}: its owner was not in the LIST results (deleted meanwhile, or unreadable)")
