"""``cluster_scan_schedule``: a full snapshot of every cluster, every 10 minutes by default.

It replaces the seed's ``*/10 * * * *`` CronJob; the cron comes from ``C2C_SCAN_CRON``.
"""

from __future__ import annotations

import dagster as dg

from c2c_dagster.cluster.tags import CLUSTER_TAG
from c2c_dagster.kubernetes.partitions import cluster_partitions_for
from c2c_dagster.settings import DEFAULTS, Settings

DEFAULT_SCAN_CRON = DEFAULTS.scan_cron


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


def build_cluster_scan_schedule(settings: Settings) -> dg.ScheduleDefinition:
    """The scan schedule for ``settings``: their cron, their clusters."""
    clusters = cluster_partitions_for(settings).get_partition_keys()

    def cluster_scan(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        tick = context.scheduled_execution_time.strftime("%Y-%m-%dT%H:%M:%SZ")
        return scan_requests(tick, clusters)

    return dg.schedule(
        name="cluster_scan_schedule",
        cron_schedule=settings.scan_cron,
        # By key: the code location's deployment_snapshots carries the settings' cluster partitions.
        target=dg.AssetSelection.assets("deployment_snapshots"),
        execution_timezone="UTC",
        # Running by default where a cluster is configured (the sensors follow the same rule).
        default_status=(dg.DefaultScheduleStatus.RUNNING if settings.cluster_configured
                        else dg.DefaultScheduleStatus.STOPPED),
        description="Snapshots every configured cluster (one deployment_snapshots partition each).",
    )(cluster_scan)


# The defaults' schedule (stopped); the code location's is ``build_cluster_scan_schedule(its settings)``.
cluster_scan_schedule = build_cluster_scan_schedule(DEFAULTS)
