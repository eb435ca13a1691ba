"""Storage for c2c's documents: one interface, an OpenSearch and an embedded implementation."""

from c2c_dagster.store.base import (
    BulkItemError,
    BulkWriteError,
    DocumentError,
    MetadataStore,
    StoreError,
    StoreUnavailableError,
    WriteResult,
)
from c2c_dagster.store.embedded import EmbeddedStore
from c2c_dagster.store.indices import (
    ALL_INDICES,
    ARGOCD_SYNC_EVENTS,
    CI_BUILD_METADATA,
    DEPLOYMENT_METADATA,
    TRACEABILITY_METADATA,
)
from c2c_dagster.store.opensearch import OpenSearchStore
from c2c_dagster.store.resource import MetadataStoreResource, store_resource_from_env

__all__ = [
    "ALL_INDICES",
    "ARGOCD_SYNC_EVENTS",
    "CI_BUILD_METADATA",
    "DEPLOYMENT_METADATA",
    "TRACEABILITY_METADATA",
    "BulkItemError",
    "BulkWriteError",
    "DocumentError",
    "EmbeddedStore",
    "MetadataStore",
    "MetadataStoreResource",
    "OpenSearchStore",
    "StoreError",
    "StoreUnavailableError",
    "WriteResult",
    "store_resource_from_env",
]
