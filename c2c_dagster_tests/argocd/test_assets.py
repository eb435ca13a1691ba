"""What argocd_sync_sensor reports on the argocd_sync_events asset for a batch it stored: counts
per destination cluster (an unconfigured destination named as such) and per phase, the newest
finishedAt."""

from __future__ import annotations

import dagster as dg

from c2c_dagster.argocd.assets import recorded
from c2c_dagster.documents.argocd import SyncEventDocument


def event(app: str, cluster: str | None, phase: str, finished_at: str) -> SyncEventDocument:
    return SyncEventDocument(event_id=f"hub/argocd/{app}/uid/{finished_at}", argocd_cluster="hub", cluster=cluster,
                             app=app, app_namespace="argocd", phase=phase, finished_at=finished_at)


def test_a_stored_batch_is_one_materialization_of_the_sync_events_asset() -> None:
    materialization = recorded([
        event("web", "prod", "Succeeded", "2026-03-01T10:00:00Z"),
        event("web", "prod", "Failed", "2026-03-01T11:00:00Z"),
        event("api", None, "Succeeded", "2026-03-01T09:00:00Z"),
    ])
    assert materialization.asset_key == dg.AssetKey("argocd_sync_events")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata == {
        "sync_events": 3,
        "apps": 2,
        "by_cluster": {"hub (unconfigured destination)": 1, "prod": 2},
        "by_phase": {"Failed": 1, "Succeeded": 2},
        "latest_finished_at": "2026-03-01T11:00:00Z",
    }
