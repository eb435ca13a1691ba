"""``c2c trace`` answers from the embedded store: tables for people, JSON for machines, exit codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from c2c_dagster.store import EmbeddedStore
from c2c_dagster.traceability.correlate import BuildIndex, RunningContainer, RunningPod, SyncInfo, correlate
from c2c_devstack.services import free_port
from c2c_devstack.services.dagster import environ_without_store, venv_bin

REPO = "registry.local/shop/web"
OLD, NEW = "sha256:" + "0" * 64, "sha256:" + "1" * 64
COMMIT_OLD, COMMIT_NEW = "a" * 40, "b" * 40


def build(number: int, digest: str, commit: str) -> dict:
    return {
        "build_id": f"shop/web/main-{number}", "job_name": "shop/web/main", "build_number": number,
        "build_status": "SUCCESS", "image_name": REPO, "image_tag": f"web-{number}", "image_digest": digest,
        "build_url": f"https://jenkins.example/job/shop/job/web/job/main/{number}/",
        "commits": [{"commit_id": commit, "author": "Ada Lovelace", "email": "ada@example.com",
                     "message": f"Change {number}\n\nbody"}],
        "authors": ["Ada Lovelace <ada@example.com>"], "timestamp": f"2026-01-0{number}T00:00:00Z",
    }


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "store.sqlite"
    store = EmbeddedStore(path)
    builds = [build(1, OLD, COMMIT_OLD), build(2, NEW, COMMIT_NEW)]
    store.upsert("ci-build-metadata", builds)
    web = RunningContainer(
        "prod", "shop", "Deployment", "web", "web", f"{REPO}:web-2",
        [RunningPod("web-7d9-abc", "kwok-node-0", NEW, "2026-01-03T00:00:00Z"),
         RunningPod("web-7d9-def", "kwok-node-1", NEW, "2026-01-03T00:00:05Z")],
        argocd_app="argocd/web", replicas={"desired": 2, "ready": 2, "available": 2, "updated": 2},
        strategy={"type": "RollingUpdate", "maxSurge": "25%", "maxUnavailable": "25%"},
    )
    records = correlate([web], BuildIndex(builds), syncs={"argocd/web": SyncInfo("argocd/web", "c" * 40)},
                        updated_at="2026-01-04T00:00:00Z")
    old = correlate([RunningContainer("prod", "shop", "Deployment", "web", "web", f"{REPO}:web-1",
                                      [RunningPod("web-5f4-xyz", "kwok-node-0", OLD, "2026-01-02T00:00:00Z")])],
                    BuildIndex(builds), updated_at="2026-01-03T00:00:00Z")
    store.upsert("traceability-metadata", records + [{**r, "running": False} for r in old])
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
                     "flags     mutable_tag"):
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
