"""A backfill from the dagster CLI ingests a range of days into real OpenSearch; twice, no duplicates."""

from __future__ import annotations

import subprocess
import uuid

from c2c_dagster.store import OpenSearchStore
from c2c_dagster_tests.jenkins.data import add_build, digest_of, metadata_artifact
from c2c_devstack.services import REPO_ROOT
from c2c_devstack.services.dagster import environ_without_store, venv_bin


def test_cli_partition_range_backfill_is_idempotent(jenkins_emulator, opensearch_service, dagster_home) -> None:
    days = ["2026-01-29", "2026-01-30", "2026-01-31", "2026-02-01"]
    for job in ("Node-JS/master", "billing"):
        for d, day in enumerate(days):
            for hour in (1, 13):
                number = d * 2 + (hour > 1) + 1
                at = f"{day}T{hour:02d}:00:00Z"
                add_build(jenkins_emulator, job, number, at=at,
                          artifact=metadata_artifact(job, number, digest_of(f"{job}{number}"), at=at))
    prefix = f"bf{uuid.uuid4().hex[:6]}-"
    env = {
        **environ_without_store(),
        "DAGSTER_HOME": str(dagster_home),
        "C2C_JENKINS_URL": jenkins_emulator.url,
        "C2C_OPENSEARCH_URL": opensearch_service.url,
        "C2C_OPENSEARCH_REPLICAS": "0",
        "C2C_INDEX_PREFIX": prefix,
    }
    command = [venv_bin("dagster"), "asset", "materialize", "-m", "c2c_dagster.definitions",
               "--select", "ci_builds", "--partition-range", "2026-01-30...2026-01-31"]
    store = OpenSearchStore(opensearch_service.url, index_prefix=prefix)

    for attempt in (1, 2):
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=300)
        assert done.returncode == 0, f"attempt {attempt}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        # Two jobs x two days x two builds: the days outside the range are not touched.
        assert store.count("ci-build-metadata") == 8
    ids = sorted(doc["build_id"] for doc in store.iter_all("ci-build-metadata"))
    assert ids == [f"{job}-{n}" for job in ("Node-JS/master", "billing") for n in (3, 4, 5, 6)]
    assert store.get("ci-build-metadata", "billing-5")["image_digest"] == digest_of("billing5")
