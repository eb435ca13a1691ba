"""Storage for c2c's documents: one interface, an OpenSearch and an embedded implementation.

The OpenSearch store and the Dagster resource are imported on first use (PEP 562
``__getattr__``): command-line tools that only read the embedded store then start without
loading opensearch-py or Dagster.
"""

from typing import Any

from c2c_dagster.store.base import (
    FIND_ALL,
    BulkItemError,
    BulkWriteError,
    DocumentError,
    MetadataStore,
    StoreError,
    StoreForbiddenError,
    StoreUnavailableError,
    WriteResult,
)
from c2c_dagster.store.embedded import EmbeddedStore
from c2c_dagster.store.indices import (
    ALL_INDICES,
    ARGOCD_SYNC_EVENTS,
    CI_BUILD_METADATA,
    DELIVERY_METRICS,
    DEPLOYMENT_METADATA,
    INGEST_PROBLEMS,
    RELEASE_EVENTS,
    SCAN_WATERMARKS,
    TRACEABILITY_METADATA,
)
from c2c_dagster.store.settings import StoreSettings

_LAZY = {
    "OpenSearchStore": "c2c_dagster.store.opensearch",
    "MetadataStoreResource": "c2c_dagster.store.resource",
    "store_resource_from_env": "c2c_dagster.store.resource",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'c2c_dagster.store' has no attribute {name!r}")


__all__ = [
    "ALL_INDICES",
    "FIND_ALL",
    "ARGOCD_SYNC_EVENTS",
    "CI_BUILD_METADATA",
    "DELIVERY_METRICS",
    "DEPLOYMENT_METADATA",
    "INGEST_PROBLEMS",
    "RELEASE_EVENTS",
    "SCAN_WATERMARKS",
    "TRACEABILITY_METADATA",
    "BulkItemError",
    "BulkWriteError",
    "DocumentError",
    "EmbeddedStore",
    "MetadataStore",
    "MetadataStoreResource",
    "OpenSearchStore",
    "StoreError",
    "StoreSettings",
    "StoreForbiddenError",
    "StoreUnavailableError",
    "WriteResult",
    "store_resource_from_env",
]
