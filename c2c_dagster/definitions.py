"""The c2c code location: what Dagster loads (``workspace.yaml`` points here).

ci_builds (Jenkins), argocd_sync_events (Argo CD) and deployment_snapshots (Kubernetes) feed
traceability_records, whose release events feed delivery_metrics (DORA's four keys); sensors fire
on Jenkins builds and Argo CD syncs, a schedule scans the clusters, another deletes history past
the retention (opt-in). ``build_definitions(settings)`` wires all of it from one ``Settings``
(partitions, freshness, cron, sensor intervals and default statuses, resources with secrets as
``EnvVar``s); ``defs`` is that for the process's environment, read here and nowhere at import.
"""

import dagster as dg

from c2c_dagster.argocd.assets import argocd_sync_events
from c2c_dagster.argocd.sensors import build_argocd_sync_sensor
from c2c_dagster.cluster.resources import kubernetes_resource_from_env
from c2c_dagster.delivery.assets import delivery_metrics, refresh_recent_days_when_records_land
from c2c_dagster.delivery.partitions import delivery_partitions_for
from c2c_dagster.delivery.resources import delivery_policy_resource_from_env
from c2c_dagster.freshness import freshness_policy
from c2c_dagster.jenkins.assets import ci_builds
from c2c_dagster.jenkins.partitions import ci_build_partitions_for
from c2c_dagster.jenkins.resources import jenkins_resource_from_env
from c2c_dagster.jenkins.sensors import build_jenkins_build_sensor
from c2c_dagster.kubernetes.assets import deployment_snapshots
from c2c_dagster.kubernetes.partitions import cluster_partitions_for
from c2c_dagster.kubernetes.schedules import build_cluster_scan_schedule
from c2c_dagster.registry.resources import registry_resource_from_env
from c2c_dagster.runs.sensors import build_dead_run_sensor
from c2c_dagster.settings import Settings, load_settings
from c2c_dagster.store import store_resource_from_env
from c2c_dagster.store.retention_job import build_store_retention_schedule, store_retention_job
from c2c_dagster.store.settings import STORE_KINDS, StoreSettings, store_kind
from c2c_dagster.traceability.assets import traceability_records
from c2c_dagster.traceability.resources import image_policy_resource_from_env


def _configured(asset: dg.AssetsDefinition | dg.AssetSpec, settings: Settings, **attributes: object):
    """``asset`` with the settings' freshness windows and store kind, and ``attributes`` (partitions,
    automation)."""
    kind = store_kind(StoreSettings.from_settings(settings))

    def configure(spec: dg.AssetSpec) -> dg.AssetSpec:
        kinds = {*(spec.kinds - STORE_KINDS), kind} if spec.kinds & STORE_KINDS else spec.kinds
        return spec.replace_attributes(
            freshness_policy=freshness_policy(spec.key.to_user_string(), settings), kinds=kinds, **attributes)
    if isinstance(asset, dg.AssetSpec):
        return configure(asset)
    return asset.map_asset_specs(configure)


def build_definitions(settings: Settings) -> dg.Definitions:
    """The code location for ``settings``; a test builds one for any settings, no module reloaded."""
    clusters = cluster_partitions_for(settings)
    return dg.Definitions(
        # argocd_sync_events is written by argocd_sync_sensor, not by a run: a spec in the lineage.
        assets=[
            _configured(ci_builds, settings, partitions_def=ci_build_partitions_for(settings)),
            _configured(deployment_snapshots, settings, partitions_def=clusters),
            _configured(argocd_sync_events, settings),
            _configured(traceability_records, settings, partitions_def=clusters),
            _configured(delivery_metrics, settings, partitions_def=delivery_partitions_for(settings),
                        automation_condition=refresh_recent_days_when_records_land(settings)),
        ],
        sensors=[
            build_jenkins_build_sensor(settings),
            build_argocd_sync_sensor(settings),
            build_dead_run_sensor(settings),  # a run whose process died is marked failed: its cluster's queue moves on
            # Runs traceability_records when ci_builds or a cluster's snapshot lands.
            dg.AutomationConditionSensorDefinition(
                "traceability_automation", target=dg.AssetSelection.assets(traceability_records),
                default_status=dg.DefaultSensorStatus.RUNNING,
                minimum_interval_seconds=settings.automation_interval_seconds,
            ),
            # Recomputes the latest days of delivery_metrics when traceability_records lands; its own
            # sensor, so a multi-day request becomes a backfill of this asset alone.
            dg.AutomationConditionSensorDefinition(
                "delivery_automation", target=dg.AssetSelection.assets(delivery_metrics),
                default_status=dg.DefaultSensorStatus.RUNNING,
                minimum_interval_seconds=settings.automation_interval_seconds,
            ),
        ],
        jobs=[store_retention_job],
        schedules=[build_cluster_scan_schedule(settings), build_store_retention_schedule(settings)],
        resources={
            "store": store_resource_from_env(settings),  # OpenSearch when C2C_OPENSEARCH_URL is set, else embedded
            "jenkins": jenkins_resource_from_env(settings),
            "kubernetes": kubernetes_resource_from_env(settings),
            "registry": registry_resource_from_env(settings),
            "image_policy": image_policy_resource_from_env(settings),  # which images CI builds (internal) and advice
            "delivery_policy": delivery_policy_resource_from_env(settings),  # production, failure window, fix releases
        },
    )


defs = build_definitions(load_settings())
