"""The seed's OpenSearch indices (section 7.2) with explicit mappings, shared by both stores.

Each index names its document model(s), its document-id field and its time field; the field
types and the keyword fields that can be looked up come from the models (``c2c_dagster/documents``),
so a field is declared once. The OpenSearch store turns a spec into an index template, the
embedded store into lookup keys, so the two answer the same queries the same way.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from c2c_dagster.documents.argocd import SyncEventDocument
from c2c_dagster.documents.base import index_fields, lookup_fields
from c2c_dagster.documents.builds import BuildDocument, IngestProblemDocument
from c2c_dagster.documents.delivery import DeliveryMetricsRow
from c2c_dagster.documents.deployments import PodVersion, ScanWatermark, WorkloadVersion
from c2c_dagster.documents.traceability import ReleaseEvent, TraceabilityRecord


@dataclass(frozen=True)
class IndexSpec:
    """One index: its name, id and time fields, and the explicit field mapping."""

    name: str
    id_field: str
    time_field: str
    fields: dict[str, dict[str, Any]]
    # Dot paths looked up by ``MetadataStore.find`` (must be keyword fields).
    lookup_fields: tuple[str, ...] = field(default=())

    @classmethod
    def of(cls, name: str, *models: type, id_field: str, time_field: str) -> IndexSpec:
        """The spec of an index holding ``models``' documents: every field's index type and the
        lookup fields come from the models' declarations (a field shared by two models must be
        declared alike)."""
        fields: dict[str, dict[str, Any]] = {}
        lookups: dict[str, None] = {}
        for model in models:
            for path, kind in index_fields(model).items():
                if path in fields and fields[path]["type"] != kind:
                    raise TypeError(f"index {name}: {path} is {fields[path]['type']} in one model, {kind} in another")
                fields[path] = {"type": kind}
            lookups.update(dict.fromkeys(lookup_fields(model)))
        for required in (id_field, time_field):
            if required not in fields:
                raise TypeError(f"index {name}: {required!r} is not a mapped field of {[m.__name__ for m in models]}")
        return cls(name=name, id_field=id_field, time_field=time_field, fields=fields, lookup_fields=tuple(lookups))

    @functools.cached_property
    def typed_fields(self) -> tuple[tuple[str, str], ...]:
        """(path, type) of the fields whose values a store must check: numbers (and their range),
        dates, booleans, and keyword and text fields (no object; a keyword term within Lucene's limit)."""
        return tuple((path, spec["type"]) for path, spec in self.fields.items()
                     if spec["type"] in ("long", "integer", "date", "boolean", "keyword", "text"))

    def mapping(self) -> dict[str, Any]:
        """The OpenSearch ``mappings`` body: dot paths unfolded into nested ``properties``."""
        properties: dict[str, Any] = {}
        for path, spec in sorted(self.fields.items()):
            node = properties
            *parents, leaf = path.split(".")
            for part in parents:
                node = node.setdefault(part, {"properties": {}})["properties"]
            node[leaf] = dict(spec)
        # Unknown fields are kept in _source but not indexed: a new field is a mapping change
        # made on purpose, never an accident from one odd payload.
        return {"dynamic": False, "properties": properties}


CI_BUILD_METADATA = IndexSpec.of("ci-build-metadata", BuildDocument, id_field="build_id", time_field="timestamp")

# One document per *version* of a workload or a pod (see c2c_dagster/kubernetes/history.py):
# written when the observed state changes, its last_seen refreshed by every unchanged scan.
DEPLOYMENT_METADATA = IndexSpec.of(
    "deployment-metadata", WorkloadVersion, PodVersion, id_field="doc_id", time_field="snapshot_time"
)

# One document per cluster and index: the last full, complete scan, against which the open
# versions' last_seen is read (an unchanged scan writes this one document, not one per object).
SCAN_WATERMARKS = IndexSpec.of("scan-watermarks", ScanWatermark, id_field="watermark_id", time_field="scanned_at")

TRACEABILITY_METADATA = IndexSpec.of(
    "traceability-metadata", TraceabilityRecord, id_field="record_id", time_field="updated_at"
)

ARGOCD_SYNC_EVENTS = IndexSpec.of("argocd-sync-events", SyncEventDocument, id_field="event_id", time_field="finished_at")

RELEASE_EVENTS = IndexSpec.of("release-events", ReleaseEvent, id_field="event_id", time_field="at")

INGEST_PROBLEMS = IndexSpec.of("ingest-problems", IngestProblemDocument, id_field="problem_id", time_field="last_seen")

DELIVERY_METRICS = IndexSpec.of("delivery-metrics", DeliveryMetricsRow, id_field="row_id", time_field="day")

ALL_INDICES: tuple[IndexSpec, ...] = (
    CI_BUILD_METADATA,
    DEPLOYMENT_METADATA,
    SCAN_WATERMARKS,
    TRACEABILITY_METADATA,
    ARGOCD_SYNC_EVENTS,
    RELEASE_EVENTS,
    INGEST_PROBLEMS,
    DELIVERY_METRICS,
)
INDICES_BY_NAME: dict[str, IndexSpec] = {spec.name: spec for spec in ALL_INDICES}


def index_spec(name: str) -> IndexSpec:
    """The spec of a known index; unknown names are a programming error worth a clear message."""
    try:
        return INDICES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown c2c index {name!r}; known: {sorted(INDICES_BY_NAME)}") from None
