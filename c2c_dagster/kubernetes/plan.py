"""What one ``deployment_snapshots`` run writes, planned from what it read: which open versions
the snapshot may close, whether it proves the versions it did not rewrite (and so advances the
scan watermark), and the history plan itself (``plan_history``). Pure: no API server, no store."""

from __future__ import annotations

from collections.abc import Callable

from c2c_dagster.cluster.pager import Collection
from c2c_dagster.documents.deployments import PodVersion, ScanWatermark
from c2c_dagster.kubernetes.collect import DAEMONSETS, DEPLOYMENTS, PODS, STATEFULSETS
from c2c_dagster.kubernetes.history import AnyVersion, HistoryPlan, plan_history, scan_watermark
from c2c_dagster.kubernetes.snapshot import Scope, Snapshot

# Which LIST must have succeeded before an unobserved version may be closed as gone.
_TYPE_OF_KIND = {"Deployment": DEPLOYMENTS.key, "StatefulSet": STATEFULSETS.key, "DaemonSet": DAEMONSETS.key}


def closing_rule(scope: Scope, collection: Collection) -> Callable[[AnyVersion], bool]:
    """Whether an open version the snapshot did not see may be closed as gone: only when the LIST
    of its type succeeded whole."""

    def may_close(version: AnyVersion) -> bool:
        # An app-scoped snapshot that could not read the Applications cannot tell "gone" from
        # "no longer matched to the app": it closes nothing.
        if scope.argocd_app and "applications" not in collection.complete:
            return False
        kind = PODS.key if isinstance(version, PodVersion) else _TYPE_OF_KIND.get(version.workload_kind or "")
        return kind in collection.complete

    return may_close


def plan_snapshot_history(snapshot: Snapshot, previous: list[AnyVersion], collection: Collection, scope: Scope, *,
                          watermark: ScanWatermark | None, run_id: str) -> HistoryPlan:
    """The versions to write, refresh and close for ``snapshot`` against the ``previous`` open
    ones, and the cluster's new scan watermark when the snapshot proves every version it did not
    rewrite."""
    # Only a scan that saw every namespace and every type proves the versions it did not rewrite.
    proves_all = scope.everything and not collection.partial
    return plan_history(
        snapshot.versions, previous, snapshot_time=snapshot.snapshot_time, may_close=closing_rule(scope, collection),
        partial=collection.partial, unread=collection.unread, watermark=watermark,
        advance=scan_watermark(snapshot.cluster, snapshot.snapshot_time, run_id, snapshot.mode) if proves_all else None,
    )
