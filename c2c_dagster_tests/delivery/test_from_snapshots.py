"""Delivery metrics from release events the real pipeline derived from real snapshots: workloads
running at the first scan are no deployment, a new digest is one with its commit's lead time, a
rollback fails it and restores after a measured time (real registry, control plane, kwok as the
runtime, the Jenkins emulator; the real assets)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from c2c_core.timeutil import iso_utc, parse_time
from c2c_dagster.delivery.assets import delivery_metrics
from c2c_dagster.delivery.resources import DeliveryPolicyResource
from c2c_dagster.store import DELIVERY_METRICS
from c2c_dagster_tests.traceability.pipeline import CLUSTER, Pipeline, sha


def materialize_day(pipeline: Pipeline, day: str) -> dict:
    result = dg.materialize([delivery_metrics], instance=pipeline.instance, partition_key=day,
                            resources={"store": pipeline.store_resource, "delivery_policy": DeliveryPolicyResource()})
    assert result.success
    return pipeline.store.get(DELIVERY_METRICS.name, f"cluster_app/{CLUSTER}/{pipeline.namespace}/web/{day}") or {}


def test_deployments_lead_time_and_a_rollback_from_real_snapshots(pipeline: Pipeline) -> None:
    one, two = sha("dora-1"), sha("dora-2")
    committed = iso_utc(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5))
    d1 = pipeline.push("web", "d1", "release one", revision=one)
    d2 = pipeline.push("web", "d2", "release two", revision=two)
    pipeline.ci_build(1, "web", "d1", d1, commit=one, committed_at="2026-01-01T00:00:00Z")
    pipeline.ci_build(2, "web", "d2", d2, commit=two, committed_at=committed, previous_commit=one)

    # First scan: web already runs d1. History, not a deployment.
    pipeline.deploy("web", pipeline.ref("web", d1), replicas=1)
    pipeline.wait_running("web", 1)
    pipeline.run(only_this_namespace=True)
    assert pipeline.release_events() == []

    pipeline.deploy("web", pipeline.ref("web", d2), replicas=1)
    pipeline.wait_running("web", 1)
    pipeline.run(only_this_namespace=True)
    [release] = pipeline.release_events()
    day = release["at"][:10]
    row = materialize_day(pipeline, day)
    assert (row["deployments"], row["failed_deployments"]) == (1, 0)
    # Lead time: the new pod's start (the release event's time) minus the commit time, exactly.
    assert row["lead_time_commits"] == [two]
    assert row["lead_time_seconds"] == [(parse_time(release["at"]) - parse_time(committed)).total_seconds()]

    pipeline.deploy("web", pipeline.ref("web", d1), replicas=1)  # back to d1: a rollback
    pipeline.wait_running("web", 1)
    pipeline.run(only_this_namespace=True)
    first, back = pipeline.release_events()
    assert back["rollback"] and back["at"][:10] == day, "the test assumes it does not straddle midnight UTC"
    row = materialize_day(pipeline, day)
    assert (row["deployments"], row["rollbacks"], row["failed_deployments"]) == (2, 1, 1)
    assert row["failures"][0]["signals"] == ["rolled_back"]
    assert row["recovery_seconds"] == [(parse_time(back["at"]) - parse_time(first["at"])).total_seconds()]
    # d1's commit had run since before the first scan: the rollback brings nothing new.
    assert row["lead_time_commits"] == [two]
