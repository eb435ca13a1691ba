"""What the Dagster UI shows beside a ``deployment_snapshots`` materialization: the run's figures
(scope, what was listed and written, what could not be read), what the snapshot saw per namespace,
and a link to the pod health dashboard on the cluster. Pure."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import dagster as dg

from c2c_dagster.cluster.pager import Collection
from c2c_dagster.dagster_ui import POD_HEALTH, dashboard_link, table
from c2c_dagster.documents.deployments import PodVersion, WorkloadVersion
from c2c_dagster.kubernetes.history import HistoryPlan
from c2c_dagster.kubernetes.snapshot import Scope, Snapshot


def snapshot_preview(cluster: str, pods: Sequence[PodVersion],
                     workloads: Sequence[WorkloadVersion]) -> dict[str, dg.MetadataValue]:
    """For ``deployment_snapshots``: what the snapshot saw, per namespace."""
    per_namespace: dict[str, Counter[str]] = defaultdict(Counter)
    for workload in workloads:
        per_namespace[workload.namespace or ""]["workloads"] += 1
    for pod in pods:
        counts = per_namespace[pod.namespace or ""]
        counts["pods"] += 1
        counts["not_ready"] += not pod.ready
        counts["restarts"] += sum(c.restartCount or 0 for c in pod.containers)
    return {
        "per_namespace": table(
            [("namespace", "string"), ("workloads", "int"), ("pods", "int"), ("not_ready", "int"), ("restarts", "int")],
            ({"namespace": ns, "workloads": c["workloads"], "pods": c["pods"], "not_ready": c["not_ready"],
              "restarts": c["restarts"]} for ns, c in sorted(per_namespace.items()))),
        **dashboard_link("dashboard", POD_HEALTH, cluster=cluster),
    }


def snapshot_metadata(scope: Scope, snapshot: Snapshot, collection: Collection,
                      plan: HistoryPlan) -> dict[str, Any]:
    """Everything a ``deployment_snapshots`` materialization carries."""
    unknown = sorted({
        f"{pod.namespace}/{pod.pod_name}/{c.name}" for pod in snapshot.pods for c in pod.containers if not c.image_digest
    })
    return {
        "cluster": snapshot.cluster,
        "mode": snapshot.mode,
        "scope": "cluster" if scope.everything else dg.MetadataValue.json(
            {"namespaces": sorted(scope.namespaces), "workloads": sorted(scope.workloads),
             "argocd_app": scope.argocd_app}
        ),
        "workloads": len(snapshot.workloads),
        "pods": len(snapshot.pods),
        "containers": len(snapshot.containers()),
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
        **snapshot_preview(snapshot.cluster, snapshot.pods, snapshot.workloads),
    }
