"""``argocd_sync_events``: every finished Argo CD sync, as an asset in the lineage between the
builds and what runs. ``argocd_sync_sensor`` writes the events and reports each batch it stores
(no run materializes them), so the UI shows when the last sync was recorded and warns when none
has been for too long."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import dagster as dg

from c2c_dagster.documents.argocd import SyncEventDocument
from c2c_dagster.freshness import freshness_policy
from c2c_dagster.store import ARGOCD_SYNC_EVENTS
from c2c_dagster.store.settings import store_kind

argocd_sync_events = dg.AssetSpec(
    "argocd_sync_events",
    description=(
        "Every finished Argo CD sync in every configured cluster: the config-repo revision, who or "
        "what started it, phase, health, the images of the manifests it applied and the resources "
        "it synced, kept beyond Argo CD's 10-entry status.history. traceability_records names the "
        "sync that rolled out each running digest from these. Written by argocd_sync_sensor as it "
        "sees syncs finish; a quiet spell means nobody deployed, or the sensor stopped."
    ),
    group_name="argocd",
    kinds={"argocd", store_kind()},
    owners=["team:platform"],
    freshness_policy=freshness_policy("argocd_sync_events"),
    metadata={"index": ARGOCD_SYNC_EVENTS.name},
)


def recorded(documents: Sequence[SyncEventDocument]) -> dg.AssetMaterialization:
    """The materialization a sensor tick reports after storing ``documents``."""
    clusters = Counter(doc.cluster or f"{doc.argocd_cluster} (unconfigured destination)" for doc in documents)
    phases = Counter(doc.phase or "unknown" for doc in documents)
    latest = max((doc.finished_at for doc in documents if doc.finished_at), default=None)
    return dg.AssetMaterialization(
        asset_key=argocd_sync_events.key,
        description=f"{len(documents)} sync event(s) recorded",
        metadata={
            "sync_events": len(documents),
            "apps": len({doc.app_name for doc in documents}),
            "by_cluster": dg.MetadataValue.json(dict(sorted(clusters.items()))),
            "by_phase": dg.MetadataValue.json(dict(sorted(phases.items()))),
            **({"latest_finished_at": latest} if latest else {}),
        },
    )
