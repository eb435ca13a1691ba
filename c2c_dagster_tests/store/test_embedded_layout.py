"""The embedded store's file layout: finds are served by the right index whatever a lookup field
holds, and a store file written by the earlier layout (one shared documents table, every lookup
value in lookup_keys) is brought up to date on open and answers every read as before."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from c2c_core.timeutil import to_epoch_ms
from c2c_dagster.store import EmbeddedStore
from c2c_dagster.store.base import values_at
from c2c_dagster.store.embedded import LAYOUTS, SCHEMA_STAMP, table_of
from c2c_dagster.store.indices import index_spec
from c2c_dagster_tests.store.test_store_contract import CI, DIGEST_A, DIGEST_B, build

EVENTS = "argocd-sync-events"

# The layout c2c wrote before each index had its own table (kept here as the format of old files).
EARLIER_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (idx TEXT NOT NULL, id TEXT NOT NULL, ts_ms INTEGER, body TEXT NOT NULL,
                        PRIMARY KEY (idx, id));
CREATE INDEX IF NOT EXISTS documents_by_time ON documents (idx, ts_ms);
CREATE TABLE IF NOT EXISTS lookup_keys (idx TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS lookup_by_value ON lookup_keys (idx, field, value);
CREATE INDEX IF NOT EXISTS lookup_by_doc ON lookup_keys (idx, id);
"""


def write_earlier_layout(path: Path, index: str, docs: list[dict]) -> None:
    """Rows as the earlier EmbeddedStore.upsert wrote them: every lookup value of every field."""
    spec = index_spec(index)
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(EARLIER_SCHEMA)
        conn.execute("BEGIN")
        for doc in docs:
            doc_id = str(doc[spec.id_field])
            conn.execute("INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?)",
                         (index, doc_id, to_epoch_ms(doc.get(spec.time_field)), json.dumps(doc)))
            for field in spec.lookup_fields:
                for value in dict.fromkeys(map(str, values_at(doc, field))):
                    conn.execute("INSERT INTO lookup_keys VALUES (?, ?, ?, ?)", (index, field, value, doc_id))
        conn.execute("COMMIT")
    conn.close()


def count_while_another_process_writes(path: Path) -> int:
    """A new store's count of builds while another connection holds the file's write lock: a
    store that tried to write on open would wait for it (and time out) instead."""
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        store = EmbeddedStore(path)
        try:
            return store.count(CI)
        finally:
            store.close()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def event(n: int, **extra) -> dict:
    return {"event_id": f"in-cluster/argocd/shop/uid/{n}", "app": "shop", "cluster": "prod",
            "finished_at": f"2026-03-0{n}T10:00:00Z", **extra}


def test_an_earlier_store_file_is_migrated_on_open_and_answers_as_before(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    commit = "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
    write_earlier_layout(path, CI, [
        build(1, ts="2026-03-01T10:00:00Z"),
        build(2, digest=DIGEST_B, commit=commit, ts="2026-03-02T10:00:00Z",
              platform_digests=[{"platform": "linux/amd64", "digest": "sha256:" + "c" * 64}]),
    ])
    write_earlier_layout(path, EVENTS, [event(1, repo_url=["https://git.example/a.git", "https://git.example/b.git"])])
    store = EmbeddedStore(path)
    assert store.count(CI) == 2
    # Every read of the earlier layout's data, through the keys it wrote and the new indexes.
    assert [d["build_number"] for d in store.find(CI, "image_digest", DIGEST_B)] == [2]
    assert [d["build_number"] for d in store.find(CI, "image_tag", "node-js-master-", prefix=True)] == [2, 1]
    assert [d["build_number"] for d in store.find(CI, "commits.commit_id", commit[:7], prefix=True)] == [2]
    assert [d["build_number"] for d in store.find(CI, "platform_digests.digest", "sha256:" + "c" * 64)] == [2]
    assert [d["build_number"] for d in store.find(CI, "build_id", "Node-JS/master-1")] == [1]
    assert store.distinct(CI, "image_digest") == [DIGEST_A, DIGEST_B]
    assert store.earliest(CI, "job_name", "Node-JS/master") == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert [d["build_number"] for d in store.list_range(CI)] == [1, 2]
    assert [d["event_id"] for d in store.find(EVENTS, "repo_url", "https://git.example/b.git")] == [event(1)["event_id"]]
    store.close()
    with sqlite3.connect(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "documents" not in tables and table_of(CI) in tables
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_STAMP
    conn.close()

    # A rewrite of an old document replaces its old keys: the old digest no longer finds it.
    store = EmbeddedStore(path)
    store.upsert(CI, [build(2, digest=DIGEST_A, commit=commit, ts="2026-03-02T10:00:00Z")])
    assert store.find(CI, "image_digest", DIGEST_B) == []
    assert store.find(CI, "platform_digests.digest", "sha256:" + "c" * 64) == []
    assert [d["build_number"] for d in store.find(CI, "image_digest", DIGEST_A)] == [2, 1]
    store.close()


def test_documents_of_an_index_this_version_does_not_know_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    write_earlier_layout(path, CI, [build(1)])
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("INSERT INTO documents VALUES ('retired-index', 'x', NULL, '{}')")
    conn.close()
    store = EmbeddedStore(path)
    assert store.count(CI) == 1
    store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT idx, id FROM documents").fetchall() == [("retired-index", "x")]
    conn.close()
    # Once moved, opening the file again is a read: it works while another process holds the lock.
    assert count_while_another_process_writes(path) == 1


def test_documents_an_earlier_c2c_wrote_into_a_migrated_file_are_moved_on_the_next_open(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    store = EmbeddedStore(path)
    store.upsert(CI, [build(1)])
    store.close()
    write_earlier_layout(path, CI, [build(2, digest=DIGEST_B)])  # an older c2c, e.g. after a downgrade
    store = EmbeddedStore(path)
    assert sorted(d["build_number"] for d in store.iter_all(CI)) == [1, 2]
    assert [d["build_number"] for d in store.find(CI, "image_digest", DIGEST_B)] == [2]
    store.close()


def test_lookup_fields_holding_lists_or_numbers_are_found_by_each_value(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store.sqlite")
    store.upsert(EVENTS, [
        event(1, repo_url=["https://git.example/a.git", "https://git.example/b.git"], revision="abc"),
        event(2, repo_url="https://git.example/a.git", revision=["def", "abc"]),
        event(3, repo_url='["https://git.example/a.git"]', revision=7),  # a string that looks like a list
    ])
    ids = lambda docs: sorted(int(d["event_id"].rsplit("/", 1)[1]) for d in docs)  # noqa: E731
    assert ids(store.find(EVENTS, "repo_url", "https://git.example/a.git")) == [1, 2]
    assert ids(store.find(EVENTS, "repo_url", "https://git.example/b.git")) == [1]
    assert ids(store.find(EVENTS, "revision", "abc")) == [1, 2]
    assert ids(store.find(EVENTS, "revision", "7")) == [3]  # as str() of the value, as before
    # The JSON text of a list is no value of it: only the document holding that string matches.
    assert ids(store.find(EVENTS, "repo_url", '["https://git.example/a.git"]')) == [3]
    assert ids(store.find(EVENTS, "repo_url", "https://git.example/", prefix=True)) == [1, 2]
    assert store.distinct(EVENTS, "revision") == ["7", "abc", "def"]
    store.close()


# U+10FFFF has no successor, U+D7FF's is a surrogate (no character in UTF-8): the range's end
# must step over both.
@pytest.mark.parametrize("value", ["web-\U0010ffff", "web-\ud7ff", "web-z", "web-é"])
def test_prefix_finds_are_exact_at_the_edges_of_the_character_range(tmp_path: Path, value: str) -> None:
    store = EmbeddedStore(tmp_path / "store.sqlite")
    names = [value, value + "x", value + "\U0010ffff", value[:-1], value[:-1] + chr(ord(value[-1]) - 1) + "z"]
    store.upsert(EVENTS, [event(n, app=name) for n, name in enumerate(names, 1)])
    assert sorted(d["app"] for d in store.find(EVENTS, "app", value, prefix=True)) == sorted(names[:3])
    assert sorted(d["event_id"] for d in store.find(EVENTS, "event_id", event(1)["event_id"], prefix=True)) == [
        event(1)["event_id"]]
    store.close()


def test_every_lookup_is_an_index_search_not_a_table_scan(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store.sqlite")
    store.upsert(CI, [build(1)])
    conn = store._conn  # noqa: SLF001 - the query plans are what this test reads
    for index, layout in LAYOUTS.items():
        for field in layout.spec.lookup_fields:
            for prefix in (False, True):
                ids, params = store._matching_ids(layout, field, ["x"], prefix)  # noqa: SLF001
                plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {ids}", params)]
                # Only the list of values asked for is scanned (json_each of the one parameter).
                scans = [step for step in plan if step.startswith("SCAN") and "json_each" not in step]
                assert not scans, (index, field, prefix, plan)
    store.close()


def test_a_reader_of_an_up_to_date_file_takes_no_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    EmbeddedStore(path).ensure_indices()
    assert count_while_another_process_writes(path) == 0


def test_a_find_takes_more_values_than_sqlite_binds_parameters(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store.sqlite")
    store.upsert(CI, [build(1), build(2, digest=DIGEST_B)])
    wanted = [f"sha256:{n:064x}" for n in range(40_000)] + [DIGEST_B]
    assert [d["build_number"] for d in store.find(CI, "image_digest", wanted)] == [2]
    assert [d["build_number"] for d in store.find(CI, "build_id", [f"x-{n}" for n in range(40_000)] + ["Node-JS/master-1"])] == [1]
    store.close()
