"""The exporter's reads give the same groups on the embedded store and the real OpenSearch node; its
families say exactly what a known state holds (zeros included, bounded labels, kube-state-metrics'
image_id verbatim); a store outage exports c2c_store_up 0 and nothing else; readings are reused
within the refresh interval. (The whole path on real data, scraped by a real Prometheus, is in
test_dashboard_queries.py.)"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from c2c_dagster.documents.deployments import PodVersion, WorkloadVersion
from c2c_dagster.documents.traceability import TraceabilityRecord
from c2c_dagster.observability.exporter import StoreCollector, read_state, wsgi_app
from c2c_dagster.observability.families import StoreState, families
from c2c_dagster.store.base import Group
from c2c_dagster.store import StoreUnavailableError

pytestmark = pytest.mark.opensearch

IMAGE_ID = "registry.example.com/shop/web@sha256:" + "1" * 64


def release(event_id: str, workload: str, at: str, *, rollback: bool, cluster: str | None = "prod") -> dict:
    return {"event_id": event_id, "cluster": cluster, "namespace": "shop", "workload_kind": "Deployment",
            "workload_name": workload, "container_name": "app", "at": at, "rollback": rollback}


def test_grouped_counts_are_the_same_on_both_stores(store) -> None:
    store.upsert("release-events", [
        release("1", "web", "2026-03-01T10:00:00Z", rollback=False),
        release("2", "web", "2026-03-02T10:00:00Z", rollback=False),
        release("3", "web", "2026-03-03T10:00:00Z", rollback=True),
        release("4", "api", "2026-03-01T12:00:00Z", rollback=False),
        release("5", "api", "2026-03-04T12:00:00Z", rollback=False, cluster=None),
    ])
    groups = store.group_stats("release-events", ["cluster", "workload_name", "rollback"], newest=["at"])
    def ordered(rows: list) -> list:
        return sorted(rows, key=lambda row: tuple(v or "" for v in row[0]))

    as_tuples = ordered([(g.key, g.count, g.latest["at"]) for g in groups])
    assert as_tuples == ordered([
        (("prod", "web", "false"), 2, 1772445600.0),  # 2026-03-02T10:00:00Z
        (("prod", "web", "true"), 1, 1772532000.0),
        (("prod", "api", "false"), 1, 1772366400.0),
        ((None, "api", "false"), 1, 1772625600.0),  # no cluster: a bucket of its own, not dropped
    ])
    assert [g.count for g in store.group_stats("release-events", ["workload_name"], where={"rollback": True})] == [1]
    assert sorted(d["event_id"] for d in store.scan("release-events", {"workload_name": "api"})) == ["4", "5"]
    assert store.group_stats("argocd-sync-events", ["app"]) == []


def test_a_store_with_no_documents_reads_as_empty(store) -> None:
    state = read_state(store)
    assert (state.pods, state.records, state.releases, state.builds, state.builds_without_digest) == ([], [], [], [], 0)


def _exported(state: StoreState) -> dict[str, list[tuple[dict[str, str], float]]]:
    class Fixed:
        def collect(self) -> Any:
            return families(state)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed())
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def _pod(name: str, containers: list[dict], **extra: Any) -> PodVersion:
    return PodVersion.from_document({"doc_type": "pod", "cluster": "prod", "namespace": "shop", "workload_kind": "Deployment",
            "workload_name": "web", "pod_name": name, "nodeName": "node-1", "phase": "Running", "ready": True,
            "last_seen": "2026-03-05T10:00:00Z", "containers": containers, **extra})


def test_the_families_of_a_known_state() -> None:
    record = {"cluster": "prod", "namespace": "shop", "workload_kind": "Deployment", "workload_name": "web",
              "container_name": "app", "image_digest": "sha256:" + "1" * 64, "image_tag": "v2", "build_id": "web-42",
              "build_status": "SUCCESS", "commit_ids": ["c0ffee", "bead"], "match_key": "image_digest",
              "argocd_app": "argocd/web", "flags": ["tag_moved"], "first_seen": "2026-03-05T09:00:00Z",
              "pods": [{"name": "web-1"}, {"name": "web-2"}]}
    hand = {**record, "workload_name": "tool", "image_digest": "sha256:" + "2" * 64, "build_id": None,
            "commit_ids": [], "flags": ["untraceable", "tag_moved"], "pods": [{"name": "tool-1"}]}
    running = {"type": "regular", "name": "app", "state": "running", "restartCount": 3, "imageID": IMAGE_ID,
               "image_digest": "sha256:" + "1" * 64, "image": "registry.example.com/shop/web:v2"}
    init_done = {"type": "init", "name": "migrate", "state": "terminated", "reason": "Completed", "restartCount": 0}
    waiting = {"type": "regular", "name": "app", "state": "waiting", "reason": "CrashLoopBackOff", "restartCount": 7}
    # A container still pulling its image: no digest yet, counted apart, never an image that runs.
    pulling = {**record, "workload_name": "batch", "image_digest": None, "build_id": None, "flags": [],
               "pods": [{"name": "batch-1"}, {"name": "batch-2"}]}
    state = StoreState(
        records=TraceabilityRecord.from_documents([record, hand, pulling]),
        pods=[_pod("web-1", [init_done, running]), _pod("web-2", [waiting], ready=False, partial=True)],
        workloads=[WorkloadVersion.from_document({
            "doc_type": "workload", "cluster": "prod", "namespace": "shop", "workload_kind": "Deployment",
            "workload_name": "web", "replicas": {"desired": 2, "ready": 1, "available": 1, "updated": 2, "current": 2},
            "rollout_complete": False, "last_seen": "2026-03-05T10:05:00Z"})],
        releases=[Group(("prod", "shop", "Deployment", "web", "true"), 1, {"at": 1772700000.0})],
        syncs=[Group(("prod", "argocd", "web", "Succeeded"), 3, {"finished_at": 1.0}),
               Group((None, "argocd", "far", "Failed"), 1, {"finished_at": 2.0})],
        sync_durations=[("prod", "argocd/web", 20.0), ("prod", "argocd/web", 100.0), ("prod", "argocd/web", 4000.0)],
        builds=[Group(("shop/web", "SUCCESS"), 5, {"timestamp": 3.0})],
        builds_without_digest=2,
        open_problems=[Group(("jenkins", "job_unreadable"), 1)],
        snapshot_durations={"prod": 4.5},
    )
    out = _exported(state)
    flagged = {s[0]["flag"]: s[1] for s in out["c2c_flagged_images"]}
    assert flagged["untraceable"] == 1 and flagged["tag_moved"] == 2 and flagged["digest_mismatch"] == 0
    assert out["c2c_running_images"] == [({"cluster": "prod"}, 2.0)]
    assert out["c2c_pending_containers"] == [({"cluster": "prod"}, 2.0)]
    assert "batch" not in {s[0]["workload"] for s in out["c2c_workload_image_pods"]}
    pods_of = {s[0]["workload"]: s for s in out["c2c_workload_image_pods"]}
    assert pods_of["web"][1] == 2 and pods_of["web"][0]["commit"] == "c0ffee" and pods_of["web"][0]["traceable"] == "true"
    assert pods_of["tool"][0]["traceable"] == "false" and pods_of["tool"][0]["build_id"] == ""
    # One info series per running container, with the runtime's imageID as kube-state-metrics has it.
    [(info, _)] = out["c2c_container_info"]
    assert (info["pod"], info["image_id"], info["build_id"], info["commit"]) == ("web-1", IMAGE_ID, "web-42", "c0ffee")
    assert sorted((s[0]["pod"], s[0]["container"], s[1]) for s in out["c2c_container_restarts_total"]) == [
        ("web-1", "app", 3), ("web-1", "migrate", 0), ("web-2", "app", 7)]
    assert sorted((s[0]["container"], s[0]["state"], s[0]["reason"]) for s in out["c2c_container_state"]) == [
        ("app", "running", ""), ("app", "waiting", "CrashLoopBackOff")]
    assert {s[0]["state"]: s[1] for s in out["c2c_workload_replicas"]}["available"] == 1
    assert out["c2c_workload_rollout_complete"] == [(
        {"cluster": "prod", "namespace": "shop", "workload_kind": "Deployment", "workload": "web"}, 0.0)]
    assert out["c2c_snapshot_timestamp_seconds"] == [({"cluster": "prod"}, 1772705100.0)]  # the newest last_seen
    assert out["c2c_snapshot_duration_seconds"] == [({"cluster": "prod"}, 4.5)]
    assert out["c2c_releases_total"][0][1] == 1 and out["c2c_releases_total"][0][0]["rollback"] == "true"
    syncs = {(s[0]["cluster"], s[0]["app"], s[0]["phase"]): s[1] for s in out["c2c_argocd_syncs_total"]}
    assert syncs == {("prod", "argocd/web", "Succeeded"): 3, ("", "argocd/far", "Failed"): 1}
    buckets = {s[0]["le"]: s[1] for s in out["c2c_argocd_sync_duration_seconds_bucket"]}
    assert (buckets["15.0"], buckets["30.0"], buckets["120.0"], buckets["3600.0"], buckets["+Inf"]) == (0, 1, 2, 2, 3)
    assert out["c2c_argocd_sync_duration_seconds_sum"][0][1] == 4120
    problems = {s[0]["problem"]: s[1] for s in out["c2c_ingest_problem_documents"]}
    assert problems == {"digest_missing": 2, "unknown_destination": 1, "partial_snapshot": 1, "job_unreadable": 1}
    # Bounded labels: nothing per event, per build or per sync.
    assert all("event_id" not in labels and "build_number" not in labels for series in out.values()
               for labels, _ in series)


def test_an_unreachable_store_exports_only_that_it_is_down() -> None:
    def unreachable() -> Any:
        raise StoreUnavailableError("OpenSearch at http://127.0.0.1:1 unreachable")

    collector = StoreCollector(unreachable, refresh_seconds=0)
    names = {m.name: m for m in collector.collect()}
    assert set(names) == {"c2c_store_up", "c2c_exporter_read_duration_seconds"}
    assert names["c2c_store_up"].samples[0].value == 0


def test_readings_are_reused_within_the_refresh_interval(tmp_path) -> None:
    from c2c_dagster.store import EmbeddedStore

    opened: list[int] = []

    def open_store() -> Any:
        opened.append(1)
        return EmbeddedStore(tmp_path / "store.sqlite")

    collector = StoreCollector(open_store, refresh_seconds=3600)
    first = [m.name for m in collector.collect()]
    second = [m.name for m in collector.collect()]
    assert first == second and len(opened) == 1


def test_the_endpoint_serves_metrics_and_a_cheap_health_answer(tmp_path) -> None:
    from wsgiref.simple_server import make_server
    import threading

    from c2c_dagster.store import EmbeddedStore

    collector = StoreCollector(lambda: EmbeddedStore(tmp_path / "store.sqlite"))
    with make_server("127.0.0.1", 0, wsgi_app(collector)) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        assert requests.get(f"{base}/healthz", timeout=5).text == "ok\n"
        body = requests.get(f"{base}/metrics", timeout=5).text
        server.shutdown()
    assert "c2c_store_up 1.0" in body


def test_the_dora_gauges_are_what_c2c_dora_answers(store, store_resource) -> None:
    """The delivery tests' known history through the real delivery_metrics asset: each scope's
    gauges are c2c dora's figures for that scope and period (the known truth of test_asset.py)."""
    from datetime import date

    import dagster as dg

    from c2c_dagster.delivery.assets import delivery_metrics
    from c2c_dagster.delivery.report import DoraQuery, dora_report
    from c2c_dagster.delivery.resources import DeliveryPolicyResource
    from c2c_dagster.delivery.summary import Period
    from c2c_dagster.observability.dora import dora_families, read_summaries
    from c2c_dagster_tests.delivery.history import write_history

    write_history(store)
    with dg.instance_for_test() as instance:
        assert dg.materialize([delivery_metrics], instance=instance, resources={
            "store": store_resource, "delivery_policy": DeliveryPolicyResource(production_clusters=["prod*"])},
            tags={"dagster/asset_partition_range_start": "2026-02-28",
                  "dagster/asset_partition_range_end": "2026-03-05"}).success
    period = Period(date(2026, 2, 28), date(2026, 3, 5))
    summaries = read_summaries(store, period)

    class Fixed:
        def collect(self) -> Any:
            return dora_families(summaries, period.days)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed())
    out: dict[str, dict[tuple[str, ...], float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            labels = sample.labels
            key = (labels["cluster"], labels["app"], *(labels[k] for k in ("quantile", "key") if k in labels))
            out.setdefault(sample.name, {})[key] = sample.value
    # The known truth (test_asset.py): 11 deployments on 6 observed days, lead times 20m 30m 1h 1h
    # 2h 3h 24h 7d, 2 of 11 failed, recoveries with a median of 2.5 h.
    assert out["c2c_dora_deployments"][("*", "*")] == 11
    assert out["c2c_dora_deployments_per_day"][("*", "*")] == pytest.approx(11 / 6)
    assert out["c2c_dora_lead_time_seconds"][("*", "*", "0.5")] == 5400
    assert out["c2c_dora_change_failure_rate"][("*", "*")] == pytest.approx(2 / 11)
    assert out["c2c_dora_recovery_time_seconds"][("*", "*", "0.5")] == 9000
    # The one sync that failed before applying anything (03-04 17:00), apart from the rate.
    assert out["c2c_dora_failed_sync_attempts"][("*", "*")] == out["c2c_dora_failed_sync_attempts"][("prod", "argocd/shop")] == 1
    assert {labels[2]: v for labels, v in out["c2c_dora_band"].items() if labels[:2] == ("*", "*")} == {
        "deployment_frequency": 4, "lead_time": 4, "change_failure_rate": 1, "recovery_time": 3}
    # Every scope's series is c2c dora's answer for it.
    scopes = {(c, a) for c, a in out["c2c_dora_deployments"]}
    assert {("*", "*"), ("prod", "*"), ("prod-eu", "*"), ("*", "argocd/shop"), ("prod", "argocd/shop")} <= scopes
    for cluster, app in scopes:
        report = dora_report(store, DoraQuery(app=None if app == "*" else app, cluster=None if cluster == "*" else cluster),
                             period)
        assert report is not None, (cluster, app)
        frequency, lead, failure = report["deployment_frequency"], report["lead_time"], report["change_failure_rate"]
        assert out["c2c_dora_deployments"][(cluster, app)] == frequency["deployments"]
        assert out["c2c_dora_deployments_per_day"].get((cluster, app)) == frequency["per_day"]
        assert out["c2c_dora_failed_deployments"][(cluster, app)] == failure["failed_deployments"]
        assert out["c2c_dora_failed_sync_attempts"][(cluster, app)] == failure["failed_sync_attempts"]
        assert out["c2c_dora_change_failure_rate"].get((cluster, app)) == failure["rate"]
        assert out["c2c_dora_lead_time_seconds"].get((cluster, app, "0.9")) == lead["p90_seconds"]
        assert out["c2c_dora_recovery_time_seconds"].get((cluster, app, "0.5")) == report["recovery_time"]["median_seconds"]


def test_provenance_series_per_state_zeros_included() -> None:
    base = {"cluster": "prod", "namespace": "shop", "workload_kind": "Deployment", "container_name": "app",
            "pods": [{"name": "p"}], "flags": []}
    records = [{**base, "workload_name": "web", "image_digest": "sha256:" + "1" * 64, "provenance": "verified",
                "image_class": "internal"},
               {**base, "workload_name": "api", "image_digest": "sha256:" + "2" * 64, "provenance": "invalid",
                "provenance_reason": "commit mismatch", "image_class": "internal"},
               {**base, "workload_name": "nginx", "image_digest": "sha256:" + "3" * 64, "provenance": "unsigned",
                "image_class": "external"},
               {**base, "workload_name": "old", "image_digest": "sha256:" + "4" * 64}]
    out = _exported(StoreState(records=TraceabilityRecord.from_documents(records)))
    assert {s[0]["provenance"]: s[1] for s in out["c2c_provenance_images"]} == {
        "verified": 1, "unsigned": 1, "invalid": 1, "not_checked": 1}
    per_image = {s[0]["workload"]: (s[0]["provenance"], s[0]["image_class"]) for s in out["c2c_workload_image_provenance"]}
    assert per_image == {"web": ("verified", "internal"), "api": ("invalid", "internal"),
                         "nginx": ("unsigned", "external")}
