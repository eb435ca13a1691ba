"""The Dagster resource that hands assets their store: OpenSearch when configured, else embedded."""

from __future__ import annotations

from dataclasses import fields

import dagster as dg

from c2c_dagster.settings import Settings, load_settings
from c2c_dagster.store.base import MetadataStore
from c2c_dagster.store.settings import StoreSettings, shared_store


class MetadataStoreResource(dg.ConfigurableResource):
    """Where c2c keeps build, deployment and traceability documents.

    With ``opensearch_url`` set, documents go to OpenSearch (credentials from ``EnvVar``s, TLS
    verified by default); without it, to the embedded SQLite store, so a laptop needs nothing else.
    Fields mirror ``StoreSettings``.
    """

    opensearch_url: str | None = None
    opensearch_user: str | None = None
    opensearch_password: str | None = None
    opensearch_verify_certs: bool = True
    opensearch_ca_certs: str | None = None
    opensearch_replicas: int = 1
    index_prefix: str = ""
    embedded_path: str | None = None

    def settings(self) -> StoreSettings:
        return StoreSettings(**{f.name: getattr(self, f.name) for f in fields(StoreSettings)})

    def get_store(self) -> MetadataStore:
        """The process's one client for these settings (``shared_store``).

        Not opened per run in ``setup_for_execution`` nor closed in ``teardown_after_execution``:
        Dagster calls those once per run *and* per sensor tick, while the code server that
        evaluates sensors lives for days; one client, closed when the process exits, serves them all.
        """
        return shared_store(self.settings())


def store_resource_from_env(settings: Settings | None = None) -> MetadataStoreResource:
    """The resource for ``settings`` (the process's when None), with the user and password wired as
    ``EnvVar``s so the secrets are resolved at run time and never shown in the UI."""
    settings = settings or load_settings()
    if not settings.opensearch_url:
        return MetadataStoreResource(embedded_path=settings.store_path)
    return MetadataStoreResource(
        opensearch_url=settings.opensearch_url,
        opensearch_user=dg.EnvVar("C2C_OPENSEARCH_USER") if settings.opensearch_user else None,
        opensearch_password=dg.EnvVar("C2C_OPENSEARCH_PASSWORD") if settings.opensearch_password else None,
        opensearch_verify_certs=settings.opensearch_verify_certs,
        opensearch_ca_certs=settings.opensearch_ca_certs,
        opensearch_replicas=settings.opensearch_replicas,
        index_prefix=settings.index_prefix,
    )
