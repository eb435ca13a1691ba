"""What the exporter reads from the store: filtered documents and grouped counts.

The store interface answers lookups and time ranges; the exporter also needs "every running
record" and "how many release events per workload" on each scrape, which in OpenSearch are one
filtered scroll and one composite aggregation. The embedded store is small by nature (a laptop's
history), so there the same answers come from iterating its documents.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from c2c_core.timeutil import parse_time
from c2c_dagster.store import MetadataStore, StoreUnavailableError
from c2c_dagster.store.base import values_at

Where = Mapping[str, str | bool]
COMPOSITE_PAGE = 1000


@dataclass(frozen=True)
class Group:
    """Documents sharing the values of the group-by fields (None where a document has none)."""

    key: tuple[str | None, ...]
    count: int
    latest: dict[str, float | None] = field(default_factory=dict)  # date field -> newest, epoch seconds


def _matches(doc: Mapping[str, Any], where: Where) -> bool:
    return all(value in values_at(doc, path) for path, value in where.items())


def _key_value(value: Any, kind: str = "keyword") -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or kind == "boolean":
        # OpenSearch may key a boolean bucket 1/0; a document holds true/false.
        return "true" if value in (True, 1, "true") else "false"
    return str(value)


def _kinds(store: MetadataStore, index: str, paths: Sequence[str]) -> dict[str, str]:
    fields = store.spec(index).fields
    return {path: fields[path]["type"] for path in paths}


def documents(store: MetadataStore, index: str, where: Where) -> Iterator[dict[str, Any]]:
    """Every document of ``index`` whose fields equal ``where``'s values."""
    if store.kind != "opensearch":
        yield from (doc for doc in store.iter_all(index) if _matches(doc, where))
        return
    from opensearchpy import exceptions as os_exc
    from opensearchpy import helpers

    from c2c_dagster.store.opensearch import forbidden

    body = {"query": {"bool": {"filter": [{"term": {path: value}} for path, value in where.items()]}}}
    try:
        for hit in helpers.scan(store.client, index=store.physical(index), query=body, size=5000,
                                ignore_unavailable=True):
            yield hit["_source"]
    except (os_exc.ConnectionError, os_exc.ConnectionTimeout) as exc:
        raise StoreUnavailableError(f"OpenSearch at {store.url} unreachable reading {index}: {exc}") from exc
    except os_exc.AuthorizationException as exc:
        raise forbidden(store.url, f"scroll through {store.physical(index)}", exc.info) from exc


def group_stats(store: MetadataStore, index: str, by: Sequence[str], *, newest: Sequence[str] = (),
                where: Where | None = None) -> list[Group]:
    """Count the documents of ``index`` per distinct combination of the ``by`` fields, with the
    newest value of each date field in ``newest`` (epoch seconds)."""
    if store.kind == "opensearch":
        return _opensearch_groups(store, index, by, newest, where or {})
    kinds = _kinds(store, index, by)
    counts: dict[tuple[str | None, ...], int] = defaultdict(int)
    latest: dict[tuple[str | None, ...], dict[str, float | None]] = defaultdict(dict)
    for doc in documents(store, index, where or {}):
        key = tuple(_key_value(next(iter(values_at(doc, path)), None), kinds[path]) for path in by)
        counts[key] += 1
        for name in newest:
            moment = parse_time(next(iter(values_at(doc, name)), None))
            if moment is not None:
                value = moment.timestamp()
                current = latest[key].get(name)
                latest[key][name] = value if current is None else max(current, value)
    return [Group(key, count, {name: latest[key].get(name) for name in newest}) for key, count in sorted(
        counts.items(), key=lambda item: tuple(v or "" for v in item[0]))]


def _opensearch_groups(store: Any, index: str, by: Sequence[str], newest: Sequence[str], where: Where) -> list[Group]:
    from opensearchpy import exceptions as os_exc

    from c2c_dagster.store.opensearch import forbidden

    kinds = _kinds(store, index, by)
    groups: list[Group] = []
    after: dict[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {
            "size": COMPOSITE_PAGE,
            "sources": [{path: {"terms": {"field": path, "missing_bucket": True}}} for path in by],
        }
        if after:
            composite["after"] = after
        body = {
            "size": 0,
            "query": {"bool": {"filter": [{"term": {path: value}} for path, value in where.items()]}},
            "aggs": {"groups": {"composite": composite,
                                "aggs": {name: {"max": {"field": name}} for name in newest}}},
        }
        try:
            response = store.client.search(index=store.physical(index), body=body, ignore_unavailable=True)
        except os_exc.NotFoundError:
            return groups
        except (os_exc.ConnectionError, os_exc.ConnectionTimeout) as exc:
            raise StoreUnavailableError(f"OpenSearch at {store.url} unreachable reading {index}: {exc}") from exc
        except os_exc.AuthorizationException as exc:
            raise forbidden(store.url, f"search {store.physical(index)}", exc.info) from exc
        result = (response.get("aggregations") or {}).get("groups")
        if not result:
            return groups
        for bucket in result["buckets"]:
            latest = {name: (bucket[name]["value"] / 1000 if bucket[name]["value"] is not None else None)
                      for name in newest}
            groups.append(Group(tuple(_key_value(bucket["key"][path], kinds[path]) for path in by),
                                bucket["doc_count"], latest))
        after = result.get("after_key")
        if not after or len(result["buckets"]) < COMPOSITE_PAGE:
            return groups
