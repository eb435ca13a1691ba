"""The c2c code location: what Dagster loads (``workspace.yaml`` points here).

ci_builds (Jenkins), argocd_sync_events (Argo CD) and deployment_snapshots (Kubernetes) feed
traceability_records, whose release events feed delivery_metrics (DORA's four keys); sensors fire
on Jenkins builds and Argo CD syncs, a schedule scans the clusters, another deletes history past
the retention (opt-in). Every resource is wired from the environment here, secrets as ``EnvVar``s.
"""

import dagster as dg

from c2c_dagster.argocd.assets import argocd_sync_events
from c2c_dagster.argocd.sensors import argocd_sync_sensor
from c2c_dagster.delivery.assets import delivery_metrics
from c2c_dagster.delivery.resources import delivery_policy_resource_from_env
from c2c_dagster.jenkins.assets import ci_builds
from c2c_dagster.jenkins.resources import jenkins_resource_from_env
from c2c_dagster.jenkins.sensors import jenkins_build_sensor
from c2c_dagster.kubernetes.assets import deployment_snapshots
from c2c_dagster.kubernetes.resources import kubernetes_resource_from_env
from c2c_dagster.kubernetes.schedules import cluster_scan_schedule
from c2c_dagster.registry.resources import registry_resource_from_env
from c2c_dagster.runs.sensors import dead_run_sensor
from c2c_dagster.store import store_resource_from_env
from c2c_dagster.store.jobs import store_retention_job, store_retention_schedule
from c2c_dagster.traceability.assets import traceability_records
from c2c_dagster.traceability.resources import image_policy_resource_from_env

defs = dg.Definitions(
    # argocd_sync_events is written by argocd_sync_sensor, not by a run: a spec in the lineage.
    assets=[ci_builds, deployment_snapshots, argocd_sync_events, traceability_records, delivery_metrics],
    sensors=[
        jenkins_build_sensor,
        argocd_sync_sensor,
        dead_run_sensor,  # a run whose process died is marked failed: its cluster's queue moves on
        # Runs traceability_records when ci_builds or a cluster's snapshot lands.
        dg.AutomationConditionSensorDefinition(
            "traceability_automation", target=dg.AssetSelection.assets(traceability_records),
            default_status=dg.DefaultSensorStatus.RUNNING,
        ),
        # Recomputes the latest days of delivery_metrics when traceability_records lands; its own
        # sensor, so a multi-day request becomes a backfill of this asset alone.
        dg.AutomationConditionSensorDefinition(
            "delivery_automation", target=dg.AssetSelection.assets(delivery_metrics),
            default_status=dg.DefaultSensorStatus.RUNNING,
        ),
    ],
    jobs=[store_retention_job],
    schedules=[cluster_scan_schedule, store_retention_schedule],
    resources={
        "store": store_resource_from_env(),  # OpenSearch when C2C_OPENSEARCH_URL is set, else embedded
        "jenkins": jenkins_resource_from_env(),
        "kubernetes": kubernetes_resource_from_env(),
        "registry": registry_resource_from_env(),
        "image_policy": image_policy_resource_from_env(),  # which images CI builds (internal) and advice
        "delivery_policy": delivery_policy_resource_from_env(),  # production, failure window, fix releases
    },
)
