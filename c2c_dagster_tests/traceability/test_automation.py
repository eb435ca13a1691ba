"""traceability_records refreshes when ci_builds (backfilled days included) or a snapshot lands, not on\na recorded Argo CD sync alone: the snapshot after it brings the pods."""

from __future__ import annotations

import dagster as dg

from c2c_dagster.definitions import defs
from c2c_dagster.kubernetes.partitions import cluster_partitions

CLUSTER = cluster_partitions.get_partition_keys()[0]
TARGET = dg.AssetSelection.assets("traceability_records")


def requested(result) -> set[str]:
    return set(result.get_requested_partitions(dg.AssetKey("traceability_records")))


def test_requested_when_an_old_ci_builds_day_or_a_snapshot_lands_and_not_otherwise() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=TARGET)
        instance.report_runless_asset_event(dg.AssetMaterialization("traceability_records", partition=CLUSTER))

        quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=TARGET, cursor=first.cursor)
        assert quiet.total_requested == 0

        # The sync sensor stored events: no run yet; the post-sync snapshot it requested brings one.
        instance.report_runless_asset_event(dg.AssetMaterialization("argocd_sync_events"))
        after_sync = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=TARGET,
                                                       cursor=quiet.cursor)
        assert after_sync.total_requested == 0

        # A backfill re-ingested a day years back: still a reason to re-join.
        instance.report_runless_asset_event(dg.AssetMaterialization("ci_builds", partition="2021-03-04"))
        after_backfill = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=TARGET,
                                                           cursor=after_sync.cursor)
        assert after_backfill.total_requested == 1
        assert requested(after_backfill) == {CLUSTER}
        instance.report_runless_asset_event(dg.AssetMaterialization("traceability_records", partition=CLUSTER))

        handled = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=TARGET,
                                                    cursor=after_backfill.cursor)
        assert handled.total_requested == 0
        instance.report_runless_asset_event(dg.AssetMaterialization("deployment_snapshots", partition=CLUSTER))
        after_scan = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=TARGET,
                                                       cursor=handled.cursor)
        assert requested(after_scan) == {CLUSTER}
