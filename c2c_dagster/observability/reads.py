"""What the exporter reads from the store: filtered documents and grouped counts.

Both are methods of the store interface (``MetadataStore.scan`` and ``group_stats``, each backend
answering in its own way and tested alike by the contract suite); these names are kept for the
exporter's readers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from c2c_dagster.store import MetadataStore
from c2c_dagster.store.base import Group, Where

__all__ = ["Group", "Where", "documents", "group_stats"]


def documents(store: MetadataStore, index: str, where: Where) -> Iterator[dict[str, Any]]:
    """Every document of ``index`` whose fields equal ``where``'s values."""
    return store.scan(index, where)


def group_stats(store: MetadataStore, index: str, by: Sequence[str], *, newest: Sequence[str] = (),
                where: Where | None = None) -> list[Group]:
    """Count the documents of ``index`` per distinct combination of the ``by`` fields, with the
    newest value of each date field in ``newest`` (epoch seconds)."""
    return store.group_stats(index, by, newest=newest, where=where)
