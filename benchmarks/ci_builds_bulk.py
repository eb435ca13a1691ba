"""Benchmark: 10,000 builds into each store, c2c's whole ingest path against the store's own limit.

All runs are in one process, against the same stores, into separate indices/tables with the same
mapping/schema, so the ratios hold on a busy machine:

- OpenSearch (a real node, started here from the project's own install):
  - c2c: Jenkins build JSON + archived metadata -> ``build_document`` -> ``OpenSearchStore.upsert``
    (bulk requests of 1,000, deterministic ids, one refresh at the end), i.e. what ``ci_builds`` does;
  - limit: the same (already transformed) documents sent with opensearch-py's ``helpers.bulk``
    (same chunk size, same ids) and one refresh: nothing but the store's own work;
  - seed: one ``POST /ci-build-metadata/_doc`` per build, the seed's pipeline (section 3.7), on a
    kept-alive HTTP session (kinder to it than the seed's one curl per build); ``--no-seed`` skips it.
- Embedded store (SQLite):
  - c2c: the same transform, then ``EmbeddedStore.upsert`` (type checks, lookup keys, one transaction);
  - limit: the same documents' JSON written with one bare ``executemany`` into a table shaped like
    the store's table of an index (id, time, body; no lookup index), in one transaction, with the
    store's journal settings and the same JSON encoder;
  - rows: for reference, the store's whole schema filled with bare ``executemany``s of rows made
    beforehand: the documents (their lookup expression indexes fill themselves) and the lookup_keys
    rows (what finds by digest, tag, commit read);
  - floor: transform alone + JSON encoding alone + rows: what any ingest into this schema spends
    before c2c's own checks and key building; printed against the limit.

The c2c and limit runs alternate for ``ROUNDS`` rounds into fresh indices; medians are printed.
``--embedded-only`` skips the OpenSearch node.
Targets: c2c within 1.5x of the limit on both stores, and >= 10x faster than the seed.
Usage: ``.venv/bin/python benchmarks/ci_builds_bulk.py [N] [--no-seed] [--embedded-only]``
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import requests
from opensearchpy import helpers

from c2c_core.timeutil import to_epoch_ms
from c2c_dagster.jenkins.transform import build_document
from c2c_dagster.store import EmbeddedStore, OpenSearchStore
from c2c_dagster.store.base import FIND_ALL, values_at
from c2c_dagster.store.embedded import LAYOUTS, encode_body
from c2c_dagster.store.opensearch import BULK_CHUNK
from c2c_devstack.services import opensearch

ROUNDS = 3
INDEX = "ci-build-metadata"
LIMIT_RATIO = 1.5
SEED_RATIO = 10


def sample(n: int) -> tuple[dict, dict]:
    """A finished Jenkins build and its build-metadata.json, as ci_builds receives them."""
    job = f"team-{n % 50}/service/master"
    sha = hashlib.sha1(str(n).encode()).hexdigest()
    at_ms = 1_769_000_000_000 + n * 60_000
    at = datetime.fromtimestamp(at_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    artifact = {
        "build_id": f"{job}-{n}",
        "job_name": job,
        "build_number": n,
        "branch": "master",
        "image_name": f"registry.example/team-{n % 50}/service",
        "image_tag": f"service-master-{n}-{sha[:7]}",
        "image_digest": "sha256:" + hashlib.sha256(str(n).encode()).hexdigest(),
        "commits": [{"commit_id": sha, "author": "Ada Lovelace", "email": "ada@example.com", "message": f"change {n}"}],
        "authors": ["Ada Lovelace <ada@example.com>"],
        "build_status": "SUCCESS",
        "timestamp": at,
    }
    build = {"number": n, "result": "SUCCESS", "building": False, "timestamp": at_ms, "duration": 90_000,
             "url": f"https://jenkins.example/job/{job}/{n}/", "actions": [], "changeSets": []}
    return build, artifact


def transform(samples: list[tuple[dict, dict]]) -> list[dict]:
    """What ci_builds does between Jenkins' answers and the store: typed documents, as dicts."""
    now = datetime.now(UTC)
    return [build_document(a["job_name"], b, a, ingested_at=now).to_document() for b, a in samples]


def same(a: dict | None, b: dict | None) -> bool:
    """Equal but for the ingest time (each path transforms at its own moment)."""
    return a is not None and b is not None and {**a, "ingested_at": None} == {**b, "ingested_at": None}


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def opensearch_rounds(url: str, samples: list[tuple[dict, dict]], docs: list[dict]) -> tuple[list[float], list[float]]:
    """(c2c seconds, bare helpers.bulk seconds) per round, alternating, each into a fresh index."""
    c2c_times, bare_times = [], []
    for r in range(ROUNDS):
        c2c = OpenSearchStore(url, index_prefix=f"bench-c2c{r}-", number_of_replicas=0)
        bare = OpenSearchStore(url, index_prefix=f"bench-bare{r}-", number_of_replicas=0)
        for store in (c2c, bare):
            store.ensure_indices()  # index creation is set-up, not ingest: outside both timings
        name = bare.physical(INDEX)

        def bare_bulk() -> None:
            actions = ({"_index": name, "_id": d["build_id"], "_source": d} for d in docs)
            ok, failed = helpers.bulk(bare.client, actions, chunk_size=BULK_CHUNK, raise_on_error=False)
            assert not failed, failed[:3]
            bare.client.indices.refresh(index=name)

        bare_times.append(timed(bare_bulk))
        c2c_times.append(timed(lambda: c2c.upsert(INDEX, transform(samples))))
        assert c2c.count(INDEX) == bare.count(INDEX) == len(samples), "a path lost documents"
        first = docs[0]["build_id"]
        assert same(c2c.get(INDEX, first), bare.get(INDEX, first)), "the paths stored different documents"
        for store in (c2c, bare):
            store.client.indices.delete(index=store.physical(INDEX))
            store.close()
    return c2c_times, bare_times


def seed_seconds(url: str, samples: list[tuple[dict, dict]]) -> float:
    seed_store = OpenSearchStore(url, index_prefix="bench-seed-", number_of_replicas=0)
    seed_store.ensure_indices()
    session = requests.Session()
    target = f"{url}/{seed_store.physical(INDEX)}/_doc"
    started = time.perf_counter()
    for _, artifact in samples:
        response = session.post(target, data=json.dumps(artifact), headers={"Content-Type": "application/json"})
        response.raise_for_status()
    seed_store.refresh(INDEX)
    seconds = time.perf_counter() - started
    assert seed_store.count(INDEX) == len(samples), "the seed's path lost documents"
    return seconds


BARE_SCHEMA = """
CREATE TABLE documents (id TEXT PRIMARY KEY, ts_ms INTEGER, body TEXT NOT NULL);
CREATE INDEX documents_by_time ON documents (ts_ms);
"""


def open_sqlite(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")  # as EmbeddedStore opens its file
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def stored_keys(path: Path) -> list[tuple]:
    with open_sqlite(path) as conn:
        return sorted(conn.execute("SELECT idx, field, value, id FROM lookup_keys"))


def embedded_rounds(
    workdir: Path, samples: list[tuple[dict, dict]], docs: list[dict]
) -> dict[str, list[float]]:
    """Seconds per round of c2c, the bare executemany, the bare rows of the store's whole schema,
    and (for the floor) the transform alone and the JSON encoding alone; alternating, each into
    a fresh file."""
    c2c_times, bare_times, rows_times, encode_times, transform_times = [], [], [], [], []
    layout = LAYOUTS[INDEX]
    doc_rows = [(d["build_id"], to_epoch_ms(d["timestamp"]), encode_body(d)) for d in docs]
    # What the store keeps besides the documents: the lookup values no expression index serves
    # (here commits.commit_id and platform_digests.digest; the expression indexes fill themselves).
    key_rows = sorted((INDEX, f, v, d["build_id"]) for d in docs for f in layout.spec.lookup_fields if "." in f
                      for v in dict.fromkeys(map(str, values_at(d, f))))
    for r in range(ROUNDS):
        EmbeddedStore(workdir / f"rows-{r}.sqlite").ensure_indices()  # the store's own schema, empty
        bare, rows = open_sqlite(workdir / f"bare-{r}.sqlite"), open_sqlite(workdir / f"rows-{r}.sqlite")
        bare.executescript(BARE_SCHEMA)

        def rows_insert() -> None:
            rows.execute("BEGIN IMMEDIATE")
            rows.executemany(f"INSERT OR REPLACE INTO {layout.table} (id, ts_ms, body) VALUES (?, ?, ?)", doc_rows)
            rows.executemany("INSERT INTO lookup_keys (idx, field, value, id) VALUES (?, ?, ?, ?)", key_rows)
            rows.execute("COMMIT")

        rows_times.append(timed(rows_insert))

        def bare_insert() -> None:
            bare.execute("BEGIN IMMEDIATE")
            bare.executemany(
                "INSERT OR REPLACE INTO documents (id, ts_ms, body) VALUES (?, ?, ?)",
                # The store's own JSON encoder (json.dumps' output, NaN refused).
                [(d["build_id"], to_epoch_ms(d["timestamp"]), encode_body(d)) for d in docs],
            )
            bare.execute("COMMIT")

        bare_times.append(timed(bare_insert))
        encode_times.append(timed(lambda: [encode_body(d) for d in docs]))
        transform_times.append(timed(lambda: transform(samples)))
        c2c = EmbeddedStore(workdir / f"c2c-{r}.sqlite")
        c2c.ensure_indices()
        c2c_times.append(timed(lambda: c2c.upsert(INDEX, transform(samples))))
        assert c2c.count(INDEX) == len(samples), "the embedded path lost documents"
        assert bare.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == len(samples)
        assert same(c2c.get(INDEX, docs[0]["build_id"]), docs[0]), "the paths stored different documents"
        # The lookups c2c keeps are the ones the rows reference wrote, and every lookup field
        # finds the document by its value (through the expression indexes or lookup_keys).
        assert stored_keys(workdir / f"c2c-{r}.sqlite") == stored_keys(workdir / f"rows-{r}.sqlite") == key_rows
        probe = docs[len(docs) // 2]
        for field in layout.spec.lookup_fields:
            for value in dict.fromkeys(map(str, values_at(probe, field))):
                found = [d["build_id"] for d in c2c.find(INDEX, field, value, limit=FIND_ALL)]
                assert probe["build_id"] in found, f"find by {field} = {value!r} missed the document"
        c2c.close()
        bare.close()
        rows.close()
    return {"c2c": c2c_times, "bare": bare_times, "rows": rows_times, "encode": encode_times,
            "transform": transform_times}


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    count = int(args[0]) if args else 10_000
    embedded_only = "--embedded-only" in sys.argv
    samples = [sample(n) for n in range(1, count + 1)]
    docs = transform(samples)
    os_c2c: list[float] = []
    with tempfile.TemporaryDirectory() as workdir:
        emb = embedded_rounds(Path(workdir), samples, docs)
        if not embedded_only:
            node = opensearch.start(Path(workdir))
            try:
                os_c2c, os_bare = opensearch_rounds(node.url, samples, docs)
                seed = None if "--no-seed" in sys.argv else seed_seconds(node.url, samples)
            finally:
                node.stop()

    e = {name: statistics.median(times) for name, times in emb.items()}
    print(f"builds: {count}; {ROUNDS} alternating rounds, medians; nproc {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"transform alone (build_document + to_document): {e['transform']:.2f} s  rounds {_fmt(emb['transform'])}")
    met = True
    if os_c2c:
        c2c, bare = statistics.median(os_c2c), statistics.median(os_bare)
        print(f"OpenSearch  c2c (transform + upsert + refresh): {c2c:.2f} s ({count / c2c:.0f} builds/s)  rounds {_fmt(os_c2c)}")
        print(f"OpenSearch  bare helpers.bulk + refresh:        {bare:.2f} s ({count / bare:.0f} builds/s)  rounds {_fmt(os_bare)}")
        print(f"ratio (c2c / bare bulk): {c2c / bare:.2f}x  (target <= {LIMIT_RATIO}x: {verdict(c2c / bare <= LIMIT_RATIO)})")
        met = c2c / bare <= LIMIT_RATIO
    print(f"embedded    c2c (transform + upsert):           {e['c2c']:.2f} s ({count / e['c2c']:.0f} builds/s)  rounds {_fmt(emb['c2c'])}")
    print(f"embedded    bare sqlite executemany:            {e['bare']:.2f} s ({count / e['bare']:.0f} builds/s)  rounds {_fmt(emb['bare'])}")
    print(f"embedded    bare rows of the store's schema:    {e['rows']:.2f} s (documents with their lookup "
          f"indexes + lookup_keys rows, made beforehand)  rounds {_fmt(emb['rows'])}")
    print(f"ratio (c2c / bare executemany): {e['c2c'] / e['bare']:.2f}x  (target <= {LIMIT_RATIO}x: "
          f"{verdict(e['c2c'] / e['bare'] <= LIMIT_RATIO)}); c2c / bare rows: {e['c2c'] / e['rows']:.2f}x")
    # What no ingest into this schema can skip: typing the builds, encoding the JSON, writing the
    # rows with their lookup indexes (each measured bare, without c2c's checks and key building).
    floor = e["transform"] + e["encode"] + e["rows"]
    print(f"embedded    floor (transform {e['transform']:.2f} + JSON encoding {e['encode']:.2f} + rows "
          f"{e['rows']:.2f}): {floor:.2f} s = {floor / e['bare']:.2f}x the bare executemany; "
          f"c2c / floor: {e['c2c'] / floor:.2f}x")
    met = met and e["c2c"] / e["bare"] <= LIMIT_RATIO
    if os_c2c and seed is not None:
        print(f"seed per-build POST /_doc:                      {seed:.2f} s ({count / seed:.0f} builds/s)")
        print(f"ratio (seed / c2c): {seed / c2c:.1f}x  (target >= {SEED_RATIO}x: {verdict(seed / c2c >= SEED_RATIO)})")
        met = met and seed / c2c >= SEED_RATIO
    sys.exit(0 if met else 1)


def _fmt(times: list[float]) -> str:
    return " ".join(f"{t:.2f}" for t in times)


if __name__ == "__main__":
    main()
