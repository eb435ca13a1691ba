"""Listing a Kubernetes API server the way kube-state-metrics does: one paginated LIST per
resource type, for every part of c2c that reads a cluster (the snapshot's ``kubernetes/collect.py``,
Argo CD's ``argocd/listing.py``).

No GET per object and no LIST per workload: each type is listed cluster-wide (or once per
namespace for a scoped post-sync snapshot), page by page, and every item is reduced as soon as it
is decoded (by its type's ``slim``, or a ``reduce`` given to ``collect``). Pages are fetched as raw
JSON (``_preload_content=False``): the generated model classes cost several times the parse time
for fields c2c never reads.

Memory: ``DEFAULT_PAGE_SIZE`` (500) items per page; the page's JSON text (and, while it is
reduced, the next page's, fetched ahead) plus one decoded item at a time, never a whole page
decoded: a page of 500 kwok pods is 2.6 MB of text, ~13 MB decoded whole. A 10,000-pod snapshot
peaks 3.8 MiB per 1,000 pods above the process's baseline
(``benchmarks/deployment_snapshot_memory.py``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from c2c_dagster.documents.base import gc_paused

Slim = dict[str, Any]

# An expired continue token (410) restarts the list; more restarts than this means the
# cluster changes faster than we can page through it, which a retry later handles better.
MAX_LIST_RESTARTS = 3
# Items per LIST page, kube-state-metrics' and client-go's pager default. One page's JSON text is
# alive at a time (a kwok pod is ~5 KB of JSON, real pods 5-20 KB: 2.5-10 MB per page).
DEFAULT_PAGE_SIZE = 500


class ClusterReadError(RuntimeError):
    """The API server answered a LIST with an error c2c cannot work around (5xx, 401, ...)."""


class ClusterUnreachableError(ClusterReadError):
    """The API server could not be reached or timed out; nothing was written, a retry is safe."""


@dataclass(frozen=True)
class ResourceType:
    """One type c2c lists, and how one of its items is reduced."""

    key: str  # plural resource name, e.g. "statefulsets"
    kind: str
    group: str  # "" for the core API group
    version: str
    namespaced: bool
    slim: Callable[[dict[str, Any]], Slim]
    # Absent from the cluster is fine (404): a CRD such as Argo CD's Application is optional.
    optional: bool = False
    # Listed cluster-wide even when a collection is scoped to namespaces: objects that live in a
    # namespace of their own, not the workloads' (Argo CD's Applications).
    cluster_wide: bool = False

    @property
    def resource(self) -> str:
        return self.key

    def path(self, namespace: str | None = None) -> str:
        base = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        if namespace:
            return f"{base}/namespaces/{namespace}/{self.resource}"
        return f"{base}/{self.resource}"

    def rule(self) -> str:
        """The ClusterRole rule that allows listing this type, in the manifest's own syntax."""
        return f'{{apiGroups: ["{self.group}"], resources: ["{self.resource}"], verbs: ["list"]}}'


@dataclass(frozen=True)
class CollectError:
    """A type that could not be read; the snapshot is partial and says exactly what to grant."""

    verb: str
    resource: str
    group: str
    status: int
    namespace: str | None
    message: str
    rule: str

    def describe(self) -> str:
        group = self.group or '"" (core)'
        where = f" in namespace {self.namespace}" if self.namespace else " cluster-wide"
        return (
            f"{self.verb} {self.resource} (API group {group}){where} failed with {self.status}: "
            f"{self.message}. Add this rule to the c2c-collector ClusterRole: {self.rule}"
        )


@dataclass
class Collection:
    """Slim objects per type, what could not be read, and how much it cost."""

    # Slim dicts per type (or what a ``reduce`` given to ``collect`` made of each item).
    items: dict[str, list[Any]] = field(default_factory=dict)
    errors: list[CollectError] = field(default_factory=list)
    # Types listed (asked for) into this collection, whether or not their LISTs succeeded.
    listed: set[str] = field(default_factory=set)
    # Types whose every requested LIST succeeded: only for these may absence mean "deleted".
    complete: set[str] = field(default_factory=set)
    absent: set[str] = field(default_factory=set)  # optional types the cluster does not serve
    list_calls: int = 0
    restarts: int = 0
    seconds: float = 0.0

    @property
    def partial(self) -> bool:
        return bool(self.errors)

    @property
    def unread(self) -> frozenset[str]:
        """Types the cluster serves that could not be read completely (403, ...): what the join
        of this collection does not know, as opposed to types the cluster does not serve."""
        return frozenset(self.listed) - self.complete - self.absent

    def of(self, key: str) -> list[Slim]:
        return self.items.get(key, [])


class PageLister(Protocol):
    """Fetches one LIST page as parsed JSON (``items``, ``metadata.continue``)."""

    def __call__(self, path: str, limit: int, continue_token: str | None) -> dict[str, Any]: ...


_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")


class _PageItems:
    """A LIST page's ``items``, decoded one at a time from the page's text as they are iterated
    (once): a page of 500 pods parsed whole is ~5x its text in Python objects, and only one item
    at a time needs to exist before it is reduced."""

    __slots__ = ("_text", "_start")

    def __init__(self, text: str, start: int):
        self._text, self._start = text, start  # start: the position of the opening "["

    def __iter__(self) -> Iterator[dict[str, Any]]:
        text, i = self._text, self._start
        self._text = ""  # one pass; the text goes with the generator
        skip, decode = _WHITESPACE.match, _DECODER.raw_decode
        i = skip(text, i + 1).end()  # type: ignore[union-attr]
        if text[i] == "]":
            return
        while True:
            item, i = decode(text, i)
            yield item
            i = skip(text, i).end()  # type: ignore[union-attr]
            if text[i] == "]":
                return
            if text[i] != ",":
                raise ValueError(f"LIST page: expected ',' or ']' at {i}, found {text[i:i + 20]!r}")
            i = skip(text, i + 1).end()  # type: ignore[union-attr]


def parse_list_page(data: bytes | str) -> dict[str, Any]:
    """A LIST response as ``json.loads`` would give it, except that ``items`` is decoded lazily
    when it follows ``metadata`` (the API server's order: kind, apiVersion, metadata, items), so
    the continue token is known before any item is decoded. In any other order it is decoded
    whole, as ``json.loads`` does."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    skip, decode = _WHITESPACE.match, _DECODER.raw_decode
    i = skip(text, 0).end()  # type: ignore[union-attr]
    if text[i:i + 1] != "{":
        return json.loads(text)  # not an object: json's own error (or value) for it
    page: dict[str, Any] = {}
    i = skip(text, i + 1).end()  # type: ignore[union-attr]
    while text[i] != "}":
        key, i = decode(text, i)
        i = skip(text, i).end()  # type: ignore[union-attr]
        if text[i] != ":":
            raise ValueError(f"LIST page: expected ':' at {i}")
        i = skip(text, i + 1).end()  # type: ignore[union-attr]
        if key == "items" and "metadata" in page and text[i] == "[":
            # Items last, as the API server writes them: the rest of the text is theirs.
            page["items"] = _PageItems(text, i)
            return page
        page[key], i = decode(text, i)
        i = skip(text, i).end()  # type: ignore[union-attr]
        if text[i] == ",":
            i = skip(text, i + 1).end()  # type: ignore[union-attr]
        elif text[i] != "}":
            raise ValueError(f"LIST page: expected ',' or '}}' at {i}")
    return page


def api_page_lister(api: ApiClient, timeout_seconds: float) -> PageLister:
    """A ``PageLister`` over a real API client: raw JSON, explicit (connect, read) timeouts."""

    def list_page(path: str, limit: int, continue_token: str | None) -> dict[str, Any]:
        query: list[tuple[str, Any]] = [("limit", limit)]
        if continue_token:
            query.append(("continue", continue_token))
        response = api.call_api(
            path,
            "GET",
            query_params=query,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
            _request_timeout=(min(timeout_seconds, 10.0), timeout_seconds),
        )
        return parse_list_page(response.data)

    return list_page


def _message(exc: ApiException) -> str:
    try:
        return json.loads(exc.body).get("message") or exc.reason
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)


def list_all(
    lister: PageLister,
    rtype: ResourceType,
    namespace: str | None,
    page_size: int,
    collection: Collection,
    prefetch: ThreadPoolExecutor | None = None,
    reduce: Callable[[dict[str, Any]], Any] | None = None,
) -> list[Any]:
    """Every item of one type (in one namespace, or cluster-wide), slimmed page by page.

    With ``prefetch``, page N+1 is requested as soon as page N's continue token is known and
    fetched while page N is reduced, so the API server's work overlaps ours; at most two raw
    pages are alive at once. A ``410 Gone`` means the continue token expired (etcd compacted
    the snapshot it pointed into): the items seen so far may mix two versions of the cluster,
    so the list restarts. ``reduce`` replaces the type's own slimming; an item it reduces to
    None is left out.
    """
    path = rtype.path(namespace)
    reducer = reduce or rtype.slim

    def fetch(token: str | None) -> Callable[[], dict[str, Any]]:
        collection.list_calls += 1
        if prefetch is None:
            page = lister(path, page_size, token)
            return lambda: page
        return prefetch.submit(lister, path, page_size, token).result

    for _attempt in range(MAX_LIST_RESTARTS + 1):
        slim: list[Any] = []
        try:
            pending = fetch(None)
            while True:
                page = pending()
                token = (page.get("metadata") or {}).get("continue") or None
                if token:
                    pending = fetch(token)
                slim.extend(kept for kept in map(reducer, page.get("items") or []) if kept is not None)
                del page  # the raw page is garbage as soon as it is reduced
                if not token:
                    return slim
        except ApiException as exc:
            if exc.status == 410:
                collection.restarts += 1
                continue
            raise
    raise ClusterReadError(
        f"LIST {rtype.path(namespace)}: continue token expired {MAX_LIST_RESTARTS + 1} times in a row "
        "(the cluster changes faster than it can be paged); the run's retry will try again"
    )


def collect(
    lister: PageLister,
    *,
    types: Iterable[ResourceType],
    server: str = "",
    namespaces: Iterable[str] = (),
    page_size: int = DEFAULT_PAGE_SIZE,
    into: Collection | None = None,
    reduce: Callable[[dict[str, Any]], Any] | None = None,
) -> Collection:
    """List every one of ``types`` (cluster-wide, or once per namespace when ``namespaces`` is given).

    A 403 on a type is recorded with the rule that would allow it and the other types are still
    read (the snapshot is then partial). An unreachable or timing-out API server raises
    ``ClusterUnreachableError``: a snapshot without the API server is no snapshot at all.
    ``into`` adds to a collection begun by an earlier call; ``reduce`` replaces the types' own
    slimming (``snapshot_cluster`` joins each pod as its page arrives).
    """
    started = time.monotonic()
    scoped = sorted(set(namespaces))
    collection = into if into is not None else Collection()
    with gc_paused(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="c2c-list") as prefetch:
        _collect_types(lister, collection, types, scoped, server, page_size, prefetch, reduce)
    collection.seconds += time.monotonic() - started
    return collection


def _collect_types(
    lister: PageLister,
    collection: Collection,
    types: Iterable[ResourceType],
    scoped: list[str],
    server: str,
    page_size: int,
    prefetch: ThreadPoolExecutor,
    reduce: Callable[[dict[str, Any]], Any] | None,
) -> None:
    for rtype in types:
        # Cluster-scoped types (nodes) and cluster_wide ones are listed cluster-wide even for a
        # namespace-scoped collection.
        targets: list[str | None] = (
            list(scoped) if scoped and rtype.namespaced and not rtype.cluster_wide else [None]
        )
        items: list[Slim] = []
        ok = True
        for namespace in targets:
            try:
                items.extend(list_all(lister, rtype, namespace, page_size, collection, prefetch, reduce))
            except ApiException as exc:
                if exc.status == 404 and rtype.optional:
                    collection.absent.add(rtype.key)
                    ok = False
                    break
                if exc.status in (403, 404):
                    # 404 on a namespaced LIST of a served type does not happen; 403 is RBAC.
                    collection.errors.append(
                        CollectError("list", rtype.resource, rtype.group, int(exc.status), namespace,
                                     _message(exc), rtype.rule())
                    )
                    ok = False
                    continue
                if exc.status == 0:  # the client's own wrapper for TLS failures
                    raise ClusterUnreachableError(f"API server {server}: {exc.reason}") from exc
                raise ClusterReadError(
                    f"LIST {rtype.path(namespace)} on {server} failed with {exc.status}: {_message(exc)}"
                ) from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                # MaxRetryError (connection refused, DNS), timeouts, resets: all "unreachable".
                raise ClusterUnreachableError(
                    f"API server {server} unreachable while listing {rtype.resource}: {exc}; "
                    "nothing was written, the run's retry policy will try again"
                ) from exc
        collection.items[rtype.key] = items
        collection.listed.add(rtype.key)
        if ok:
            collection.complete.add(rtype.key)
