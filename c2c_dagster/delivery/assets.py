"""The ``delivery_metrics`` asset: DORA's four keys per app, cluster and day, from what actually ran.

No ``from __future__ import annotations`` here: Dagster reads the resource types from the
function signature at definition time.
"""

import dagster as dg

from c2c_dagster.delivery.partitions import delivery_partitions, refreshed_days
from c2c_dagster.delivery.preview import delivery_preview
from c2c_dagster.delivery.resources import DeliveryPolicyResource
from c2c_dagster.freshness import freshness_policy
from c2c_dagster.settings import DEFAULTS, Settings
from c2c_dagster.store import MetadataStoreResource
from c2c_dagster.traceability.assets import traceability_records
from c2c_dagster.store.settings import store_kind

# traceability_records is partitioned by cluster, this asset by day. Every day depends on every
# cluster (AllPartitionMapping): a day's figures take the releases of all production clusters.
# Which days a new traceability run changes is a matter of time, not of cluster: today's (its
# releases and the recoveries they bring) and the days whose deployments it can still mark failed
# (within the failure window). So the condition asks for the latest days only; older days stay
# as computed until a backfill recomputes them. Several days requested at once are one backfill,
# and the single-run backfill policy makes that one run.
def refresh_recent_days_when_records_land(settings: Settings = DEFAULTS) -> dg.AutomationCondition:
    return (
        dg.AutomationCondition.in_latest_time_window(lookback_delta=refreshed_days(settings))
        & (dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated()).since_last_handled()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("refresh today and the failure window's days when traceability_records (any cluster) lands")


# The defaults' condition; the code location's failure window is its settings' (build_definitions).
REFRESH_RECENT_DAYS_WHEN_RECORDS_LAND = refresh_recent_days_when_records_land()


@dg.asset(
    partitions_def=delivery_partitions,
    deps=[dg.AssetDep(traceability_records, partition_mapping=dg.AllPartitionMapping())],
    automation_condition=REFRESH_RECENT_DAYS_WHEN_RECORDS_LAND,
    # A backfill of a range is one run, computed a month at a time (delivery/refresh.py).
    backfill_policy=dg.BackfillPolicy.single_run(),
    freshness_policy=freshness_policy("delivery_metrics"),
    kinds={"pandas", store_kind()},
    group_name="delivery",
    owners=["team:platform"],
)
def delivery_metrics(
    context: dg.AssetExecutionContext,
    store: MetadataStoreResource,
    delivery_policy: DeliveryPolicyResource,
) -> dg.MaterializeResult:
    """How well the platform delivers, by DORA's four keys, from what actually ran in production
    rather than from pipeline runs or syncs: deployment frequency (a deployment is a change of the
    digest a production workload runs, not a CI run or a sync), lead time for changes (each
    commit's release time minus its commit time, at its first release), change failure rate
    (deployments followed within a window by a rollback, a fix release, or a failed or degraded
    Argo CD sync of their app) and failed deployment recovery time (to the deployment that
    restored it). Workloads already running at c2c's first scan are never counted as deployments.
    Per app, cluster and UTC day, with every commit's lead time kept so that any period's median
    and p90 are exact; ``c2c dora`` reads these rows. Upserted by deterministic ids: re-runs and
    backfills replace a day's rows, never duplicate them."""
    # Imported here: pandas is for this asset's runs only, not for every run launch of the code location.
    from c2c_dagster.delivery.refresh import refresh_days

    window = context.partition_time_window
    policy = delivery_policy.policy()
    context.log.info(f"production: {policy.production.describe()}; failure window {policy.failure_window}")
    result = refresh_days(store.get_store(), policy, window.start, window.end)
    return dg.MaterializeResult(metadata=delivery_preview(result, window.start, window.end, policy))
