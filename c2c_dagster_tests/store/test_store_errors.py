"""Store failures name the store and what to do: OpenSearch down, bad path, unknown index."""

from __future__ import annotations

from pathlib import Path

import pytest

from c2c_dagster.store import EmbeddedStore, OpenSearchStore, StoreUnavailableError
from c2c_devstack.services import free_port


def test_opensearch_down_names_the_url_and_the_fix() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    store = OpenSearchStore(url, timeout=2)
    with pytest.raises(StoreUnavailableError) as caught:
        store.ensure_indices()
    message = str(caught.value)
    assert url in message
    assert "C2C_OPENSEARCH_URL" in message
    assert "retried" in message


def test_embedded_store_on_unwritable_path_names_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    store = EmbeddedStore(blocker / "sub" / "store.sqlite")
    with pytest.raises(StoreUnavailableError, match="C2C_STORE_PATH"):
        store.upsert("ci-build-metadata", [{"build_id": "x-1"}])


def test_unknown_index_is_a_clear_error(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "s.sqlite")
    with pytest.raises(KeyError, match="unknown c2c index 'ci-builds'"):
        store.count("ci-builds")
