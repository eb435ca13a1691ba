"""The assets' kinds name the store the settings configure (the Dagster UI shows them): OpenSearch
when an OpenSearch URL is set, the embedded SQLite store otherwise; the loaded definitions carry
the kind of the settings they were built from."""

from __future__ import annotations

from c2c_dagster.definitions import build_definitions, defs
from c2c_dagster.settings import Settings
from c2c_dagster.store.settings import StoreSettings, store_kind


def test_the_kind_follows_the_settings() -> None:
    assert store_kind(StoreSettings(opensearch_url="https://opensearch:9200")) == "opensearch"
    assert store_kind(StoreSettings(embedded_path="/tmp/store.sqlite")) == "sqlite"
    assert store_kind(StoreSettings()) == "sqlite"


def test_every_asset_names_the_configured_store() -> None:
    configured = store_kind(StoreSettings.from_env())
    for spec in defs.resolve_all_asset_specs():
        stores = set(spec.kinds) & {"opensearch", "sqlite"}
        assert stores == {configured}, (spec.key, spec.kinds)
    for url, kind in (("https://opensearch:9200", "opensearch"), (None, "sqlite")):
        built = build_definitions(Settings.from_env({"C2C_OPENSEARCH_URL": url} if url else {}))
        assert {spec.key.to_user_string(): set(spec.kinds) & {"opensearch", "sqlite"}
                for spec in built.resolve_all_asset_specs()} == {
            name: {kind} for name in ("ci_builds", "deployment_snapshots", "argocd_sync_events",
                                      "traceability_records", "delivery_metrics")}
