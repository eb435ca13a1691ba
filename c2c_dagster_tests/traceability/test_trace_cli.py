"""``c2c trace`` answers from the embedded store: tables for people, JSON for machines, exit codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from c2c_dagster.store import EmbeddedStore
from c2c_dagster_tests.traceability.trace_data import COMMIT_NEW, COMMIT_OLD, NEW, OLD, seed_trace_store
from c2c_devstack.services import free_port
from c2c_devstack.services.dagster import environ_without_store, venv_bin


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "store.sqlite"
    seed_trace_store(EmbeddedStore(path))
    return path


def c2c(store_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**environ_without_store(), "C2C_STORE_PATH": str(store_path)}
    return subprocess.run([venv_bin("c2c"), "trace", *args], capture_output=True, text=True, env=env, timeout=120)


def test_workload_table_answers_the_seeds_questions(store_path: Path) -> None:
    done = c2c(store_path, "--workload", "prod/shop/web")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Running now:" in out and "prod/shop Deployment/web  container web" in out
    for expected in (NEW, "shop/web/main-2 SUCCESS https://jenkins.example/", f"{COMMIT_NEW[:12]}  Change 2  Ada Lovelace <ada@example.com>",
                     "web-7d9-abc @ kwok-node-0", "2 desired, 2 ready", "strategy RollingUpdate (maxSurge 25%, maxUnavailable 25%)",
                     "released  2026-01-03T00:00:00Z", f"config revision {'c' * 40}", "matched by image_digest: exact",
                     "flags     none"):
        assert expected in out, f"{expected!r} not in:\n{out}"
    assert "Ran before:" in out and OLD in out


def test_commit_prefix_json_shows_where_it_ran_before(store_path: Path) -> None:
    done = c2c(store_path, "--commit", COMMIT_OLD[:7], "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["query"] == {"commit": COMMIT_OLD[:7]}
    assert answer["running"] == []
    assert [r["pods"][0]["name"] for r in answer["previously"]] == ["web-5f4-xyz"]
    assert [b["build_id"] for b in answer["builds"]] == ["shop/web/main-1"]


@pytest.mark.parametrize(
    ("args", "build_id"),
    [(("--pod", "shop/web-7d9-def"), "shop/web/main-2"), (("--build", "shop/web/main-2"), "shop/web/main-2"),
     (("--digest", NEW), "shop/web/main-2"), (("--workload", "shop/web"), "shop/web/main-2")],
)
def test_pod_build_digest_and_short_workload_queries(store_path: Path, args: tuple[str, ...], build_id: str) -> None:
    done = c2c(store_path, *args, "--json")
    assert done.returncode == 0, done.stderr
    assert [r["build_id"] for r in json.loads(done.stdout)["running"]] == [build_id]


def test_nothing_matching_and_bad_queries_exit_non_zero_with_a_message(store_path: Path) -> None:
    missing = c2c(store_path, "--workload", "shop/nope")
    assert missing.returncode == 1 and "nothing matches --workload shop/nope in the embedded store" in missing.stderr
    bad = c2c(store_path, "--digest", "latest")
    assert bad.returncode == 2 and "expected sha256:<64 hex>" in bad.stderr
    assert c2c(store_path, "--workload", "just-a-name").returncode == 2


def test_unreachable_opensearch_exits_3_naming_it(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    env = {**environ_without_store(), "C2C_OPENSEARCH_URL": url}
    done = subprocess.run([venv_bin("c2c"), "trace", "--build", "x-1"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 3
    assert url in done.stderr and "unreachable" in done.stderr
    # A reader sets nothing up, so its error names the read it tried, not a template write.
    assert "_index_template" not in done.stderr and "GET ci-build-metadata/_doc/x-1" in done.stderr


def test_a_store_file_that_does_not_exist_yet_matches_nothing_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "not-yet" / "store.sqlite"
    done = c2c(path, "--commit", COMMIT_OLD[:7])
    assert done.returncode == 1 and "nothing matches" in done.stderr, done.stderr
    assert not path.parent.exists()
