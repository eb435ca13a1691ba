"""The assets' kinds name the store the settings configure (the Dagster UI shows them): OpenSearch
when an OpenSearch URL is set, the embedded SQLite store otherwise; the loaded definitions carry
the kind of the environment they were loaded in."""

from __future__ import annotations

from c2c_dagster.definitions import defs
from c2c_dagster.store.settings import StoreSettings, store_kind


def test_the_kind_follows_the_settings() -> None:
    assert store_kind(StoreSettings(opensearch_url="https://opensearch:9200")) == "opensearch"
    assert store_kind(StoreSettings(embedded_path="/tmp/store.sqlite")) == "sqlite"
    assert store_kind(StoreSettings()) == "sqlite"


def test_every_asset_names_the_configured_store() -> None:
    configured = store_kind()
    for spec in defs.resolve_all_asset_specs():
        stores = set(spec.kinds) & {"opensearch", "sqlite"}
        assert stores == {configured}, (spec.key, spec.kinds)
