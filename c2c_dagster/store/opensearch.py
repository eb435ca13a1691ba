"""The OpenSearch store: index templates with explicit mappings and idempotent bulk upserts.

Documents get deterministic ``_id``s (the index's id field), so a re-run or a backfill
overwrites instead of duplicating; every per-item bulk failure is reported with the document
id and OpenSearch's reason, never swallowed. Only writes set up templates and indices (the first
write to an index in a process, or ``c2c store init``); reads send nothing but searches and
gets, so read-only credentials are enough to query, and a missing index reads as empty.
"""

from __future__ import annotations

import fnmatch
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from opensearchpy import OpenSearch, helpers
from opensearchpy import exceptions as os_exc

from c2c_core.timeutil import iso_utc, parse_time
from c2c_dagster.store.base import (
    BulkItemError,
    BulkWriteError,
    Document,
    Group,
    MetadataStore,
    StoreError,
    StoreForbiddenError,
    StoreUnavailableError,
    WriteMode,
    Where,
    WriteResult,
    group_key_value,
    prepare,
)
from c2c_dagster.store.indices import ALL_INDICES, IndexSpec

T = TypeVar("T")

# Bulk requests of this many documents keep each request a few MB for typical build/pod docs.
BULK_CHUNK = 1000
# Hits per search request; below OpenSearch's default max_result_window of 10,000.
SEARCH_PAGE = 5000
# Buckets per page of a grouped count.
COMPOSITE_PAGE = 1000


# The security plugin's 403 reason: "no permissions for [ACTION, ...] and User [name=USER, ...]".
# Non-greedy: an action may hold brackets itself ("indices:data/write/bulk[s]").
_NO_PERMISSION = re.compile(r"no permissions for \[(.*?)\] and User \[name=([^,\]]+)")
# The privileges c2c_reader holds (k8s/opensearch/roles.yml; test_store_security keeps the two
# in step); c2c_writer holds the rest of the file's privileges, and the reader's index ones too.
READER_PRIVILEGES = ("indices:data/read/get", "indices:data/read/search*", "indices:data/read/scroll*",
                     "indices:data/read/msearch", "indices:admin/mappings/get")


def granting_roles(action: str) -> tuple[str, ...]:
    """Which of c2c's roles grant ``action`` (as the plugin names it in a 403)."""
    if any(fnmatch.fnmatchcase(action, pattern) for pattern in READER_PRIVILEGES):
        return ("c2c_reader", "c2c_writer") if action.startswith("indices:data/read/get") or action.startswith(
            "indices:data/read/search") else ("c2c_reader",)
    return ("c2c_writer",)


def forbidden(url: str, what: str, info: Any, *, privilege: str | None = None,
              user: str | None = None) -> StoreForbiddenError:
    """A 403 as an error naming the missing privilege, the user, and which c2c role grants it.

    The security plugin names both in its reason; a HEAD answer has no body, so the caller's
    ``privilege`` (the action its request needs) stands in."""
    text = json.dumps(info) if isinstance(info, (dict, list)) else str(info or "")
    if "cluster_block_exception" in text:
        # A read-only block answers 403 too: the index's state, not the user's privileges.
        return StoreForbiddenError(
            f"OpenSearch at {url} refused {what}: an index block is set ({text}). Lift it with "
            "PUT <index>/_settings once its cause (a full disk, an operator) is gone; nothing is lost.",
            user=user)
    found = _NO_PERMISSION.search(text)
    if found is not None:
        privilege, user = found.group(1), found.group(2)
    elif privilege is None:
        return StoreForbiddenError(
            f"OpenSearch at {url} forbade {what} (403): {text}. c2c's roles and their privileges: "
            "k8s/opensearch/roles.yml (c2c_writer for Dagster, c2c_reader for readers).", user=user)
    roles = granting_roles(privilege.split(",")[0].strip())
    if roles == ("c2c_reader", "c2c_writer"):
        grant = "both c2c roles grant it (c2c_reader, c2c_writer)"
    elif roles == ("c2c_reader",):
        grant = "the c2c_reader role grants it (the exporter and Grafana use it)"
    else:
        grant = ("the c2c_writer role grants it, for the code location, daemon and run pods only; "
                 "a reader (c2c trace, c2c dora, the exporter) never needs it: check which "
                 "credentials this process was given")
    return StoreForbiddenError(
        f"OpenSearch at {url} forbade {what} (403): user {user} lacks the privilege [{privilege}]; "
        f"{grant} (k8s/opensearch/roles.yml lists each role's privileges).",
        privilege=privilege, user=user)


# Answers that mean "not now" rather than "never": the cluster is overloaded or recovering.
_BUSY = {429: "Too Many Requests: its queues are full", 502: "Bad Gateway", 503: "Service Unavailable",
         504: "Gateway Timeout"}


def blocked(url: str, index: str, reason: str, refused: int) -> StoreUnavailableError:
    """Writes refused by an index block: what set it and how to lift it."""
    if "read-only-allow-delete" in reason or "read_only_allow_delete" in reason:
        cause = ("index.blocks.read_only_allow_delete is set: OpenSearch sets it when a node's disk "
                 "passes the flood-stage watermark. Free disk space (OpenSearch lifts the block once "
                 "usage falls below the high watermark) or, once there is room, lift it: PUT "
                 f'{index}/_settings {{"index.blocks.read_only_allow_delete": null}}')
    else:
        cause = f"an index block is set ({reason}); lift it with PUT {index}/_settings"
    return StoreUnavailableError(
        f"OpenSearch at {url} refused {refused} write(s) to {index}: {cause}. Nothing is lost: re-run "
        "once the block is lifted (writes are idempotent upserts).")


class OpenSearchStore(MetadataStore):
    kind = "opensearch"
    page_size = SEARCH_PAGE

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        verify_certs: bool = True,
        ca_certs: str | None = None,
        index_prefix: str = "",
        number_of_shards: int = 1,
        number_of_replicas: int = 1,
        timeout: float = 30,
    ):
        self.url = url
        self.username = username
        self.index_prefix = index_prefix
        self.number_of_shards = number_of_shards
        self.number_of_replicas = number_of_replicas
        # Indices this client has set up (template sent, index present): once per process each.
        self._ready: set[str] = set()
        self._ready_lock = threading.Lock()
        self.client = OpenSearch(
            hosts=[url],
            http_auth=(username, password) if username else None,
            use_ssl=url.startswith("https://"),
            verify_certs=verify_certs,
            ca_certs=ca_certs,
            ssl_show_warn=verify_certs,
            timeout=timeout,
            max_retries=3,
            retry_on_timeout=True,
        )

    # -- naming and errors ------------------------------------------------------------------

    def physical(self, index: str) -> str:
        """The index name in the cluster (tests use a prefix to stay apart)."""
        self.spec(index)
        return f"{self.index_prefix}{index}"

    def _call(self, what: str, fn: Callable[[], T], *, privilege: str | None = None) -> T:
        """Run one client call, turning transport failures into errors that say what to do.

        ``privilege``: the action the call needs, for a 403 without a body (a HEAD request)."""
        try:
            return fn()
        except os_exc.SSLError as exc:
            raise StoreError(
                f"TLS with OpenSearch at {self.url} failed during {what}: {exc.info or exc}. The "
                "cluster's certificate is not signed by a CA this client trusts: set "
                "C2C_OPENSEARCH_CA_CERTS to the PEM bundle of the CA that signed it (verification "
                "stays on; C2C_OPENSEARCH_VERIFY_CERTS=false only for a throwaway test cluster)."
            ) from exc
        except (os_exc.ConnectionError, os_exc.ConnectionTimeout) as exc:
            raise StoreUnavailableError(
                f"OpenSearch at {self.url} unreachable during {what}: {exc}. Check that the "
                "cluster is up and C2C_OPENSEARCH_URL is right; the run can be retried "
                "(writes are idempotent upserts)."
            ) from exc
        except os_exc.AuthenticationException as exc:
            raise StoreError(
                f"OpenSearch at {self.url} refused the credentials during {what} (401); "
                "check C2C_OPENSEARCH_USER / C2C_OPENSEARCH_PASSWORD."
            ) from exc
        except os_exc.AuthorizationException as exc:
            raise forbidden(self.url, what, exc.info, privilege=privilege, user=self.username) from exc
        except os_exc.TransportError as exc:
            if exc.status_code not in _BUSY:
                raise  # 404s and 400s are the callers' to interpret
            raise StoreUnavailableError(
                f"OpenSearch at {self.url} answered {exc.status_code} ({_BUSY[exc.status_code]}) during "
                f"{what}, still after the client's retries: {exc.error}. Nothing is lost: re-run once the "
                "cluster is healthy again (GET _cluster/health); writes are idempotent upserts."
            ) from exc

    # -- MetadataStore ------------------------------------------------------------------------

    def template_body(self, spec: IndexSpec) -> dict[str, Any]:
        return {
            "index_patterns": [self.physical(spec.name)],
            "priority": 100,
            "template": {
                "settings": {
                    "number_of_shards": self.number_of_shards,
                    "number_of_replicas": self.number_of_replicas,
                },
                "mappings": spec.mapping(),
            },
            "_meta": {"managed_by": "c2c", "id_field": spec.id_field},
        }

    def ensure_indices(self) -> None:
        for spec in ALL_INDICES:
            self._ensure_index(spec)

    def _ensure_index(self, spec: IndexSpec) -> None:
        """Send the template and create the index, once per client: the writers' set-up."""
        if spec.name in self._ready:
            return
        with self._ready_lock:
            if spec.name in self._ready:
                return
            name = self.physical(spec.name)
            self._call(
                f"PUT _index_template/{name}",
                lambda: self.client.indices.put_index_template(name=name, body=self.template_body(spec)),
            )
            exists = self._call(f"HEAD {name}", lambda: self.client.indices.exists(index=name),
                                privilege="indices:admin/get")
            if not exists:
                try:
                    self._call(f"PUT {name}", lambda: self.client.indices.create(index=name))
                except os_exc.RequestError as exc:
                    # Another worker created it between our check and create: that is fine.
                    if "resource_already_exists_exception" not in str(exc):
                        raise
            self._ready.add(spec.name)

    def _actions(self, spec: IndexSpec, docs: list[tuple[str, Document]], mode: WriteMode) -> Iterator[dict]:
        name = self.physical(spec.name)
        for doc_id, doc in docs:
            if mode == "merge":
                yield {"_op_type": "update", "_index": name, "_id": doc_id, "doc": doc, "doc_as_upsert": True}
            else:
                yield {"_op_type": "index", "_index": name, "_id": doc_id, "_source": doc}

    def upsert(
        self, index: str, docs: Iterable[Document], *, mode: WriteMode = "replace", refresh: bool = True
    ) -> WriteResult:
        spec = self.spec(index)
        result = WriteResult(index=index)
        errors: list[BulkItemError] = []
        prepared = prepare(spec, docs)
        if not prepared:
            return result
        # Before the first write, never before a read: a bulk update into a missing index would
        # create it with dynamic mappings instead of c2c's.
        self._ensure_index(spec)

        def run() -> None:
            for ok, item in helpers.streaming_bulk(
                self.client,
                self._actions(spec, prepared, mode),
                chunk_size=BULK_CHUNK,
                raise_on_error=False,  # collect every refused item; raised together below
                max_retries=3,  # 429 back-pressure is retried with backoff
            ):
                info = next(iter(item.values()))
                if ok:
                    result.written += 1
                    result.ids.append(str(info["_id"]))
                else:
                    error = info.get("error")
                    reason = (
                        f"{error.get('type')}: {error.get('reason')}" if isinstance(error, dict) else str(error)
                    )
                    errors.append(BulkItemError(str(info.get("_id")), int(info.get("status", 0)), reason))

        self._call(f"bulk write to {self.physical(index)}", run)
        self._raise_if_forbidden(f"bulk write to {self.physical(index)}", errors, self.physical(index))
        if refresh:
            self.refresh(index)
        if errors:
            raise BulkWriteError(index, errors, result.written)
        return result

    def _raise_if_forbidden(self, what: str, errors: Sequence[BulkItemError], index: str = "") -> None:
        """Items refused for want of a privilege, by an index block or by a full queue are not the
        documents' fault: raised as such (never reported as refused documents), saying what to do."""
        block = next((error for error in errors if "cluster_block_exception" in error.reason), None)
        if block is not None:
            raise blocked(self.url, index, block.reason, len(errors))
        denied = next((error for error in errors if error.status == 403), None)
        if denied is not None:
            raise forbidden(self.url, what, denied.reason, user=self.username)
        busy = [error for error in errors if error.status in _BUSY]
        if busy:
            raise StoreUnavailableError(
                f"OpenSearch at {self.url} rejected {len(busy)} document(s) of {what} with {busy[0].status} "
                f"({_BUSY[busy[0].status]}), still after 3 retries: {busy[0].reason}. Nothing is lost: "
                "re-run once the cluster keeps up (writes are idempotent upserts).")

    def refresh(self, index: str) -> None:
        name = self.physical(index)
        try:
            self._call(f"refresh {name}", lambda: self.client.indices.refresh(index=name))
        except os_exc.NotFoundError:
            pass  # nothing written yet: nothing to make visible

    def get(self, index: str, doc_id: str) -> Document | None:
        name = self.physical(index)
        try:
            hit = self._call(f"GET {name}/_doc/{doc_id}", lambda: self.client.get(index=name, id=doc_id))
        except os_exc.NotFoundError:
            return None
        return hit["_source"]

    def _search(self, index: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        name = self.physical(index)
        try:
            response = self._call(f"search {name}", lambda: self.client.search(index=name, body=body))
        except os_exc.NotFoundError:
            return []
        return response["hits"]["hits"]

    def _search_paged(
        self, index: str, query: dict[str, Any], sort: list[dict[str, Any]], limit: int,
        fields: list[str] | None = None,
    ) -> list[Document]:
        """Up to ``limit`` hits in ``sort`` order, paged with search_after: one search stops at
        the index's max_result_window (10,000), a large cluster's pods do not. ``fields``: the
        ``_source`` includes (the node sends only those)."""
        found: list[Document] = []
        after: list[Any] | None = None
        while len(found) < limit:
            size = min(self.page_size, limit - len(found))
            body: dict[str, Any] = {"size": size, "query": query, "sort": sort}
            if fields is not None:
                body["_source"] = {"includes": fields}
            if after is not None:
                body["search_after"] = after
            hits = self._search(index, body)
            found.extend(hit["_source"] for hit in hits)
            if len(hits) < size:
                break
            after = hits[-1]["sort"]
        return found

    def find(
        self,
        index: str,
        field: str,
        value: str | Sequence[str],
        *,
        prefix: bool = False,
        limit: int = 1000,
        fields: Sequence[str] | None = None,
    ) -> list[Document]:
        spec = self.spec(index)
        self.check_lookup(spec, field)
        names = None if fields is None else self.check_fields(fields)
        values = [value] if isinstance(value, str) else list(value)
        if not values:
            return []
        if prefix:
            query: dict[str, Any] = {
                "bool": {"should": [{"prefix": {field: v}} for v in values], "minimum_should_match": 1}
            }
        else:
            query = {"terms": {field: values}}
        # Newest first, ties by id: the order the embedded store uses too.
        sort = [{spec.time_field: {"order": "desc", "missing": "_last"}}, {spec.id_field: {"order": "desc"}}]
        return self._search_paged(index, {"bool": {"filter": [query]}}, sort, limit, names)

    def distinct(self, index: str, field: str, *, limit: int = 100_000) -> list[str]:
        """A composite terms aggregation, paged: any number of values, never the documents."""
        self.check_lookup(self.spec(index), field)
        name = self.physical(index)
        values: list[str] = []
        after: dict[str, Any] | None = None
        while len(values) < limit:
            composite: dict[str, Any] = {"size": min(1000, limit - len(values)),
                                         "sources": [{"value": {"terms": {"field": field}}}]}
            if after is not None:
                composite["after"] = after
            body = {"size": 0, "aggs": {"values": {"composite": composite}}}
            try:
                response = self._call(f"distinct {field} of {name}", lambda: self.client.search(index=name, body=body))
            except os_exc.NotFoundError:
                return values
            aggregation = response["aggregations"]["values"]
            values.extend(str(bucket["key"]["value"]) for bucket in aggregation["buckets"])
            after = aggregation.get("after_key")
            if not aggregation["buckets"] or after is None:
                break
        return sorted(values)

    def list_range(
        self,
        index: str,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        limit: int = 10000,
    ) -> list[Document]:
        spec = self.spec(index)
        bounds: dict[str, str] = {}
        if start is not None:
            bounds["gte"] = iso_utc(start)
        if end is not None:
            bounds["lt"] = iso_utc(end)
        query = {
            "bool": {"filter": [{"range": {spec.time_field: bounds}} if bounds else {"exists": {"field": spec.time_field}}]}
        }
        sort = [{spec.time_field: {"order": "asc"}}, {spec.id_field: {"order": "asc"}}]
        return self._search_paged(index, query, sort, limit)

    def earliest(self, index: str, field: str, value: str) -> datetime | None:
        spec = self.spec(index)
        self.check_lookup(spec, field)
        hits = self._search(index, {
            "size": 1, "_source": [spec.time_field],
            "query": {"bool": {"filter": [{"term": {field: value}}, {"exists": {"field": spec.time_field}}]}},
            "sort": [{spec.time_field: {"order": "asc"}}],
        })
        return parse_time(hits[0]["_source"].get(spec.time_field)) if hits else None

    def delete_range(self, index: str, start: datetime, end: datetime, *, keep: Iterable[str] = ()) -> int:
        spec = self.spec(index)
        query = {"bool": {"filter": [{"range": {spec.time_field: {"gte": iso_utc(start), "lt": iso_utc(end)}}}]}}
        return self._delete_matching(index, query, keep=set(keep))

    def delete_older(self, index: str, field: str, before: datetime, *,
                     where: Mapping[str, str | bool] | None = None) -> int:
        wanted = self.check_older(self.spec(index), field, where)
        filters: list[dict[str, Any]] = [{"range": {field: {"lt": iso_utc(before)}}}]
        filters += [{"term": {name: value}} for name, value in wanted.items()]
        return self._delete_matching(index, {"bool": {"filter": filters}}, keep=set())

    def _delete_matching(self, index: str, query: dict[str, Any], *, keep: set[str]) -> int:
        # Ids by a paged search, then a bulk delete: core APIs only (_delete_by_query lives in the
        # reindex module, which not every node loads, and needs a privilege of its own).
        spec = self.spec(index)
        name = self.physical(index)
        doomed: list[str] = []
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {"size": self.page_size, "_source": False, "query": query,
                                    "sort": [{spec.id_field: {"order": "asc"}}]}
            if after is not None:
                body["search_after"] = after
            hits = self._search(index, body)
            doomed += [hit["_id"] for hit in hits if hit["_id"] not in keep]
            if len(hits) < self.page_size:
                break
            after = hits[-1]["sort"]
        if not doomed:
            return 0
        actions = ({"_op_type": "delete", "_index": name, "_id": doc_id} for doc_id in doomed)
        _, failed = self._call(f"bulk delete from {name}", lambda: helpers.bulk(
            self.client, actions, chunk_size=BULK_CHUNK, raise_on_error=False))
        self.refresh(index)
        # Gone already (another run deleted it) is what we wanted; anything else is reported.
        errors = [BulkItemError(str(info.get("_id")), int(info.get("status", 0)), str(info.get("error") or info.get("result")))
                  for item in failed for info in item.values() if int(info.get("status", 0)) != 404]
        self._raise_if_forbidden(f"bulk delete from {name}", errors, name)
        if errors:
            raise BulkWriteError(index, errors, len(doomed) - len(failed))
        return len(doomed) - len(failed)

    def iter_all(self, index: str, *, batch_size: int = 1000) -> Iterator[Document]:
        spec = self.spec(index)
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "size": batch_size,
                "query": {"match_all": {}},
                "sort": [{spec.id_field: {"order": "asc"}}],
            }
            if after is not None:
                body["search_after"] = after
            hits = self._search(index, body)
            if not hits:
                return
            for hit in hits:
                yield hit["_source"]
            after = hits[-1]["sort"]

    def count(self, index: str) -> int:
        name = self.physical(index)
        try:
            self.refresh(index)
        except StoreForbiddenError:
            pass  # a reader (no refresh privilege) wrote nothing a refresh would make visible
        try:
            return int(self._call(f"count {name}", lambda: self.client.count(index=name))["count"])
        except os_exc.NotFoundError:
            return 0

    def scan(self, index: str, where: Where | None = None) -> Iterator[Document]:
        # One scroll: what c2c_reader's scroll privilege is for (k8s/opensearch/roles.yml).
        name = self.physical(index)
        query = {"query": {"bool": {"filter": [{"term": {path: value}} for path, value in (where or {}).items()]}}}
        try:
            for hit in helpers.scan(self.client, index=name, query=query, size=SEARCH_PAGE, ignore_unavailable=True):
                yield hit["_source"]
        except (os_exc.ConnectionError, os_exc.ConnectionTimeout) as exc:
            raise StoreUnavailableError(f"OpenSearch at {self.url} unreachable reading {index}: {exc}") from exc
        except os_exc.AuthorizationException as exc:
            raise forbidden(self.url, f"scroll through {name}", exc.info) from exc

    def group_stats(self, index: str, by: Sequence[str], *, newest: Sequence[str] = (),
                    where: Where | None = None) -> list[Group]:
        # A composite aggregation, paged: the counts without the documents.
        fields = self.spec(index).fields
        kinds = {path: fields[path]["type"] for path in by}
        name = self.physical(index)
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
                "query": {"bool": {"filter": [{"term": {path: value}} for path, value in (where or {}).items()]}},
                "aggs": {"groups": {"composite": composite,
                                    "aggs": {field: {"max": {"field": field}} for field in newest}}},
            }
            try:
                response = self._call(f"search {name}", lambda: self.client.search(
                    index=name, body=body, ignore_unavailable=True))
            except os_exc.NotFoundError:
                return groups
            result = (response.get("aggregations") or {}).get("groups")
            if not result:
                return groups
            for bucket in result["buckets"]:
                latest = {field: (bucket[field]["value"] / 1000 if bucket[field]["value"] is not None else None)
                          for field in newest}
                groups.append(Group(tuple(group_key_value(bucket["key"][path], kinds[path]) for path in by),
                                    bucket["doc_count"], latest))
            after = result.get("after_key")
            if not after or len(result["buckets"]) < COMPOSITE_PAGE:
                return groups

    def close(self) -> None:
        self.client.close()
        super().close()
