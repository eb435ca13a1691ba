"""The one small interface every asset writes and reads through, and its errors.

Two implementations keep the same semantics: ``OpenSearchStore`` (scale-out) and
``EmbeddedStore`` (SQLite, the laptop default). Writes are idempotent upserts keyed by the
index's id field, so re-runs and backfills never duplicate.
"""

from __future__ import annotations

import abc
import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from c2c_core.timeutil import parse_time
from c2c_dagster.store.indices import IndexSpec, index_spec

Document = dict[str, Any]
#: A ``find``/``list_range`` limit meaning "every match": both stores page through any number
#: of hits (OpenSearch with search_after past its 10,000-hit window).
FIND_ALL = 10_000_000
WriteMode = Literal["replace", "merge"]


class StoreError(RuntimeError):
    """Base class: something the operator must act on, named in the message."""


class StoreUnavailableError(StoreError):
    """The store could not be reached; nothing was written by the failed call, a retry is safe."""


class StoreForbiddenError(StoreError):
    """The store's credentials lack a privilege; ``privilege`` names it when the store said which."""

    def __init__(self, message: str, *, privilege: str | None = None, user: str | None = None):
        super().__init__(message)
        self.privilege = privilege
        self.user = user


@dataclass(frozen=True)
class BulkItemError:
    """One document the store refused, with the id and the store's reason."""

    doc_id: str
    status: int
    reason: str


class BulkWriteError(StoreError):
    """Some documents of a bulk write were refused; the others were written.

    Carries every refused id and reason: the run fails loudly, and because writes are upserts
    by id a retry after the fix writes exactly the missing ones again.
    """

    def __init__(self, index: str, errors: Sequence[BulkItemError], written: int):
        self.index = index
        self.errors = list(errors)
        self.written = written
        shown = "; ".join(f"{e.doc_id}: [{e.status}] {e.reason}" for e in self.errors[:10])
        more = f" (and {len(self.errors) - 10} more)" if len(self.errors) > 10 else ""
        super().__init__(
            f"{len(self.errors)} document(s) refused by index {index!r} ({written} written): "
            f"{shown}{more}. Fix the documents or the mapping and re-run: writes are upserts by id."
        )


class DocumentError(StoreError):
    """A document cannot be stored as given (e.g. it has no id)."""


@dataclass
class WriteResult:
    """What a bulk upsert did."""

    index: str
    written: int = 0
    ids: list[str] = field(default_factory=list)


def doc_id_of(spec: IndexSpec, doc: Mapping[str, Any]) -> str:
    """The deterministic id of ``doc`` in ``spec``'s index; a missing id is refused, not invented."""
    value = doc.get(spec.id_field)
    if value is None or value == "":
        raise DocumentError(
            f"document for index {spec.name!r} has no {spec.id_field!r}; "
            f"every document needs a deterministic id so writes stay idempotent"
        )
    return str(value)


@functools.lru_cache(maxsize=1024)
def _parts(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def values_at(doc: Mapping[str, Any], path: str) -> list[Any]:
    """All values at a dot path, walking through lists as OpenSearch does for object arrays."""
    # Runs for every typed and lookup field of every document written: plain dicts (what the
    # documents are) are tested with type() before the slower Mapping ABC check.
    current: list[Any] = [doc]
    for part in _parts(path):
        nxt: list[Any] = []
        for item in current:
            if (type(item) is dict or isinstance(item, Mapping)) and part in item:
                value = item[part]
                if isinstance(value, list):
                    nxt.extend(value)
                else:
                    nxt.append(value)
        current = nxt
    flat: list[Any] = []
    for value in current:
        if isinstance(value, list):
            flat.extend(v for v in value if v is not None)
        elif value is not None:
            flat.append(value)
    return flat


def field_type_error(spec: IndexSpec, doc: Mapping[str, Any]) -> str | None:
    """Why OpenSearch would refuse ``doc`` under ``spec``'s mapping, or None.

    The embedded store applies the same rule so a document is accepted by both stores or by
    neither: numbers within their type's range (numeric strings are coerced, as OpenSearch does),
    dates, booleans; keyword and text fields take any scalar but no object, and a keyword value
    at most Lucene's 32,766 bytes.
    """
    return type_checker(spec.typed_fields)(doc)


# The ranges of OpenSearch's integral field types (Java's long and int).
_RANGES = {"long": (-(2**63), 2**63 - 1), "integer": (-(2**31), 2**31 - 1)}
# Lucene refuses a single indexed term longer than this many bytes of UTF-8 (a keyword value is
# one term); OpenSearch then refuses the whole document.
MAX_TERM_BYTES = 32766
# Up to this many characters a str is at most MAX_TERM_BYTES of UTF-8 (4 bytes a character at most).
_SHORT_TERM = MAX_TERM_BYTES // 4


def _value_problem(path: str, kind: str, value: Any) -> str | None:
    """The rule itself, for one value of a typed field (``field_type_error``): the reasons
    OpenSearch gives, by kind (the store contract suite checks them against the real node)."""
    if kind in ("keyword", "text"):
        if isinstance(value, Mapping):
            return f"mapper_parsing_exception: failed to parse field [{path}] of type [{kind}]: an object"
        if kind == "keyword" and isinstance(value, str) and len(value) > _SHORT_TERM:
            size = len(value.encode("utf-8", "surrogatepass"))
            if size > MAX_TERM_BYTES:
                return (f"illegal_argument_exception: Document contains at least one immense term in "
                        f"field=\"{path}\" (whose UTF8 encoding is longer than the max length {MAX_TERM_BYTES}): "
                        f"{size} bytes")
        return None
    if kind in ("long", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | str) or (
            isinstance(value, str) and not value.strip().lstrip("-").isdigit()
        ):
            return f"mapper_parsing_exception: failed to parse field [{path}] of type [{kind}]: {value!r}"
        low, high = _RANGES[kind]
        if not low <= int(value) <= high:
            return (f"mapper_parsing_exception: failed to parse field [{path}] of type [{kind}]: "
                    f"{value!r} is out of range of {kind}")
    elif kind == "date":
        try:
            parse_time(value)
        except (TypeError, ValueError):
            return f"mapper_parsing_exception: failed to parse field [{path}] of type [date]: {value!r}"
    elif kind == "boolean" and value not in (True, False, "true", "false"):
        return f"mapper_parsing_exception: failed to parse field [{path}] of type [boolean]: {value!r}"
    return None


def _is_long(value: Any) -> bool:
    return type(value) is int and -(2**63) <= value < 2**63


def _is_integer(value: Any) -> bool:
    return type(value) is int and -(2**31) <= value < 2**31


def _is_keyword(value: Any) -> bool:
    return type(value) is str and len(value) <= _SHORT_TERM


def _is_text(value: Any) -> bool:
    return type(value) is str


def _is_bool(value: Any) -> bool:
    return value is True or value is False


def _is_iso_time(value: Any) -> bool:
    """An ISO 8601 string ``parse_time`` reads (the common case of a date field), parsed as it does."""
    if type(value) is not str:
        return False
    try:
        parse_time(value)
    except ValueError:
        return False
    return True


_PLAIN = {"long": _is_long, "integer": _is_integer, "boolean": _is_bool, "date": _is_iso_time,
          "keyword": _is_keyword, "text": _is_text}
Check = Callable[[Mapping[str, Any]], "str | None"]


def _path_check(path: str, kind: str) -> Check:
    """The rule for one typed field, compiled for its path. A value of the plain form (an int, a
    bool, an ISO string) is passed at once; anything else (a numeric string, a list, an odd
    nesting) goes to the general rule, which decides exactly as ``values_at`` + the rule would."""

    def general(doc: Mapping[str, Any]) -> str | None:
        for value in values_at(doc, path):
            problem = _value_problem(path, kind, value)
            if problem is not None:
                return problem
        return None

    plain = _PLAIN.get(kind)
    parts = _parts(path)
    if plain is None or len(parts) > 2:
        return general
    if len(parts) == 1:
        (key,) = parts

        def top_level(doc: Mapping[str, Any]) -> str | None:
            value = doc.get(key)
            return None if value is None or plain(value) else general(doc)

        return top_level
    outer, inner = parts

    def in_objects(doc: Mapping[str, Any]) -> str | None:
        items = doc.get(outer)
        if items is None:
            return None
        if type(items) is not list:
            return general(doc)
        for item in items:
            if type(item) is not dict:
                return general(doc)
            value = item.get(inner)
            if value is not None and not plain(value):
                return general(doc)
        return None

    return in_objects


@functools.lru_cache(maxsize=256)
def type_checker(typed_fields: tuple[tuple[str, str], ...]) -> Check:
    """``field_type_error`` for one index's typed fields, compiled once: called for every document
    the embedded store writes, it visits each typed field by its path directly instead of walking
    the document generically, and reports the first problem in the fields' order."""
    checks = tuple(_path_check(path, kind) for path, kind in typed_fields)

    def check(doc: Mapping[str, Any]) -> str | None:
        for one in checks:
            problem = one(doc)
            if problem is not None:
                return problem
        return None

    return check


@functools.lru_cache(maxsize=1024)
def values_getter(path: str) -> Callable[[Mapping[str, Any]], list[Any]]:
    """``values_at`` for one path, compiled: the same values, with a direct walk for the common
    shapes (a top-level value; a list of objects' values, e.g. ``commits.commit_id``)."""
    parts = _parts(path)
    if len(parts) == 1:
        (key,) = parts

        def top_level(doc: Mapping[str, Any]) -> list[Any]:
            value = doc.get(key)
            if value is None:
                return []
            return values_at(doc, path) if type(value) is list else [value]

        return top_level
    if len(parts) == 2:
        outer, inner = parts

        def in_objects(doc: Mapping[str, Any]) -> list[Any]:
            items = doc.get(outer)
            if items is None:
                return []
            if type(items) is not list:
                return values_at(doc, path)
            found = []
            for item in items:
                if type(item) is not dict:
                    return values_at(doc, path)
                value = item.get(inner)
                if value is None:
                    continue
                if type(value) is list:
                    return values_at(doc, path)
                found.append(value)
            return found

        return in_objects
    return functools.partial(_values_at_path, path=path)


def _values_at_path(doc: Mapping[str, Any], *, path: str) -> list[Any]:
    return values_at(doc, path)


def prepare(spec: IndexSpec, docs: Iterable[Document]) -> list[tuple[str, Document]]:
    """Pair every document with its id before anything is written.

    A batch with an id-less document is refused whole, so no store ever holds half of it.
    """
    return [(doc_id_of(spec, doc), doc) for doc in docs]


#: Field path -> value every document must hold there (a dotted path reaches into objects and lists).
Where = Mapping[str, str | bool]


@dataclass(frozen=True)
class Group:
    """Documents sharing the values of the group-by fields (None where a document has none)."""

    key: tuple[str | None, ...]
    count: int
    latest: dict[str, float | None] = field(default_factory=dict)  # date field -> newest, epoch seconds


def group_key_value(value: Any, kind: str = "keyword") -> str | None:
    """A group key as both stores give it: a string, booleans as ``true``/``false``, None for none."""
    if value is None:
        return None
    if isinstance(value, bool) or kind == "boolean":
        # OpenSearch may key a boolean bucket 1/0; a document holds true/false.
        return "true" if value in (True, 1, "true") else "false"
    return str(value)


def matches(doc: Mapping[str, Any], where: Where) -> bool:
    return all(value in values_at(doc, path) for path, value in where.items())


def group_documents(spec: IndexSpec, docs: Iterable[Mapping[str, Any]], by: Sequence[str],
                    newest: Sequence[str]) -> list[Group]:
    """``group_stats`` over documents in hand, sorted by key (a store that iterates computes it so)."""
    kinds = {path: spec.fields[path]["type"] for path in by}
    counts: dict[tuple[str | None, ...], int] = defaultdict(int)
    latest: dict[tuple[str | None, ...], dict[str, float | None]] = defaultdict(dict)
    for doc in docs:
        key = tuple(group_key_value(next(iter(values_at(doc, path)), None), kinds[path]) for path in by)
        counts[key] += 1
        for name in newest:
            moment = parse_time(next(iter(values_at(doc, name)), None))
            if moment is not None:
                value = moment.timestamp()
                current = latest[key].get(name)
                latest[key][name] = value if current is None else max(current, value)
    return [Group(key, count, {name: latest[key].get(name) for name in newest}) for key, count in sorted(
        counts.items(), key=lambda item: tuple(v or "" for v in item[0]))]


class MetadataStore(abc.ABC):
    """Upsert, lookup and time-range listing over the seed's indices."""

    #: Short name for logs and metadata ("opensearch" or "embedded").
    kind: str
    #: Set by ``close``: ``shared_store`` then opens a new client instead of handing this one out.
    closed: bool = False

    @abc.abstractmethod
    def ensure_indices(self) -> None:
        """Create every index template/table if missing (idempotent): ``c2c store init``.

        Writers need not call it: the first write to an index in a process sets that index up.
        Readers never do: reading a missing index finds nothing.
        """

    @abc.abstractmethod
    def upsert(
        self,
        index: str,
        docs: Iterable[Document],
        *,
        mode: WriteMode = "replace",
        refresh: bool = True,
    ) -> WriteResult:
        """Write ``docs`` keyed by the index's id field.

        ``replace`` stores each document as given; ``merge`` updates the given top-level fields
        of an existing document (creating it if absent), for refreshing e.g. a last-seen time.
        ``refresh`` makes the writes visible to the next read before returning.
        """

    @abc.abstractmethod
    def get(self, index: str, doc_id: str) -> Document | None:
        """One document by id, or None."""

    @abc.abstractmethod
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
        """Documents whose keyword ``field`` equals ``value`` (any of, for a list) or starts with it.

        ``fields``: only these top-level fields of each document, those it holds (a null is
        kept, an absent field stays absent), as OpenSearch's ``_source`` includes return them:
        for a reader that compares a few fields of many documents and need not hold them whole.
        """

    @abc.abstractmethod
    def distinct(self, index: str, field: str, *, limit: int = 100_000) -> list[str]:
        """The distinct values of keyword lookup ``field`` across the index, sorted (e.g. every
        image name CI ever pushed), without reading the documents."""

    @abc.abstractmethod
    def list_range(
        self,
        index: str,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        limit: int = 10000,
    ) -> list[Document]:
        """Documents whose time field lies in [start, end), oldest first."""

    @abc.abstractmethod
    def earliest(self, index: str, field: str, value: str) -> datetime | None:
        """The oldest time-field value among documents whose keyword lookup ``field`` equals
        ``value`` (e.g. a cluster's first scan), without reading the documents; None if none match."""

    @abc.abstractmethod
    def delete_range(self, index: str, start: datetime, end: datetime, *, keep: Iterable[str] = ()) -> int:
        """Delete the documents whose time field lies in [start, end) and whose id is not in
        ``keep``: what a recomputation of that range no longer produces (call it after writing the
        new documents, so readers never see the range empty). How many were deleted."""

    @abc.abstractmethod
    def delete_older(self, index: str, field: str, before: datetime, *,
                     where: Mapping[str, str | bool] | None = None) -> int:
        """Delete the documents whose date ``field`` is before ``before`` and whose top-level
        fields equal every value in ``where`` (e.g. ``{"running": False}``); a document without
        ``field`` is kept (an open version has no ``until``). Retention's one write. How many
        were deleted; a retry after a failure deletes the rest."""

    @abc.abstractmethod
    def iter_all(self, index: str, *, batch_size: int = 1000) -> Iterator[Document]:
        """Every document of an index, in pages (for joins over whole indices)."""

    @abc.abstractmethod
    def count(self, index: str) -> int:
        """How many documents the index holds (after making recent writes visible)."""

    @abc.abstractmethod
    def scan(self, index: str, where: Where | None = None) -> Iterator[Document]:
        """Every document of ``index`` whose fields equal ``where``'s values, streamed (e.g. every
        running record, on each exporter scrape); order unspecified."""

    @abc.abstractmethod
    def group_stats(self, index: str, by: Sequence[str], *, newest: Sequence[str] = (),
                    where: Where | None = None) -> list[Group]:
        """Count the documents of ``index`` (those matching ``where``) per distinct combination of
        the ``by`` fields, with the newest value of each date field in ``newest`` (epoch seconds),
        without handing the documents over (e.g. release events per workload)."""

    def close(self) -> None:
        """Release connections."""
        self.closed = True

    def __enter__(self) -> "MetadataStore":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @staticmethod
    def spec(index: str) -> IndexSpec:
        return index_spec(index)

    @staticmethod
    def check_fields(fields: Sequence[str]) -> list[str]:
        """``find``'s projection as a list: top-level field names, so both stores read them alike
        (no dots, which OpenSearch would read as paths, and no wildcards or quotes)."""
        if isinstance(fields, str):
            raise TypeError(f"fields={fields!r}: give a list of field names, not one string")
        names = list(dict.fromkeys(fields))
        bad = [name for name in names if not name or any(c in name for c in '.*"\\')]
        if bad or not names:
            raise ValueError(f"fields={list(fields)!r}: give one or more top-level document field names, "
                             f"without dots, wildcards or quotes (refused: {bad})")
        return names

    @staticmethod
    def check_older(spec: IndexSpec, field: str, where: Mapping[str, str | bool] | None) -> dict[str, str | bool]:
        """``delete_older``'s arguments, checked alike by both stores: ``field`` a top-level date
        field, ``where`` top-level keyword fields with strings and boolean fields with booleans
        (a term query on an unmapped field matches nothing in OpenSearch, so it is refused here)."""
        if "." in field or spec.fields.get(field, {}).get("type") != "date":
            raise KeyError(f"{field!r} is not a date field of index {spec.name!r}")
        wanted = dict(where or {})
        for name, value in wanted.items():
            kind = None if "." in name else spec.fields.get(name, {}).get("type")
            if kind not in ("keyword", "boolean"):
                raise KeyError(f"where: {name!r} is not a top-level keyword or boolean field of index {spec.name!r}")
            if (kind == "boolean") != isinstance(value, bool):
                raise TypeError(f"where: {name!r} is a {kind} field of index {spec.name!r}; "
                                f"give {'True or False' if kind == 'boolean' else 'a string'}, not {value!r}")
        return wanted

    @staticmethod
    def check_lookup(spec: IndexSpec, field: str) -> None:
        if field not in spec.lookup_fields:
            raise KeyError(
                f"{field!r} is not a lookup field of index {spec.name!r}; "
                f"lookup fields: {', '.join(spec.lookup_fields)}"
            )
