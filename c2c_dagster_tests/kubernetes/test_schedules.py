"""cluster_scan_schedule requests one deployment_snapshots scan per cluster partition every 10
minutes (cron from C2C_SCAN_CRON), with run keys from tick time and cluster; the asset and schedule
load together in a Definitions, and the partitions follow the configured clusters."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from c2c_dagster.cluster.resources import KubeClusterConfig, KubernetesResource
from c2c_dagster.definitions import build_definitions
from c2c_dagster.kubernetes.assets import deployment_snapshots
from c2c_dagster.kubernetes.partitions import cluster_partitions
from c2c_dagster.kubernetes.schedules import DEFAULT_SCAN_CRON, cluster_scan_schedule, scan_requests
from c2c_dagster.settings import Settings
from c2c_dagster.store import MetadataStoreResource
from c2c_dagster.store.settings import store_kind


def test_one_scan_per_cluster_with_deterministic_run_keys() -> None:
    tick = datetime(2026, 3, 1, 12, 10, tzinfo=UTC)
    requests = cluster_scan_schedule(dg.build_schedule_context(scheduled_execution_time=tick))
    assert cluster_scan_schedule.cron_schedule == DEFAULT_SCAN_CRON == "*/10 * * * *"
    clusters = cluster_partitions.get_partition_keys()
    assert [r.partition_key for r in requests] == clusters
    request = requests[0]
    assert request.run_key == f"scan:{clusters[0]}:2026-03-01T12:10:00Z"
    assert request.run_config == {"ops": {"deployment_snapshots": {"config": {"mode": "scan"}}}}
    assert [r.run_key for r in scan_requests("T", ["a", "b"])] == ["scan:a:T", "scan:b:T"]


def test_cron_and_cluster_partitions_come_from_the_settings(tmp_path) -> None:
    clusters = tmp_path / "clusters.yaml"
    clusters.write_text("- {name: prod-eu}\n- {name: prod-us, context: us}\n")
    settings = Settings.from_env({"C2C_SCAN_CRON": "*/5 * * * *", "C2C_K8S_CLUSTERS_FILE": str(clusters)})
    defs = build_definitions(settings)
    schedule = defs.resolve_schedule_def("cluster_scan_schedule")
    assert schedule.cron_schedule == "*/5 * * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING  # a cluster is configured
    assert defs.resolve_assets_def("deployment_snapshots").partitions_def.get_partition_keys() == ["prod-eu", "prod-us"]
    tick = datetime(2026, 3, 1, 12, 5, tzinfo=UTC)
    requests = schedule(dg.build_schedule_context(scheduled_execution_time=tick))
    assert [r.partition_key for r in requests] == ["prod-eu", "prod-us"]


def test_asset_and_schedule_load_together() -> None:
    defs = dg.Definitions(
        assets=[deployment_snapshots],
        schedules=[cluster_scan_schedule],
        resources={"kubernetes": KubernetesResource(
                       clusters=[KubeClusterConfig(name=n) for n in cluster_partitions.get_partition_keys()]),
                   "store": MetadataStoreResource(embedded_path="/tmp/unused.sqlite")},
    )
    job = defs.resolve_job_def(cluster_scan_schedule.job_name)
    assert job is not None
    spec = next(iter(deployment_snapshots.specs))
    assert spec.group_name == "deployments" and set(spec.kinds) == {"kubernetes", store_kind()}
    assert deployment_snapshots.partitions_def is cluster_partitions
