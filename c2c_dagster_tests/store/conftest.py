"""The ``store`` fixture: every contract test runs once per backend (embedded, real OpenSearch)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from c2c_dagster.store import EmbeddedStore, MetadataStore, OpenSearchStore


@pytest.fixture(params=["embedded", "opensearch"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    if request.param == "embedded":
        backend: MetadataStore = EmbeddedStore(tmp_path / "store.sqlite")
    else:
        service = request.getfixturevalue("opensearch_service")
        # A fresh prefix per test keeps tests apart on the one session-wide node.
        backend = OpenSearchStore(
            service.url, index_prefix=f"t{uuid.uuid4().hex[:8]}-", number_of_replicas=0
        )
    backend.ensure_indices()
    try:
        yield backend
    finally:
        backend.close()
