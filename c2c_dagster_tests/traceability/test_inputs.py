"""What ``traceability_records`` reads: the Argo CD sync joined to a snapshot is the newest
successful one that finished by the time the snapshot saw the cluster (embedded store)."""

from __future__ import annotations

from pathlib import Path

from c2c_dagster.documents.deployments import ScanWatermark
from c2c_dagster.store import EmbeddedStore
from c2c_dagster.traceability.inputs import latest_syncs, observed_until


def sync(history_id: int, revision: str, finished: str, *, phase: str = "Succeeded", cluster: str = "east") -> dict:
    return {"event_id": f"{cluster}/argocd/web/uid/{history_id}", "cluster": cluster, "app": "web",
            "app_namespace": "argocd", "revision": revision, "phase": phase, "finished_at": finished}


def test_the_snapshot_time_is_the_newest_of_the_scan_watermark_and_the_versions_seen_after_it() -> None:
    watermark = ScanWatermark(watermark_id="east/deployment-metadata", cluster="east", scanned_at="2026-11-26T10:00:00Z")
    docs = [{"last_seen": "2026-11-26T09:00:00Z"}, {"last_seen": "2026-11-26T10:05:00Z"}, {}]
    assert observed_until(docs, watermark).isoformat() == "2026-11-26T10:05:00+00:00"
    assert observed_until(docs[:1], watermark).isoformat() == "2026-11-26T10:00:00+00:00"
    assert observed_until([], None) is None


def test_a_sync_after_the_snapshot_is_not_credited_with_what_the_snapshot_saw(tmp_path: Path) -> None:
    from c2c_core.timeutil import parse_time

    store = EmbeddedStore(tmp_path / "store.sqlite")
    store.upsert("argocd-sync-events", [
        sync(0, "e" * 40, "2026-11-26T10:00:00Z"),
        sync(1, "d" * 40, "2026-11-26T10:10:00Z"),  # finished after the snapshot below
        sync(2, "c" * 40, "2026-11-26T10:20:00Z", phase="Failed"),
        sync(3, "f" * 40, "2026-11-26T10:30:00Z", cluster="west"),
    ])
    before = latest_syncs(store, {"argocd/web"}, "east", observed_at=parse_time("2026-11-26T10:05:00Z"))
    assert before["argocd/web"].revision == "e" * 40
    after = latest_syncs(store, {"argocd/web"}, "east", observed_at=parse_time("2026-11-26T10:12:00Z"))
    assert after["argocd/web"].revision == "d" * 40
    # Without a snapshot time (nothing scanned yet) the newest successful sync of the cluster.
    assert latest_syncs(store, {"argocd/web"}, "east")["web"].revision == "d" * 40
    store.close()
