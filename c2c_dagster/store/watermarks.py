"""Scan watermarks: one document per cluster and index saying what the last complete pass proved.

An index whose documents say "seen until" (deployment-metadata versions, traceability records)
would otherwise rewrite every open document on every unchanged pass, only to move ``last_seen``.
Instead the pass writes one ``scan-watermarks`` document, and an open document's ``last_seen`` is
read against it: every document still open after a complete pass was seen by it, so its
``last_seen`` is the watermark's ``scanned_at`` unless its own is newer. A document that is closed
carries its own exact ``last_seen`` (the closer writes it), and the watermark no longer applies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from c2c_dagster.documents.deployments import ScanWatermark
from c2c_dagster.store.base import MetadataStore
from c2c_dagster.store.indices import SCAN_WATERMARKS


def watermark_id(cluster: str, index: str) -> str:
    return f"{cluster}/{index}"


def new_watermark(cluster: str, index: str, scanned_at: str, scan_id: str = "", mode: str = "scan") -> ScanWatermark:
    """The watermark a complete pass over ``cluster`` at ``scanned_at`` writes for ``index``."""
    return ScanWatermark(watermark_id=watermark_id(cluster, index), cluster=cluster, index=index,
                         scan_id=scan_id or scanned_at, scanned_at=scanned_at, mode=mode)


def effective_last_seen(last_seen: str | None, is_open: bool, watermark: ScanWatermark | None) -> str | None:
    """When a document was last seen: for an open one, the watermark's pass unless its own
    ``last_seen`` is newer (a document opened or refreshed after that pass); a closed one's own."""
    if watermark is None or not is_open or not watermark.scanned_at:
        return last_seen
    return watermark.scanned_at if last_seen is None or last_seen < watermark.scanned_at else last_seen


def read_watermark(store: MetadataStore, cluster: str, index: str) -> ScanWatermark | None:
    doc = store.get(SCAN_WATERMARKS.name, watermark_id(cluster, index))
    return ScanWatermark.from_document(doc) if doc else None


def read_watermarks(store: MetadataStore, clusters: Iterable[str | None], index: str) -> dict[str, ScanWatermark]:
    """The watermarks of ``clusters`` for ``index``, by cluster (one lookup)."""
    wanted = sorted({c for c in clusters if c})
    if not wanted:
        return {}
    docs = store.find(SCAN_WATERMARKS.name, "watermark_id", [watermark_id(c, index) for c in wanted],
                      limit=len(wanted))
    return {w.cluster: w for w in ScanWatermark.from_documents(docs) if w.cluster}


def resolve_last_seen_against_watermarks(
    store: MetadataStore, index: str, docs: Iterable[dict[str, Any]], is_open: Callable[[Mapping[str, Any]], bool],
    *, extra: Callable[[ScanWatermark], Mapping[str, Any]] = lambda w: {},
) -> list[dict[str, Any]]:
    """``docs`` of ``index`` as read, with ``last_seen`` read against their clusters' watermarks
    (and ``extra(watermark)`` set where it applied): what every reader of last_seen should see."""
    docs = list(docs)
    watermarks = read_watermarks(store, (d.get("cluster") for d in docs), index)
    for doc in docs:
        watermark = watermarks.get(doc.get("cluster") or "")
        seen = effective_last_seen(doc.get("last_seen"), is_open(doc), watermark)
        if watermark is not None and seen != doc.get("last_seen"):
            doc.update(last_seen=seen, **extra(watermark))
    return docs
