"""delivery_metrics through Dagster, on both stores: a backfill of a range is one run that stores the
known truth, a re-run of one day changes nothing, the UI gets the headline and tables; automation
asks for today and the failure window's days when traceability_records lands, never older days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from c2c_dagster.definitions import defs
from c2c_dagster.delivery.assets import delivery_metrics
from c2c_dagster.delivery.resources import DeliveryPolicyResource
from c2c_dagster.kubernetes.partitions import cluster_partitions
from c2c_dagster.store import DELIVERY_METRICS, MetadataStore
from c2c_dagster_tests.delivery.history import write_history

RANGE = {"dagster/asset_partition_range_start": "2026-02-28", "dagster/asset_partition_range_end": "2026-03-05"}


def materialize(store_resource, instance: dg.DagsterInstance, **how) -> dg.ExecuteInProcessResult:
    return dg.materialize([delivery_metrics], instance=instance, resources={
        "store": store_resource, "delivery_policy": DeliveryPolicyResource(production_clusters=["prod*"])}, **how)


def stored(store: MetadataStore) -> dict[str, dict]:
    return {r["row_id"]: r for r in store.list_range(DELIVERY_METRICS.name, limit=10_000)}


def test_a_range_backfill_a_rerun_and_what_the_ui_shows(store: MetadataStore, store_resource) -> None:
    write_history(store)
    with dg.instance_for_test() as instance:
        backfill = materialize(store_resource, instance, tags=RANGE)
        assert backfill.success
        # One run, one materialization per day, each with the figures of the days the run computed.
        materializations = backfill.asset_materializations_for_node("delivery_metrics")
        assert sorted(m.partition for m in materializations) == [
            "2026-02-28", "2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"]
        materialization = materializations[0]
        rows = stored(store)
        # The known truth (test_known_truth.py derives each figure): 03-04 in every cluster.
        day = rows["all/*/*/2026-03-04"]
        assert (day["deployments"], day["failed_deployments"], day["lead_time_median_seconds"]) == (3, 1, 1800.0)
        # Rows: "all" 6 days; prod 5 (from its first scan, 03-01); prod-eu 6; per cluster and app 7
        # (shop 3 days, api 2, proxy 1, shop in prod-eu 1); per app 7 (shop 4, api 2, proxy 1).
        assert len(rows) == 31

        meta = materialization.metadata
        # 02-28 .. 03-05: 11 deployments on 6 observed days; lead times 20m 30m 1h 1h 2h 3h 24h 7d.
        assert meta["deployments"].value == 11
        assert meta["lead_time_median_hours"].value == 1.5
        assert meta["change_failure_rate"].value == 2 / 11
        assert meta["recovery_median_hours"].value == 2.5
        assert meta["dora_bands"].value == {"deployment_frequency": "elite", "lead_time": "elite",
                                            "change_failure_rate": "low", "recovery_time": "high"}
        per_app = [(r.data["cluster"], r.data["app"], r.data["deployments"]) for r in meta["per_app"].value.records]
        assert per_app == [("prod", "argocd/shop", 6), ("prod", "pay/api", 3), ("prod", "infra/proxy", 1),
                           ("prod-eu", "argocd/shop", 1)]
        failed = {r.data["deployment"]: r.data["signals"] for r in meta["failed_deployments"].value.records}
        assert failed == {"prod/shop/Deployment/web@2026-03-03T09:00:00Z": "rolled_back, sync_failed",
                          "prod/shop/Deployment/worker@2026-03-04T14:00:00Z": "fix_release, sync_degraded"}

        again = materialize(store_resource, instance, partition_key="2026-03-03")
        assert again.success
        assert stored(store) == rows
        assert again.asset_materializations_for_node("delivery_metrics")[0].metadata["rows_deleted"].value == 0


def requested(result) -> list[str]:
    return sorted(result.get_requested_partitions(dg.AssetKey("delivery_metrics")))


def test_automation_refreshes_today_and_the_failure_window_when_records_land() -> None:
    target = dg.AssetSelection.assets("delivery_metrics")
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    days = [(today - timedelta(days=1)).strftime("%Y-%m-%d"), today.strftime("%Y-%m-%d")]
    cluster = cluster_partitions.get_partition_keys()[0]
    with dg.DagsterInstance.ephemeral() as instance:
        def evaluate(cursor, at: datetime = today):
            return dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=target,
                                                     cursor=cursor, evaluation_time=at)

        first = evaluate(None)
        assert first.total_requested == 0  # years of missing history are left to a backfill
        instance.report_runless_asset_event(dg.AssetMaterialization("traceability_records", partition=cluster))
        landed = evaluate(first.cursor)
        # Today, and yesterday, whose deployments a 1-day failure window can still mark failed.
        assert requested(landed) == days
        for day in days:
            instance.report_runless_asset_event(dg.AssetMaterialization("delivery_metrics", partition=day))
        assert evaluate(landed.cursor).total_requested == 0

        # At midnight the new day's partition appears, missing: it is computed without waiting.
        tomorrow = evaluate(landed.cursor, today + timedelta(days=1))
        assert requested(tomorrow) == [(today + timedelta(days=1)).strftime("%Y-%m-%d")]
