"""Benchmark: 10,000 builds into a real OpenSearch node, c2c's bulk path vs the seed's per-build POST.

Both run in the same process against the same node (started here from the project's own
install), into separate indices with the same mapping:
- c2c: Jenkins build JSON + archived metadata -> ``build_document`` -> ``OpenSearchStore.upsert``
  (bulk requests of 1,000, deterministic ids, one refresh at the end), i.e. what ``ci_builds`` does;
- baseline: one ``POST /ci-build-metadata/_doc`` per build, the seed's pipeline (section 3.7), on
  a kept-alive HTTP session (kinder to the baseline than the seed's one curl per build).
Prints both times and the ratio; the goal is >= 10x. Usage: ``.venv/bin/python benchmarks/ci_builds_bulk.py [N]``
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

from c2c_dagster.jenkins.transform import build_document
from c2c_dagster.store import OpenSearchStore
from c2c_devstack.services import opensearch


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


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    samples = [sample(n) for n in range(1, count + 1)]
    with tempfile.TemporaryDirectory() as workdir:
        node = opensearch.start(Path(workdir))
        try:
            bulk_store = OpenSearchStore(node.url, index_prefix="bench-bulk-", number_of_replicas=0)
            seed_store = OpenSearchStore(node.url, index_prefix="bench-seed-", number_of_replicas=0)
            bulk_store.ensure_indices()
            seed_store.ensure_indices()

            started = time.perf_counter()
            now = datetime.now(UTC)
            docs = [build_document(a["job_name"], b, a, ingested_at=now).to_document() for b, a in samples]
            bulk_store.upsert("ci-build-metadata", docs)
            bulk_seconds = time.perf_counter() - started

            session = requests.Session()
            url = f"{node.url}/{seed_store.physical('ci-build-metadata')}/_doc"
            started = time.perf_counter()
            for _, artifact in samples:
                response = session.post(url, data=json.dumps(artifact), headers={"Content-Type": "application/json"})
                response.raise_for_status()
            seed_store.refresh("ci-build-metadata")
            seed_seconds = time.perf_counter() - started

            assert bulk_store.count("ci-build-metadata") == count, "bulk path lost documents"
            assert seed_store.count("ci-build-metadata") == count, "baseline lost documents"
        finally:
            node.stop()

    print(f"builds: {count}")
    print(f"c2c bulk path (transform + bulk upsert + refresh): {bulk_seconds:.2f} s ({count / bulk_seconds:.0f} builds/s)")
    print(f"seed per-build POST /_doc:                         {seed_seconds:.2f} s ({count / seed_seconds:.0f} builds/s)")
    print(f"ratio (seed / c2c): {seed_seconds / bulk_seconds:.1f}x  (goal >= 10x)")


if __name__ == "__main__":
    main()
