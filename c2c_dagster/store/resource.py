"""The Dagster resource that hands assets their store: OpenSearch when configured, else embedded."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from c2c_dagster.store.base import MetadataStore
from c2c_dagster.store.embedded import EmbeddedStore
from c2c_dagster.store.opensearch import OpenSearchStore


def default_embedded_path() -> Path:
    """``$C2C_STORE_PATH``, else beside the Dagster instance, else under the user's home."""
    if os.environ.get("C2C_STORE_PATH"):
        return Path(os.environ["C2C_STORE_PATH"])
    if os.environ.get("DAGSTER_HOME"):
        return Path(os.environ["DAGSTER_HOME"]) / "c2c" / "store.sqlite"
    return Path.home() / ".c2c" / "store.sqlite"


class MetadataStoreResource(dg.ConfigurableResource):
    """Where c2c keeps build, deployment and traceability documents.

    With ``opensearch_url`` set, documents go to OpenSearch (credentials from ``EnvVar``s, TLS
    verified by default); without it, to the embedded SQLite store, so a laptop needs nothing else.
    """

    opensearch_url: str | None = None
    opensearch_user: str | None = None
    opensearch_password: str | None = None
    opensearch_verify_certs: bool = True
    opensearch_ca_certs: str | None = None
    # Replicas default to 1 as a production cluster wants; a single test node uses 0.
    opensearch_replicas: int = 1
    index_prefix: str = ""
    embedded_path: str | None = None

    def get_store(self) -> MetadataStore:
        """A ready store with its indices created (idempotent)."""
        store: MetadataStore
        if self.opensearch_url:
            store = OpenSearchStore(
                self.opensearch_url,
                username=self.opensearch_user,
                password=self.opensearch_password,
                verify_certs=self.opensearch_verify_certs,
                ca_certs=self.opensearch_ca_certs,
                index_prefix=self.index_prefix,
                number_of_replicas=self.opensearch_replicas,
            )
        else:
            store = EmbeddedStore(self.embedded_path or default_embedded_path())
        store.ensure_indices()
        return store


def store_resource_from_env() -> MetadataStoreResource:
    """The store settings Dagster and the ``c2c`` CLI share, read from the environment.

    ``C2C_OPENSEARCH_URL`` picks OpenSearch; user and password are wired as ``EnvVar``s so the
    secrets are resolved at run time and never shown in the UI. Without a URL: embedded store.
    """
    url = os.environ.get("C2C_OPENSEARCH_URL")
    if not url:
        return MetadataStoreResource(embedded_path=os.environ.get("C2C_STORE_PATH"))
    return MetadataStoreResource(
        opensearch_url=url,
        opensearch_user=dg.EnvVar("C2C_OPENSEARCH_USER") if os.environ.get("C2C_OPENSEARCH_USER") else None,
        opensearch_password=(
            dg.EnvVar("C2C_OPENSEARCH_PASSWORD") if os.environ.get("C2C_OPENSEARCH_PASSWORD") else None
        ),
        opensearch_verify_certs=os.environ.get("C2C_OPENSEARCH_VERIFY_CERTS", "true").lower() != "false",
        opensearch_ca_certs=os.environ.get("C2C_OPENSEARCH_CA_CERTS"),
        opensearch_replicas=int(os.environ.get("C2C_OPENSEARCH_REPLICAS", "1")),
        index_prefix=os.environ.get("C2C_INDEX_PREFIX", ""),
    )
