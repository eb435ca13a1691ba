"""``cluster_scan_schedule``: a full snapshot of every cluster, every 10 minutes by default.

It replaces the seed's ``*/10 * * * *`` CronJob; the cron comes from ``C2C_SCAN_CRON``.
"""

from __future__ import annotations

import os

import dagster as dg

from c2c_dagster.kubernetes.assets import deployment_snapshots
from c2c_dagster.kubernetes.partitions import CLUSTER_TAG, cluster_partitions
from c2c_dagster.kubernetes.resources import cluster_configured_by_env

DEFAULT_SCAN_CRON = "*/10 * * * *"
SCAN_CRON = os.environ.get("C2C_SCAN_CRON", DEFAULT_SCAN_CRON)


def scan_requests(tick: str, clusters: list[str]) -> list[dg.RunRequest]:
    """One scan per cluster; the run key is (tick, cluster), so a re-evaluated tick launches nothing new."""
    return [
        dg.RunRequest(
            run_key=f"scan:{cluster}:{tick}",
            partition_key=cluster,
            run_config={"ops": {"deployment_snapshots": {"config": {"mode": "scan"}}}},
            tags={"c2c/trigger": "cluster_scan_schedule", CLUSTER_TAG: cluster},
        )
        for cluster in clusters
    ]


@dg.schedule(
    cron_schedule=SCAN_CRON,
    target=deployment_snapshots,
    execution_timezone="UTC",
    # Running by default where a cluster is configured (the sensors follow the same rule).
    default_status=dg.DefaultScheduleStatus.RUNNING if cluster_configured_by_env() else dg.DefaultScheduleStatus.STOPPED,
    description="Snapshots every configured cluster (one deployment_snapshots partition each).",
)
def cluster_scan_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    tick = context.scheduled_execution_time.strftime("%Y-%m-%dT%H:%M:%SZ")
    return scan_requests(tick, cluster_partitions.get_partition_keys())
