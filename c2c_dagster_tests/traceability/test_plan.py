"""What a traceability_records run writes, planned from what it read, run after run (pure): the
release time survives restarts, a digest that stops is kept as history, every digest change is a
release event (a return to an earlier digest a rollback), dated now when its pods give no time."""

from __future__ import annotations

import copy
from dataclasses import replace

from c2c_dagster.documents.deployments import ScanWatermark
from c2c_dagster.documents.traceability import RecordPod, TraceabilityRecord
from c2c_dagster.registry.resources import ImageFacts
from c2c_dagster.traceability.correlate import BuildIndex, RunningContainer, RunningPod
from c2c_dagster.traceability.image_policy import ImagePolicy
from c2c_dagster.traceability.plan import ClusterView, RecordsPlan, plan_records, release_events_between
from c2c_dagster_tests.traceability.test_correlate import REPO, build, d

POLICY = ImagePolicy()
A, B = d("a"), d("b")
KEY = {"cluster": "prod", "namespace": "shop", "workload_kind": "Deployment", "workload_name": "web",
       "container_name": "web"}


def web(digest: str, *, started: str | None, pods: int = 2) -> RunningContainer:
    return RunningContainer("prod", "shop", "Deployment", "web", "web", f"{REPO}:v1",
                            [RunningPod(f"web-{digest[7:11]}-{i}", "node-0", digest, started) for i in range(pods)])


class Store:
    """The cluster's records as the store keeps them between runs."""

    def __init__(self) -> None:
        self.records: dict[str, TraceabilityRecord] = {}

    def run(self, containers: list[RunningContainer], now: str) -> RecordsPlan:
        index = BuildIndex([build(1, A), build(2, B)])
        plan = plan_records(ClusterView(containers, dict(self.records), index), POLICY, now=now)
        # As the asset writes: the changed records only (the others are left as stored).
        self.records.update({r.record_id: copy.deepcopy(r) for r in plan.changed})
        for stopped in plan.stopped:
            self.records[stopped["record_id"]].running = False
            self.records[stopped["record_id"]].last_seen = stopped["last_seen"]
        return plan


def test_runs_keep_the_release_time_and_record_releases_stops_and_a_rollback() -> None:
    store = Store()
    first = store.run([web(A, started="2026-03-01T10:00:00Z")], now="2026-03-01T10:05:00Z")
    (record,) = first.records
    assert (record.image_digest, record.first_seen, record.running, record.last_seen) == (
        A, "2026-03-01T10:00:00Z", True, "2026-03-01T10:05:00Z")
    assert first.events == [] and first.stopped == []  # history starts here

    # The pods restarted: newer start times, same digest, same release.
    restarted = store.run([web(A, started="2026-03-02T08:00:00Z")], now="2026-03-02T08:05:00Z")
    assert restarted.records[0].first_seen == "2026-03-01T10:00:00Z" and restarted.events == []

    # B replaces A: A's record stops (kept as history), one release event names both builds.
    release = store.run([web(B, started="2026-03-03T09:00:00Z")], now="2026-03-03T09:05:00Z")
    assert release.stopped == [{"record_id": f"prod/shop/Deployment/web/web/{A}", "running": False,
                                "updated_at": "2026-03-03T09:05:00Z", "last_seen": "2026-03-02T08:05:00Z"}]
    (event,) = release.events
    assert (event.from_digest, event.to_digest, event.from_build_id, event.to_build_id, event.rollback, event.at) == (
        A, B, "shop/web/main-1", "shop/web/main-2", False, "2026-03-03T09:00:00Z")

    # Back to A: a rollback, released again at its new start (not its first release time).
    rollback = store.run([web(A, started="2026-03-04T12:00:00Z")], now="2026-03-04T12:05:00Z")
    (event,) = rollback.events
    assert (event.to_digest, event.rollback, event.at) == (A, True, "2026-03-04T12:00:00Z")
    assert rollback.records[0].first_seen == "2026-03-04T12:00:00Z"


def test_a_release_whose_pods_give_no_start_time_is_dated_now() -> None:
    """Before the plan was its own function, the asset's release step shadowed its ``now``
    parameter with a dict and then used it as this default: the run raised (ValueError: Invalid
    isoformat string: "defaultdict(...)")."""
    before = TraceabilityRecord(record_id=f"prod/shop/Deployment/web/web/{A}", **KEY, image_digest=A, running=True,
                                first_seen="2026-03-01T10:00:00Z", pods=[RecordPod("web-a-0")])
    after = TraceabilityRecord(record_id=f"prod/shop/Deployment/web/web/{B}", **KEY, image_digest=B, first_seen=None,
                               pods=[RecordPod("web-b-0")])
    (event,) = release_events_between({before.record_id: before}, [after], BuildIndex([build(2, B)]), {},
                                      "2026-03-05T00:00:00Z")
    assert (event.from_digest, event.to_digest, event.to_build_id, event.at) == (A, B, "shop/web/main-2",
                                                                              "2026-03-05T00:00:00Z")
    # Through the whole plan too: pods without a start time and no earlier version.
    store = Store()
    store.records[before.record_id] = before
    plan = store.run([web(B, started=None)], now="2026-03-05T00:00:00Z")
    assert [e.at for e in plan.events] == ["2026-03-05T00:00:00Z"]


def test_what_the_registry_said_ties_an_unbuilt_digest_to_a_build_by_its_revision_label() -> None:
    commit = "c" * 40
    index = BuildIndex([build(3, d("built-elsewhere"), commit=commit)])
    pushed = d("re-pushed")
    view = ClusterView([web(pushed, started="2026-03-06T00:00:00Z", pods=1)], {}, index,
                       facts={pushed: ImageFacts(revision=commit)}, images={pushed: f"{REPO}:v1"})
    (record,) = plan_records(view, POLICY, now="2026-03-06T00:05:00Z").records
    assert (record.build_id, record.match_key, record.image_revision) == ("shop/web/main-3", "commit_id", commit)
    assert "untraceable" in record.flags  # the digest itself is still no build's


def test_an_unchanged_run_rewrites_no_record_and_a_stopped_one_keeps_its_exact_last_seen() -> None:
    store = Store()
    first = store.run([web(A, started="2026-03-01T10:00:00Z")], now="2026-03-01T10:05:00Z")
    assert len(first.changed) == 1
    for hour in (11, 12):
        again = store.run([web(A, started="2026-03-01T10:00:00Z")], now=f"2026-03-01T{hour}:05:00Z")
        assert (again.changed, again.unchanged, again.stopped, again.events) == ([], 1, [], [])
    # Stored as first written; read against the 12:05 run's watermark it was last seen then.
    (stored,) = store.records.values()
    assert (stored.last_seen, stored.updated_at) == ("2026-03-01T10:05:00Z", "2026-03-01T10:05:00Z")
    watermark = ScanWatermark(watermark_id="prod/traceability-metadata", cluster="prod",
                              scanned_at="2026-03-01T12:05:00Z")
    # A change of what the record says (one more pod) rewrites it.
    scaled = store.run([web(A, started="2026-03-01T10:00:00Z", pods=3)], now="2026-03-01T13:05:00Z")
    assert [r.record_id for r in scaled.changed] == [stored.record_id]
    # B replaces A: A's record stops with the last time a run saw it running.
    plan = plan_records(ClusterView([web(B, started="2026-03-01T14:00:00Z")], dict(store.records),
                                    BuildIndex([build(1, A), build(2, B)])), POLICY, now="2026-03-01T14:05:00Z",
                        watermark=replace(watermark, scanned_at="2026-03-01T13:35:00Z"))
    assert [s["last_seen"] for s in plan.stopped] == ["2026-03-01T13:35:00Z"]
