"""What one ``deployment_snapshots`` run reads: the cluster, listed and joined through its API
client (``read_cluster``), and the open versions the snapshot is compared with
(``read_previous_versions``)."""

from __future__ import annotations

from datetime import datetime

from c2c_dagster.cluster.pager import Collection, api_page_lister
from c2c_dagster.cluster.resources import KubernetesResource
from c2c_dagster.kubernetes.history import CARRIED_FIELDS, PLAN_FIELDS, AnyVersion, read_open_versions
from c2c_dagster.kubernetes.snapshot import Scope, Snapshot, snapshot_cluster
from c2c_dagster.store import MetadataStore


def read_cluster(kubernetes: KubernetesResource, cluster: str, *, scope: Scope, mode: str, sync_event_id: str,
                 snapshot_time: datetime) -> tuple[Snapshot, Collection]:
    """``cluster`` as the API server lists it now, within ``scope``, joined into documents."""
    with kubernetes.api_client(cluster) as api:
        return snapshot_cluster(
            api_page_lister(api, kubernetes.request_timeout_seconds),
            server=api.configuration.host,
            page_size=kubernetes.page_size,
            cluster=cluster, snapshot_time=snapshot_time, mode=mode, scope=scope,
            sync_event_id=sync_event_id,
        )


def read_previous_versions(store: MetadataStore, cluster: str, scope: Scope,
                           collection: Collection) -> list[AnyVersion]:
    """The open versions of ``cluster`` that ``scope`` covers: what this snapshot is compared with."""
    # A partial snapshot compares with the open versions' joined fields too (plan_history).
    fields = PLAN_FIELDS + CARRIED_FIELDS if collection.unread else PLAN_FIELDS
    return [
        version
        for version in read_open_versions(store, cluster, scope.list_namespaces, fields=fields)
        if scope.covers(version.namespace, version.workload or "", version.argocd_app)
    ]
