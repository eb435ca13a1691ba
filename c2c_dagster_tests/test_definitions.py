"""The code location loads, and its asset graph is the lineage c2c answers along: commit -> build
(ci_builds) -> digest, Argo CD sync (argocd_sync_events) -> pods (deployment_snapshots) all feed
traceability_records, each with a freshness policy; the sensor that writes the sync events
reports them on the asset the graph shows; and loading it leaves pandas to the runs that use it."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg

from c2c_dagster.argocd.assets import argocd_sync_events
from c2c_dagster.definitions import defs

SYNC_EVENTS = dg.AssetKey("argocd_sync_events")


def test_the_sync_events_are_upstream_of_traceability_records_beside_builds_and_snapshots() -> None:
    graph = defs.resolve_asset_graph()
    records = graph.get(dg.AssetKey("traceability_records"))
    assert {key.to_user_string() for key in records.parent_keys} == {
        "ci_builds", "argocd_sync_events", "deployment_snapshots"}
    assert dg.AssetKey("delivery_metrics") in records.child_keys


def test_the_sync_events_carry_a_freshness_policy_and_are_written_by_the_sensor_not_a_run() -> None:
    node = defs.resolve_asset_graph().get(SYNC_EVENTS)
    assert isinstance(node.freshness_policy, dg.FreshnessPolicy)
    assert node.freshness_policy == argocd_sync_events.freshness_policy
    # No run can materialize it (the sensor reports what it stored): a job selecting it has nothing to do.
    assert not node.is_materializable and node.is_external
    assert defs.resolve_sensor_def("argocd_sync_sensor") is not None
    assert node.group_name == "argocd" and node.owners == ["team:platform"]


def test_loading_the_code_location_does_not_import_pandas() -> None:
    # Every run's process loads the code location before its first step; pandas (1-2 s of that on
    # 2 busy cores) is for delivery_metrics' runs only, not the post-sync runs that bound sync to
    # record (benchmarks/sync_to_record_latency.py).
    loaded = subprocess.run(
        [sys.executable, "-W", "ignore", "-c",
         "import sys, c2c_dagster.definitions; print(sorted({'pandas', 'numpy'} & set(sys.modules)))"],
        capture_output=True, text=True, check=True,
    )
    assert loaded.stdout.strip() == "[]"
