"""What the Dagster UI shows beside a ``deployment_snapshots`` materialization: what the snapshot
saw per namespace, and a link to the pod health dashboard on the cluster. Pure."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import dagster as dg

from c2c_dagster.dagster_ui import POD_HEALTH, dashboard_link, table
from c2c_dagster.documents.deployments import PodVersion, WorkloadVersion


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
