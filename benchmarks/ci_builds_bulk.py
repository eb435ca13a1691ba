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
    the store's ``documents`` table, in one transaction, with the store's journal settings;
  - rows: for reference, the store's whole schema filled with bare ``executemany``s of rows made
    beforehand: the documents and their lookup keys (what finds by digest, tag, commit read).

The c2c and limit runs alternate for ``ROUNDS`` rounds into fresh indices; medians are printed.
Targets: c2c within 1.5x of the limit on both stores, and >= 10x faster than the seed.
Usage: ``.venv/bin/python benchmarks/ci_builds_bulk.py [N] [--no-seed]``
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
from c2c_dagster.store.base import values_at
from c2c_dagster.store.embedded import SCHEMA as STORE_SCHEMA
from c2c_dagster.store.indices import index_spec
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
CREATE TABLE documents (idx TEXT NOT NULL, id TEXT NOT NULL, ts_ms INTEGER, body TEXT NOT NULL,
                        PRIMARY KEY (idx, id));
CREATE INDEX documents_by_time ON documents (idx, ts_ms);
"""


def embedded_rounds(
    workdir: Path, samples: list[tuple[dict, dict]], docs: list[dict]
) -> tuple[list[float], list[float], list[float]]:
    """(c2c, bare executemany, bare rows of the whole schema) seconds per round, alternating,
    each into a fresh file."""
    c2c_times, bare_times, rows_times = [], [], []
    spec = index_spec(INDEX)
    doc_rows = [(INDEX, d["build_id"], to_epoch_ms(d["timestamp"]), json.dumps(d)) for d in docs]
    key_rows = sorted((INDEX, f, v, d["build_id"]) for d in docs for f in spec.lookup_fields
                      for v in dict.fromkeys(map(str, values_at(d, f))))
    for r in range(ROUNDS):
        bare = sqlite3.connect(workdir / f"bare-{r}.sqlite", isolation_level=None)
        rows = sqlite3.connect(workdir / f"rows-{r}.sqlite", isolation_level=None)
        for conn in (bare, rows):
            conn.execute("PRAGMA journal_mode=WAL")  # as EmbeddedStore opens its file
            conn.execute("PRAGMA synchronous=NORMAL")
        bare.executescript(BARE_SCHEMA)
        rows.executescript(STORE_SCHEMA)

        def rows_insert() -> None:
            rows.execute("BEGIN IMMEDIATE")
            rows.executemany("INSERT OR REPLACE INTO documents (idx, id, ts_ms, body) VALUES (?, ?, ?, ?)", doc_rows)
            rows.executemany("INSERT INTO lookup_keys (idx, field, value, id) VALUES (?, ?, ?, ?)", key_rows)
            rows.execute("COMMIT")

        rows_times.append(timed(rows_insert))

        def bare_insert() -> None:
            bare.execute("BEGIN IMMEDIATE")
            bare.executemany(
                "INSERT OR REPLACE INTO documents (idx, id, ts_ms, body) VALUES (?, ?, ?, ?)",
                [(INDEX, d["build_id"], to_epoch_ms(d["timestamp"]), json.dumps(d)) for d in docs],
            )
            bare.execute("COMMIT")

        bare_times.append(timed(bare_insert))
        c2c = EmbeddedStore(workdir / f"c2c-{r}.sqlite")
        c2c.ensure_indices()
        c2c_times.append(timed(lambda: c2c.upsert(INDEX, transform(samples))))
        assert c2c.count(INDEX) == len(samples), "the embedded path lost documents"
        assert bare.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == len(samples)
        assert same(c2c.get(INDEX, docs[0]["build_id"]), docs[0]), "the paths stored different documents"
        c2c.close()
        bare.close()
        rows.close()
    return c2c_times, bare_times, rows_times


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    count = int(args[0]) if args else 10_000
    samples = [sample(n) for n in range(1, count + 1)]
    docs = transform(samples)
    with tempfile.TemporaryDirectory() as workdir:
        emb_c2c, emb_bare, emb_rows = embedded_rounds(Path(workdir), samples, docs)
        node = opensearch.start(Path(workdir))
        try:
            os_c2c, os_bare = opensearch_rounds(node.url, samples, docs)
            seed = None if "--no-seed" in sys.argv else seed_seconds(node.url, samples)
        finally:
            node.stop()

    transform_seconds = timed(lambda: transform(samples))
    c2c, bare = statistics.median(os_c2c), statistics.median(os_bare)
    e_c2c, e_bare = statistics.median(emb_c2c), statistics.median(emb_bare)
    print(f"builds: {count}; {ROUNDS} alternating rounds, medians; nproc {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"transform alone (build_document + to_document): {transform_seconds:.2f} s")
    print(f"OpenSearch  c2c (transform + upsert + refresh): {c2c:.2f} s ({count / c2c:.0f} builds/s)  rounds {_fmt(os_c2c)}")
    print(f"OpenSearch  bare helpers.bulk + refresh:        {bare:.2f} s ({count / bare:.0f} builds/s)  rounds {_fmt(os_bare)}")
    print(f"ratio (c2c / bare bulk): {c2c / bare:.2f}x  (target <= {LIMIT_RATIO}x: {verdict(c2c / bare <= LIMIT_RATIO)})")
    print(f"embedded    c2c (transform + upsert):           {e_c2c:.2f} s ({count / e_c2c:.0f} builds/s)  rounds {_fmt(emb_c2c)}")
    print(f"embedded    bare sqlite executemany:            {e_bare:.2f} s ({count / e_bare:.0f} builds/s)  rounds {_fmt(emb_bare)}")
    e_rows = statistics.median(emb_rows)
    print(f"embedded    bare rows of the store's schema:    {e_rows:.2f} s (documents + "
          f"lookup keys, made beforehand)  rounds {_fmt(emb_rows)}")
    print(f"ratio (c2c / bare executemany): {e_c2c / e_bare:.2f}x  (target <= {LIMIT_RATIO}x: "
          f"{verdict(e_c2c / e_bare <= LIMIT_RATIO)}); c2c / bare rows: {e_c2c / e_rows:.2f}x")
    met = c2c / bare <= LIMIT_RATIO and e_c2c / e_bare <= LIMIT_RATIO
    if seed is not None:
        print(f"seed per-build POST /_doc:                      {seed:.2f} s ({count / seed:.0f} builds/s)")
        print(f"ratio (seed / c2c): {seed / c2c:.1f}x  (target >= {SEED_RATIO}x: {verdict(seed / c2c >= SEED_RATIO)})")
        met = met and seed / c2c >= SEED_RATIO
    sys.exit(0 if met else 1)


def _fmt(times: list[float]) -> str:
    return " ".join(f"{t:.2f}" for t in times)


if __name__ == "__main__":
    main()
