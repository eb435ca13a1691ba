"""A running record's last_seen is read against its cluster's records watermark, on the embedded
store and the real OpenSearch node: ``c2c trace`` answers the last run that saw it, though that run
rewrote nothing; a stopped record keeps its own."""

from __future__ import annotations

from c2c_dagster.store import SCAN_WATERMARKS, TRACEABILITY_METADATA
from c2c_dagster.store.watermarks import new_watermark
from c2c_dagster.traceability.trace import trace_workload
from c2c_dagster_tests.traceability.trace_data import seed_trace_store


def test_trace_reads_running_records_against_the_watermark(store) -> None:
    seed_trace_store(store)
    records = store.find(TRACEABILITY_METADATA.name, "workload_name", "web")
    store.upsert(TRACEABILITY_METADATA.name, [{"record_id": d["record_id"], "last_seen": d["updated_at"]}
                                              for d in records], mode="merge")
    before = trace_workload(store, "prod/shop/web")
    assert [r.last_seen for r in before.running] == ["2026-01-04T00:00:00Z"]  # no watermark yet: its own

    # Two later runs found it unchanged and wrote only their watermark; another cluster's is not ours.
    store.upsert(SCAN_WATERMARKS.name, [
        new_watermark("prod", TRACEABILITY_METADATA.name, "2026-01-04T06:00:00Z", "run-2", "records").to_document(),
        new_watermark("other", TRACEABILITY_METADATA.name, "2026-01-09T00:00:00Z", "run-x", "records").to_document(),
    ])
    store.upsert(SCAN_WATERMARKS.name, [
        new_watermark("prod", TRACEABILITY_METADATA.name, "2026-01-04T06:10:00Z", "run-3", "records").to_document()])
    answer = trace_workload(store, "prod/shop/web")
    assert [r.last_seen for r in answer.running] == ["2026-01-04T06:10:00Z"]
    assert [r.last_seen for r in answer.previously] == ["2026-01-03T00:00:00Z"]  # stopped: its own
    assert answer.as_json()["running"][0]["last_seen"] == "2026-01-04T06:10:00Z"
    # The store itself was not rewritten.
    assert {d["last_seen"] for d in store.find(TRACEABILITY_METADATA.name, "workload_name", "web")} == {
        "2026-01-04T00:00:00Z", "2026-01-03T00:00:00Z"}
