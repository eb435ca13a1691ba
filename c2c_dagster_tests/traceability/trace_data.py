"""A small traced platform for the ``c2c trace`` tests: two builds of shop/web, one running, one as history."""

from __future__ import annotations

from c2c_dagster.documents.deployments import Replicas
from c2c_dagster.store import MetadataStore
from c2c_dagster.traceability.correlate import BuildIndex, RunningContainer, RunningPod, SyncInfo, correlate

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


def seed_trace_store(store: MetadataStore) -> None:
    """Two builds of shop/web, the second running on two pods, the first as history."""
    builds = [build(1, OLD, COMMIT_OLD), build(2, NEW, COMMIT_NEW)]
    store.upsert("ci-build-metadata", builds)
    web = RunningContainer(
        "prod", "shop", "Deployment", "web", "web", f"{REPO}:web-2",
        [RunningPod("web-7d9-abc", "kwok-node-0", NEW, "2026-01-03T00:00:00Z"),
         RunningPod("web-7d9-def", "kwok-node-1", NEW, "2026-01-03T00:00:05Z")],
        argocd_app="argocd/web", replicas=Replicas(desired=2, ready=2, available=2, updated=2),
        strategy={"type": "RollingUpdate", "maxSurge": "25%", "maxUnavailable": "25%"},
    )
    index = BuildIndex.of_documents(builds)
    records = correlate([web], index, syncs={"argocd/web": SyncInfo("argocd/web", "c" * 40)},
                        updated_at="2026-01-04T00:00:00Z")
    old = correlate([RunningContainer("prod", "shop", "Deployment", "web", "web", f"{REPO}:web-1",
                                      [RunningPod("web-5f4-xyz", "kwok-node-0", OLD, "2026-01-02T00:00:00Z")])],
                    index, updated_at="2026-01-03T00:00:00Z")
    for record in old:
        record.running = False
    store.upsert("traceability-metadata", [r.to_document() for r in records + old])
