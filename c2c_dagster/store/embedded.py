"""The embedded default store: one SQLite file, same semantics as the OpenSearch store.

Used when no OpenSearch URL is configured, so ``dagster dev`` works on a laptop with nothing
else running. Each index is a table of JSON documents keyed by id. Finds are index scans, not
JSON scans: a top-level lookup field holding a string (digest, tag, job, cluster) is served by an
index on the expression ``json_extract(body, '$."field"')``, which SQLite fills inside the insert;
the other lookup values (in arrays of objects such as ``commits.commit_id``, lists, non-strings)
are copied into the ``lookup_keys`` table. The id field is the table's primary key.
As with OpenSearch, only writes create anything: reading a store file that does not exist yet
finds nothing and leaves no file behind.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from c2c_core.timeutil import iso_utc, parse_time, to_epoch_ms
from c2c_dagster.documents.base import gc_paused
from c2c_dagster.store.base import (
    BulkItemError,
    BulkWriteError,
    Document,
    Group,
    MetadataStore,
    StoreUnavailableError,
    Where,
    WriteMode,
    WriteResult,
    group_documents,
    matches,
    prepare,
    type_checker,
    values_at,
    values_getter,
)
from c2c_dagster.store.indices import ALL_INDICES, IndexSpec

#: Lookup values that no expression index serves, one row per (document, field, value).
LOOKUP_KEYS = """
CREATE TABLE IF NOT EXISTS lookup_keys (
    idx   TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    id    TEXT NOT NULL
)""", (
    "CREATE INDEX IF NOT EXISTS lookup_by_value ON lookup_keys (idx, field, value)",
    "CREATE INDEX IF NOT EXISTS lookup_by_doc ON lookup_keys (idx, id)",
)


def _json_path(name: str) -> str:
    """The SQLite JSON path of a top-level field (quoted: names like ``pod-template-hash``)."""
    return f'$."{name}"'


def _quoted(text: str) -> str:
    """A SQL string literal (index and field names are the models' own, but quote them anyway)."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class _Layout:
    """How one index is stored: its table, which lookup fields its expression indexes serve, and
    the compiled type check and key getters its writes run for every document."""

    spec: IndexSpec
    table: str
    indexed: tuple[str, ...]  # top-level lookup fields other than the id: string values indexed
    keyed: tuple[tuple[str, Callable[[Mapping[str, Any]], list[Any]]], ...]  # paths into objects
    check: Callable[[Mapping[str, Any]], str | None]

    @classmethod
    def of(cls, spec: IndexSpec) -> _Layout:
        top = tuple(f for f in spec.lookup_fields if "." not in f and f != spec.id_field)
        nested = tuple((f, values_getter(f)) for f in spec.lookup_fields if "." in f)
        return cls(spec, "documents_" + spec.name.replace("-", "_"), top, nested, type_checker(spec.typed_fields))

    @staticmethod
    def path(field: str) -> str:
        """The JSON path literal of a top-level field, spelled the same in every index and query."""
        return _quoted(_json_path(field))

    def expression(self, field: str, body: str = "body") -> str:
        return f"json_extract({body}, {self.path(field)})"

    def is_text(self, field: str, body: str = "body") -> str:
        # A list or a number in a keyword field is found through lookup_keys (as str() of each
        # value), never by the JSON text of the list: the index holds string values only.
        return f"json_type({body}, {self.path(field)}) = 'text'"

    def schema(self) -> list[str]:
        statements = [
            f"CREATE TABLE IF NOT EXISTS {self.table} (id TEXT PRIMARY KEY, ts_ms INTEGER, body TEXT NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {self.table}_by_time ON {self.table} (ts_ms)",
        ]
        for field in self.indexed:
            statements.append(
                f'CREATE INDEX IF NOT EXISTS "{self.table}_by_{field}" ON {self.table} '
                f"({self.expression(field)}) WHERE {self.is_text(field)}"
            )
        return statements

    def keys(self, doc_id: str, body: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
        """The lookup_keys rows of one document: only the values no expression index serves."""
        index = self.spec.name
        rows = []
        for field in self.indexed:
            value = body.get(field)
            if value is not None and type(value) is not str:
                rows.extend((index, field, v, doc_id) for v in dict.fromkeys(map(str, values_at(body, field))))
        for field, getter in self.keyed:
            values = getter(body)
            if len(values) == 1:  # the common case (one commit, one platform) without de-duplicating
                rows.append((index, field, str(values[0]), doc_id))
            elif values:
                rows.extend((index, field, v, doc_id) for v in dict.fromkeys(map(str, values)))
        return rows


LAYOUTS: dict[str, _Layout] = {spec.name: _Layout.of(spec) for spec in ALL_INDICES}
SCHEMA: tuple[str, ...] = (LOOKUP_KEYS[0], *LOOKUP_KEYS[1], *(s for layout in LAYOUTS.values() for s in layout.schema()))
# Stamped into the file (PRAGMA user_version) once its schema is in place: a file whose stamp
# differs (older c2c, or a model that gained a lookup field) is brought up to date on open.
SCHEMA_STAMP = zlib.crc32("\n".join(SCHEMA).encode()) & 0x7FFFFFFF


#: How bodies are written: ``json.dumps``'s output, but NaN and infinity refused (ValueError)
#: rather than written as the non-JSON ``NaN``, which SQLite's JSON functions (the lookup
#: indexes) cannot read.
encode_body = json.JSONEncoder(allow_nan=False).encode


def table_of(index: str) -> str:
    """The table holding ``index``'s documents."""
    return LAYOUTS[index].table


def _prefix_end(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix``, None when there is none:
    SQLite compares text as UTF-8 bytes, which is code-point order, so ``[prefix, end)`` is
    exactly the strings with that prefix, a range an index can seek."""
    while prefix:
        following = ord(prefix[-1]) + 1
        if following <= 0x10FFFF:
            if 0xD800 <= following <= 0xDFFF:  # surrogates are no characters in UTF-8
                following = 0xE000
            return prefix[:-1] + chr(following)
        prefix = prefix[:-1]
    return None


def _match(column: str, values: Sequence[str], prefix: bool) -> tuple[str, list[str]]:
    """A condition on ``column``: equal to one of ``values``, or starting with one of them."""
    if not prefix:
        # One parameter for any number of values: no bound-parameter limit, and each part of a
        # find binds its own copy.
        return f"{column} IN (SELECT value FROM json_each(?))", [json.dumps([str(v) for v in values])]
    clauses, params = [], []
    for value in values:
        end = _prefix_end(value)
        clauses.append(f"({column} >= ? AND {column} < ?)" if end is not None else f"{column} >= ?")
        params.extend([value, end] if end is not None else [value])
    return "(" + " OR ".join(clauses) + ")", params


def _has_shared_table(conn: sqlite3.Connection) -> bool:
    """Whether the earlier layout's ``documents`` table holds documents of an index c2c knows."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'documents'").fetchone() is None:
        return False
    known = json.dumps(list(LAYOUTS))
    return conn.execute("SELECT 1 FROM documents WHERE idx IN (SELECT value FROM json_each(?)) LIMIT 1",
                        (known,)).fetchone() is not None


def _migrate_shared_table(conn: sqlite3.Connection) -> None:
    """Files written before each index had its table kept every document in one ``documents``
    table (and every lookup value in ``lookup_keys``): move the documents into their index's
    table. Their lookup_keys rows stay valid (finds read both, and a rewrite replaces them). An
    earlier c2c run on a file of this layout writes that table again: its documents move too."""
    if not _has_shared_table(conn):
        return
    for layout in LAYOUTS.values():
        conn.execute(f"INSERT OR REPLACE INTO {layout.table} (id, ts_ms, body) "
                     f"SELECT id, ts_ms, body FROM documents WHERE idx = ?", (layout.spec.name,))
        conn.execute("DELETE FROM documents WHERE idx = ?", (layout.spec.name,))
    # Rows of an index this version does not know are left where they are, not lost.
    if conn.execute("SELECT 1 FROM documents LIMIT 1").fetchone() is None:
        conn.execute("DROP TABLE documents")


def _prepare_file(conn: sqlite3.Connection) -> None:
    """Create the schema, or bring an older file's up to date, in one transaction; a file already
    stamped with this schema is left alone (no write lock for a reader that only opens it)."""
    if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_STAMP and not _has_shared_table(conn):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Again inside the lock: another process may have done it meanwhile.
        if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_STAMP or _has_shared_table(conn):
            for statement in SCHEMA:
                conn.execute(statement)
            _migrate_shared_table(conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_STAMP}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class EmbeddedStore(MetadataStore):
    kind = "embedded"

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        self._local = threading.local()
        # Every thread's connection, so close() releases them all (not only the caller's).
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        # One connection per thread: a SQLite connection serves one transaction at a time.
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailableError(
                    f"embedded store: cannot create {self.path.parent}: {exc}; "
                    "set C2C_STORE_PATH (or the resource's embedded_path) to a writable file"
                ) from exc
            try:
                # check_same_thread=False only so close() may run on another thread.
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                # WAL lets the webserver, daemon and run workers read while one writes.
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                _prepare_file(conn)
            except sqlite3.Error as exc:
                raise StoreUnavailableError(
                    f"embedded store: cannot open SQLite file {self.path}: {exc}; "
                    "check the path is writable (C2C_STORE_PATH)"
                ) from exc
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @property
    def _conn(self) -> sqlite3.Connection:
        """The connection for writing: creates the file and its schema when missing."""
        return self._connect()

    @property
    def _reader(self) -> sqlite3.Connection | None:
        """The connection for reading, or None while no write has created the file."""
        if getattr(self._local, "conn", None) is None and not self.path.exists():
            return None
        return self._connect()

    def ensure_indices(self) -> None:
        self._conn  # noqa: B018 - opening creates the schema

    def upsert(
        self,
        index: str,
        docs: Iterable[Document],
        *,
        mode: WriteMode = "replace",
        refresh: bool = True,  # a committed SQLite transaction is visible at once
    ) -> WriteResult:
        spec = self.spec(index)
        layout = LAYOUTS[spec.name]
        result = WriteResult(index=index)
        errors: list[BulkItemError] = []
        prepared = prepare(spec, docs)
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        # A body and a few key tuples per document and no cycles: see gc_paused.
        with gc_paused():
            try:
                # Checked and keyed in Python, then written with one executemany per table: the
                # same rows as writing each document alone, at the speed of a bare executemany.
                existing = self._bodies(conn, layout.table, [doc_id for doc_id, _ in prepared]) if mode == "merge" else {}
                # The last accepted body per id and its row, in the batch's order.
                bodies: dict[str, Document] = {}
                rows: dict[str, tuple[str, int | None, str]] = {}
                check, time_field = layout.check, spec.time_field
                for doc_id, doc in prepared:
                    if mode == "merge":
                        before = bodies.get(doc_id, existing.get(doc_id))
                        body = {**before, **doc} if before is not None else dict(doc)
                    else:
                        body = doc  # encoded here, before the caller can change it
                    problem = check(body)
                    if problem is None:
                        try:
                            text = encode_body(body)
                        except ValueError:  # NaN or infinity: no JSON, and OpenSearch's parser says so
                            problem = "mapper_parsing_exception: failed to parse: a number is NaN or infinite"
                    if problem is not None:
                        # Refused like OpenSearch refuses it: reported with its id, others still written.
                        errors.append(BulkItemError(doc_id, 400, problem))
                        continue
                    bodies.pop(doc_id, None)  # a repeated id is written where it last appears
                    rows.pop(doc_id, None)
                    bodies[doc_id] = body
                    rows[doc_id] = (doc_id, to_epoch_ms(body.get(time_field)), text)
                    result.written += 1
                    result.ids.append(doc_id)
                conn.executemany(f"INSERT OR REPLACE INTO {layout.table} (id, ts_ms, body) VALUES (?, ?, ?)",
                                 list(rows.values()))
                # The replaced documents' keys go; a new id has none (the DELETE finds nothing).
                conn.executemany("DELETE FROM lookup_keys WHERE idx = ? AND id = ?", [(index, i) for i in bodies])
                # Sorted in lookup_by_value's order: its B-tree then grows at a few places instead of
                # one random page per key.
                keys: list[tuple[str, str, str, str]] = []
                for doc_id, body in bodies.items():
                    keys += layout.keys(doc_id, body)
                keys.sort()
                conn.executemany("INSERT INTO lookup_keys (idx, field, value, id) VALUES (?, ?, ?, ?)", keys)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        if errors:
            raise BulkWriteError(index, errors, result.written)
        return result

    @staticmethod
    def _bodies(conn: sqlite3.Connection, table: str, ids: list[str]) -> dict[str, Document]:
        """The stored bodies of ``ids`` (those that exist), a few hundred ids per query."""
        found: dict[str, Document] = {}
        unique = list(dict.fromkeys(ids))
        for i in range(0, len(unique), 500):  # below SQLite's bound-parameter limit
            chunk = unique[i : i + 500]
            rows = conn.execute(f"SELECT id, body FROM {table} WHERE id IN ({','.join('?' for _ in chunk)})", chunk)
            found.update((row[0], json.loads(row[1])) for row in rows)
        return found

    def _layout(self, index: str) -> _Layout:
        return LAYOUTS[self.spec(index).name]

    def get(self, index: str, doc_id: str) -> Document | None:
        layout = self._layout(index)
        conn = self._reader
        if conn is None:
            return None
        row = conn.execute(f"SELECT body FROM {layout.table} WHERE id = ?", (doc_id,)).fetchone()
        return None if row is None else json.loads(row[0])

    @staticmethod
    def _matching_ids(layout: _Layout, field: str, values: Sequence[str], prefix: bool) -> tuple[str, list[str]]:
        """A query of the ids of ``layout``'s documents whose ``field`` matches, and its parameters.

        The id field is the primary key; a top-level field's string values are in its expression
        index, and its other values (and those of files written before the index existed) in
        lookup_keys; a path into objects is in lookup_keys only."""
        if field == layout.spec.id_field:
            condition, params = _match("id", values, prefix)
            return f"SELECT id FROM {layout.table} WHERE {condition}", params
        key_condition, key_params = _match("value", values, prefix)
        keyed = f"SELECT id FROM lookup_keys WHERE idx = ? AND field = ? AND {key_condition}"
        keyed_params = [layout.spec.name, field, *key_params]
        if field not in layout.indexed:
            return keyed, keyed_params
        condition, params = _match(layout.expression(field), values, prefix)
        indexed = f"SELECT id FROM {layout.table} WHERE {layout.is_text(field)} AND {condition}"
        return f"{indexed} UNION ALL {keyed}", [*params, *keyed_params]

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
        layout = self._layout(index)
        self.check_lookup(layout.spec, field)
        names = None if fields is None else self.check_fields(fields)
        values = [value] if isinstance(value, str) else list(value)
        if not values:
            return []
        conn = self._reader
        if conn is None:
            return []
        ids, params = self._matching_ids(layout, field, values, prefix)
        if names is None:
            columns, paths = "body", []
        else:
            # SQLite extracts each field's JSON text (``->``: 'null' for a null, NULL when absent),
            # so neither the sort nor Python ever holds the whole bodies.
            columns, paths = ", ".join("body -> ?" for _ in names), [_json_path(name) for name in names]
        # Newest first, ties by id: the same order the OpenSearch store sorts finds by.
        rows = conn.execute(
            f"SELECT {columns} FROM {layout.table} WHERE id IN ({ids}) ORDER BY ts_ms DESC, id DESC LIMIT ?",
            [*paths, *params, limit],
        )  # read row by row, never all rows beside the documents made of them
        if names is None:
            return [json.loads(row[0]) for row in rows]
        return [{name: json.loads(text) for name, text in zip(names, row) if text is not None} for row in rows]

    def distinct(self, index: str, field: str, *, limit: int = 100_000) -> list[str]:
        layout = self._layout(index)
        self.check_lookup(layout.spec, field)
        conn = self._reader
        if conn is None:
            return []
        keyed = "SELECT value FROM lookup_keys WHERE idx = ? AND field = ?"
        if field == layout.spec.id_field:
            sql, params = f"SELECT id FROM {layout.table} ORDER BY id LIMIT ?", [limit]
        elif field in layout.indexed:
            sql = (f"SELECT {layout.expression(field)} AS value FROM {layout.table} WHERE {layout.is_text(field)} "
                   f"UNION {keyed} ORDER BY value LIMIT ?")
            params = [index, field, limit]
        else:
            sql, params = f"SELECT DISTINCT value FROM ({keyed}) ORDER BY value LIMIT ?", [index, field, limit]
        return [row[0] for row in conn.execute(sql, params).fetchall()]

    def list_range(
        self,
        index: str,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        limit: int = 10000,
    ) -> list[Document]:
        layout = self._layout(index)
        clauses, params = ["ts_ms IS NOT NULL"], []
        if start is not None:
            clauses.append("ts_ms >= ?")
            params.append(to_epoch_ms(start))
        if end is not None:
            clauses.append("ts_ms < ?")
            params.append(to_epoch_ms(end))
        conn = self._reader
        if conn is None:
            return []
        rows = conn.execute(
            f"SELECT body FROM {layout.table} WHERE {' AND '.join(clauses)} ORDER BY ts_ms ASC, id ASC LIMIT ?",
            [*params, limit],
        ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def earliest(self, index: str, field: str, value: str) -> datetime | None:
        layout = self._layout(index)
        self.check_lookup(layout.spec, field)
        conn = self._reader
        if conn is None:
            return None
        ids, params = self._matching_ids(layout, field, [value], False)
        row = conn.execute(f"SELECT MIN(ts_ms) FROM {layout.table} WHERE id IN ({ids})", params).fetchone()
        return None if row is None or row[0] is None else parse_time(row[0])

    def delete_range(self, index: str, start: datetime, end: datetime, *, keep: Iterable[str] = ()) -> int:
        layout = self._layout(index)
        if self._reader is None:
            return 0
        kept = set(keep)
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            ids = [
                row[0]
                for row in conn.execute(
                    f"SELECT id FROM {layout.table} WHERE ts_ms >= ? AND ts_ms < ?",
                    (to_epoch_ms(start), to_epoch_ms(end)),
                )
                if row[0] not in kept
            ]
            return self._delete_ids(conn, layout, ids)
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def delete_older(self, index: str, field: str, before: datetime, *,
                     where: Mapping[str, str | bool] | None = None) -> int:
        layout = self._layout(index)
        spec = layout.spec
        wanted = self.check_older(spec, field, where)
        if self._reader is None:
            return 0
        # As OpenSearch compares: dates at milliseconds, against the cutoff as iso_utc sends it.
        cutoff = to_epoch_ms(iso_utc(before))
        clauses, params = [], []
        for name, value in wanted.items():
            # As a term query matches: any element of an array, and a boolean's string form too.
            if isinstance(value, bool):
                clauses.append("EXISTS (SELECT 1 FROM json_each(body, ?) WHERE type = ? OR (type = 'text' AND atom = ?))")
                params += [_json_path(name), str(value).lower(), str(value).lower()]
            else:
                clauses.append("EXISTS (SELECT 1 FROM json_each(body, ?) WHERE type = 'text' AND atom = ?)")
                params += [_json_path(name), value]
        matching = "".join(f" AND {clause}" for clause in clauses)
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if field == spec.time_field:
                # The time field's epoch milliseconds are the ts_ms column: a range on its time index
                # (a document without the field has none and is kept).
                rows = conn.execute(f"SELECT id FROM {layout.table} WHERE ts_ms < ?{matching}", [cutoff, *params])
                ids = [doc_id for doc_id, in rows]
            else:
                # Any other date field: SQLite hands over only that field's value of the documents
                # that hold it, parsed as the time field is parsed for ts_ms.
                path = _json_path(field)
                rows = conn.execute(
                    f"SELECT id, body -> ? FROM {layout.table} WHERE body -> ? IS NOT NULL{matching}",
                    [path, path, *params])
                ids = [doc_id for doc_id, value in rows
                       if (ms := to_epoch_ms(json.loads(value))) is not None and ms < cutoff]
            return self._delete_ids(conn, layout, ids)
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _delete_ids(conn: sqlite3.Connection, layout: _Layout, ids: list[str]) -> int:
        """Delete documents and their lookup keys inside the caller's open transaction, and commit."""
        conn.executemany(f"DELETE FROM {layout.table} WHERE id = ?", [(i,) for i in ids])
        conn.executemany("DELETE FROM lookup_keys WHERE idx = ? AND id = ?", [(layout.spec.name, i) for i in ids])
        conn.execute("COMMIT")
        return len(ids)

    def iter_all(self, index: str, *, batch_size: int = 1000) -> Iterator[Document]:
        layout = self._layout(index)
        conn = self._reader
        if conn is None:
            return
        last_id = ""
        while True:
            rows = conn.execute(
                f"SELECT id, body FROM {layout.table} WHERE id > ? ORDER BY id LIMIT ?", (last_id, batch_size)
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield json.loads(row[1])
            last_id = rows[-1][0]

    def count(self, index: str) -> int:
        layout = self._layout(index)
        conn = self._reader
        if conn is None:
            return 0
        return conn.execute(f"SELECT COUNT(*) FROM {layout.table}").fetchone()[0]

    # The embedded store is a laptop's history: filtering and grouping as it iterates is enough.
    def scan(self, index: str, where: Where | None = None) -> Iterator[Document]:
        return (doc for doc in self.iter_all(index) if matches(doc, where or {}))

    def group_stats(self, index: str, by: Sequence[str], *, newest: Sequence[str] = (),
                    where: Where | None = None) -> list[Group]:
        return group_documents(self.spec(index), self.scan(index, where), by, newest)

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        # Other threads' locals still name their closed connection: a new thread-local
        # namespace makes every thread open a fresh one if the store is used again.
        self._local = threading.local()
        super().close()


__all__ = ["ALL_INDICES", "SCHEMA", "EmbeddedStore", "encode_body", "table_of"]
