"""The embedded default store: one SQLite file, same semantics as the OpenSearch store.

Used when no OpenSearch URL is configured, so ``dagster dev`` works on a laptop with nothing
else running. Documents are JSON rows keyed by (index, id); lookup fields are copied into a
key table so finds by digest, tag, build id or commit are index scans, not JSON scans.
As with OpenSearch, only writes create anything: reading a store file that does not exist yet
finds nothing and leaves no file behind.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from c2c_core.timeutil import iso_utc, parse_time, to_epoch_ms
from c2c_dagster.documents.base import gc_paused
from c2c_dagster.store.base import (
    BulkItemError,
    BulkWriteError,
    Document,
    MetadataStore,
    StoreUnavailableError,
    WriteMode,
    WriteResult,
    field_type_error,
    prepare,
    values_at,
)
from c2c_dagster.store.indices import ALL_INDICES

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    idx   TEXT NOT NULL,
    id    TEXT NOT NULL,
    ts_ms INTEGER,
    body  TEXT NOT NULL,
    PRIMARY KEY (idx, id)
);
CREATE INDEX IF NOT EXISTS documents_by_time ON documents (idx, ts_ms);
CREATE TABLE IF NOT EXISTS lookup_keys (
    idx   TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    id    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS lookup_by_value ON lookup_keys (idx, field, value);
CREATE INDEX IF NOT EXISTS lookup_by_doc ON lookup_keys (idx, id);
"""

# Newest first, ties by id: the same order the OpenSearch store sorts finds by.
_NEWEST_FIRST = "ORDER BY d.ts_ms DESC, d.id DESC"


def _json_path(name: str) -> str:
    """The SQLite JSON path of a top-level field (quoted: names like ``pod-template-hash``)."""
    return f'$."{name}"'


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
                conn.executescript(SCHEMA)
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
        result = WriteResult(index=index)
        errors: list[BulkItemError] = []
        prepared = prepare(spec, docs)
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        # ~10 key tuples and a body per document and no cycles: see gc_paused.
        with gc_paused():
            try:
                # Checked and keyed in Python, then written with one executemany per table: the
                # same rows as writing each document alone, at the speed of a bare executemany.
                existing = self._bodies(conn, index, [doc_id for doc_id, _ in prepared]) if mode == "merge" else {}
                bodies: dict[str, Document] = {}  # the last accepted body per id, in the batch's order
                for doc_id, doc in prepared:
                    if mode == "merge":
                        before = bodies.get(doc_id, existing.get(doc_id))
                        body = {**before, **doc} if before is not None else dict(doc)
                    else:
                        body = dict(doc)
                    problem = field_type_error(spec, body)
                    if problem is not None:
                        # Refused like OpenSearch refuses it: reported with its id, others still written.
                        errors.append(BulkItemError(doc_id, 400, problem))
                        continue
                    bodies.pop(doc_id, None)  # a repeated id is written where it last appears
                    bodies[doc_id] = body
                    result.written += 1
                    result.ids.append(doc_id)
                conn.executemany(
                    "INSERT OR REPLACE INTO documents (idx, id, ts_ms, body) VALUES (?, ?, ?, ?)",
                    [(index, doc_id, to_epoch_ms(body.get(spec.time_field)), json.dumps(body))
                     for doc_id, body in bodies.items()],
                )
                conn.executemany("DELETE FROM lookup_keys WHERE idx = ? AND id = ?", [(index, i) for i in bodies])
                # Sorted in lookup_by_value's order: its B-tree then grows at a few places instead of
                # one random page per key (measured: 70,000 keys in less than half the time).
                keys = sorted(
                    (index, field, value, doc_id)
                    for doc_id, body in bodies.items()
                    for field in spec.lookup_fields
                    for value in dict.fromkeys(map(str, values_at(body, field)))
                )
                conn.executemany("INSERT INTO lookup_keys (idx, field, value, id) VALUES (?, ?, ?, ?)", keys)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        if errors:
            raise BulkWriteError(index, errors, result.written)
        return result

    @staticmethod
    def _bodies(conn: sqlite3.Connection, index: str, ids: list[str]) -> dict[str, Document]:
        """The stored bodies of ``ids`` (those that exist), a few hundred ids per query."""
        found: dict[str, Document] = {}
        unique = list(dict.fromkeys(ids))
        for i in range(0, len(unique), 500):  # below SQLite's bound-parameter limit
            chunk = unique[i : i + 500]
            rows = conn.execute(
                f"SELECT id, body FROM documents WHERE idx = ? AND id IN ({','.join('?' for _ in chunk)})",
                [index, *chunk],
            )
            found.update((row[0], json.loads(row[1])) for row in rows)
        return found

    def get(self, index: str, doc_id: str) -> Document | None:
        self.spec(index)
        conn = self._reader
        if conn is None:
            return None
        row = conn.execute(
            "SELECT body FROM documents WHERE idx = ? AND id = ?", (index, doc_id)
        ).fetchone()
        return None if row is None else json.loads(row[0])

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
        self.check_lookup(self.spec(index), field)
        names = None if fields is None else self.check_fields(fields)
        values = [value] if isinstance(value, str) else list(value)
        if not values:
            return []
        if prefix:
            # GLOB is case-sensitive like a keyword prefix query; escape its metacharacters.
            escaped = [v.replace("[", "[[]").replace("*", "[*]").replace("?", "[?]") for v in values]
            condition = " OR ".join("k.value GLOB ?" for _ in escaped)
            params: list[str] = [f"{v}*" for v in escaped]
        else:
            condition = f"k.value IN ({','.join('?' for _ in values)})"
            params = values
        conn = self._reader
        if conn is None:
            return []
        if names is None:
            columns, paths = "d.body", []
        else:
            # SQLite extracts each field's JSON text (``->``: 'null' for a null, NULL when absent),
            # so neither the sort nor Python ever holds the whole bodies.
            columns, paths = ", ".join("d.body -> ?" for _ in names), [_json_path(name) for name in names]
        rows = conn.execute(
            f"SELECT DISTINCT d.id, d.ts_ms, {columns} FROM lookup_keys k "
            f"JOIN documents d ON d.idx = k.idx AND d.id = k.id "
            f"WHERE k.idx = ? AND k.field = ? AND ({condition}) {_NEWEST_FIRST} LIMIT ?",
            [*paths, index, field, *params, limit],
        )  # read row by row, never all rows beside the documents made of them
        if names is None:
            return [json.loads(row[2]) for row in rows]
        return [{name: json.loads(text) for name, text in zip(names, row[2:]) if text is not None} for row in rows]

    def distinct(self, index: str, field: str, *, limit: int = 100_000) -> list[str]:
        self.check_lookup(self.spec(index), field)
        conn = self._reader
        if conn is None:
            return []
        rows = conn.execute(
            "SELECT DISTINCT value FROM lookup_keys WHERE idx = ? AND field = ? ORDER BY value LIMIT ?",
            (index, field, limit),
        ).fetchall()
        return [row[0] for row in rows]

    def list_range(
        self,
        index: str,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        limit: int = 10000,
    ) -> list[Document]:
        self.spec(index)
        clauses, params = ["idx = ?"], [index]
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
            f"SELECT body FROM documents WHERE {' AND '.join(clauses)} "
            f"AND ts_ms IS NOT NULL ORDER BY ts_ms ASC, id ASC LIMIT ?",
            [*params, limit],
        ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def earliest(self, index: str, field: str, value: str) -> datetime | None:
        self.check_lookup(self.spec(index), field)
        conn = self._reader
        if conn is None:
            return None
        row = conn.execute(
            "SELECT MIN(d.ts_ms) FROM lookup_keys k JOIN documents d ON d.idx = k.idx AND d.id = k.id "
            "WHERE k.idx = ? AND k.field = ? AND k.value = ?",
            (index, field, value),
        ).fetchone()
        return None if row is None or row[0] is None else parse_time(row[0])

    def delete_range(self, index: str, start: datetime, end: datetime, *, keep: Iterable[str] = ()) -> int:
        self.spec(index)
        if self._reader is None:
            return 0
        kept = set(keep)
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            ids = [
                (index, row[0])
                for row in conn.execute(
                    "SELECT id FROM documents WHERE idx = ? AND ts_ms >= ? AND ts_ms < ?",
                    (index, to_epoch_ms(start), to_epoch_ms(end)),
                )
                if row[0] not in kept
            ]
            return self._delete_ids(conn, ids)
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def delete_older(self, index: str, field: str, before: datetime, *,
                     where: Mapping[str, str | bool] | None = None) -> int:
        spec = self.spec(index)
        wanted = self.check_older(spec, field, where)
        if self._reader is None:
            return 0
        # As OpenSearch compares: dates at milliseconds, against the cutoff as iso_utc sends it.
        cutoff = to_epoch_ms(iso_utc(before))
        clauses, params = ["idx = ?"], [index]
        for name, value in wanted.items():
            # As a term query matches: any element of an array, and a boolean's string form too.
            if isinstance(value, bool):
                clauses.append("EXISTS (SELECT 1 FROM json_each(body, ?) WHERE type = ? OR (type = 'text' AND atom = ?))")
                params += [_json_path(name), str(value).lower(), str(value).lower()]
            else:
                clauses.append("EXISTS (SELECT 1 FROM json_each(body, ?) WHERE type = 'text' AND atom = ?)")
                params += [_json_path(name), value]
        matching = " AND ".join(clauses)
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if field == spec.time_field:
                # The time field's epoch milliseconds are the ts_ms column: a range on documents_by_time
                # (a document without the field has none and is kept).
                rows = conn.execute(f"SELECT id FROM documents WHERE {matching} AND ts_ms < ?", [*params, cutoff])
                ids = [(index, doc_id) for doc_id, in rows]
            else:
                # Any other date field: SQLite hands over only that field's value of the documents
                # that hold it, parsed as the time field is parsed for ts_ms.
                path = _json_path(field)
                rows = conn.execute(f"SELECT id, body -> ? FROM documents WHERE {matching} AND body -> ? IS NOT NULL",
                                    [path, *params, path])
                ids = [(index, doc_id) for doc_id, value in rows
                       if (ms := to_epoch_ms(json.loads(value))) is not None and ms < cutoff]
            return self._delete_ids(conn, ids)
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _delete_ids(conn: sqlite3.Connection, ids: list[tuple[str, str]]) -> int:
        """Delete ``(index, id)`` pairs and their lookup keys inside the caller's open transaction, and commit."""
        conn.executemany("DELETE FROM documents WHERE idx = ? AND id = ?", ids)
        conn.executemany("DELETE FROM lookup_keys WHERE idx = ? AND id = ?", ids)
        conn.execute("COMMIT")
        return len(ids)

    def iter_all(self, index: str, *, batch_size: int = 1000) -> Iterator[Document]:
        self.spec(index)
        conn = self._reader
        if conn is None:
            return
        last_id = ""
        while True:
            rows = conn.execute(
                "SELECT id, body FROM documents WHERE idx = ? AND id > ? ORDER BY id LIMIT ?",
                (index, last_id, batch_size),
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield json.loads(row[1])
            last_id = rows[-1][0]

    def count(self, index: str) -> int:
        self.spec(index)
        conn = self._reader
        if conn is None:
            return 0
        return conn.execute("SELECT COUNT(*) FROM documents WHERE idx = ?", (index,)).fetchone()[0]

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        # Other threads' locals still name their closed connection: a new thread-local
        # namespace makes every thread open a fresh one if the store is used again.
        self._local = threading.local()
        super().close()


__all__ = ["EmbeddedStore", "ALL_INDICES"]
