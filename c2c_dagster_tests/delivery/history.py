"""A generated delivery history with known truth, written as the c2c assets write their documents.

Two production clusters (``prod``, first scanned 2026-03-01 08:00; ``prod-eu``, first scanned
2026-02-01, before the history the tests ask about) and one that is not production (``staging``),
under ``C2C_PRODUCTION_CLUSTERS=prod*``. Apps: the Argo CD app ``argocd/shop`` (workloads
``shop/web``, with an external ``envoy`` sidecar, and ``shop/worker``), and two workloads without
an app, ``pay/api`` and ``infra/proxy`` (an external nginx). Times are UTC.

What happens (D = a deployment; c... = commits with their commit times):

* 03-01 08:00 first scan of prod: web (build web-10), worker, api, proxy already run (since 02-21).
  Records, no release events: history, not deployments. prod-eu runs web-10 too.
* 03-02 09:00 staging gets web-11 (not production: must not count, nor make c11a "released").
* D1 03-02 10:00 prod web -> web-11 (c11a 03-01 10:00, c11b 03-02 08:00, and c10, which ran since
  before the first scan: not new); the envoy sidecar's
  external digest changes in the same rollout: one deployment, two release events.
* D2 03-02 10:00 prod worker -> worker-5 (cw5 03-02 09:00).
* D4 03-03 09:00 prod web -> web-12 (c12 03-03 06:00, and c11b again: a commit in two builds).
* 03-03 11:00 Argo CD sync of argocd/shop in prod Failed after applying a ConfigMap (its Deployment
  refused, as the real controller reports it in test_syncs.py); worker's D2 is past its 1-day window.
* D5 03-03 12:00 prod web rolls back to web-11's digest.
* D6 03-04 10:00 prod api -> api-7 (ca7 2026-02-25 10:00).
* D7 03-04 14:00 prod worker -> worker-6 (cw6 03-04 13:30); 14:05 sync Succeeded but Degraded.
* D8 03-04 16:00 prod worker -> worker-7, built from branch hotfix/queue (cw7 03-04 15:40).
* 03-04 17:00 Argo CD sync of argocd/shop in prod Error before applying anything (manifest
  generation failed, no syncResult): a failed sync attempt, no failure of D8 (nor of D5).
* D9 03-05 10:00 prod api -> a digest no build produced (untraceable).
* D12 03-05 09:00 prod-eu web -> web-12 (its first release there of c12 and c11b).
* D10 03-05 11:00 prod proxy -> another nginx digest (external).
* D11 03-05 12:00 prod api -> api-8 (ca8 without a commit time: an old build; ca8b 03-05 11:00).
"""

from __future__ import annotations

import hashlib
from typing import Any

from c2c_dagster.store import (
    ARGOCD_SYNC_EVENTS,
    CI_BUILD_METADATA,
    DEPLOYMENT_METADATA,
    RELEASE_EVENTS,
    TRACEABILITY_METADATA,
    MetadataStore,
)

PRODUCTION = {"C2C_PRODUCTION_CLUSTERS": "prod*"}
REGISTRY = "registry.example.com/shop"


def sha(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()


def digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


COMMITS: dict[str, str | None] = {
    "c10": "2026-02-20T10:00:00Z",
    "c11a": "2026-03-01T10:00:00Z",
    "c11b": "2026-03-02T08:00:00Z",
    "c12": "2026-03-03T06:00:00Z",
    "cw4": "2026-02-20T10:00:00Z",
    "cw5": "2026-03-02T09:00:00Z",
    "cw6": "2026-03-04T13:30:00Z",
    "cw7": "2026-03-04T15:40:00Z",
    "ca6": "2026-02-20T10:00:00Z",
    "ca7": "2026-02-25T10:00:00Z",
    "ca8": None,  # ingested before commit times were recorded
    "ca8b": "2026-03-05T11:00:00Z",
}
BUILDS: dict[str, dict[str, Any]] = {
    # build id: job, number, image, commits, branch
    "shop/web/main-10": {"commits": ["c10"], "image": "web"},
    # c10 again: its range overlaps web-10's (a rebuild), and web-10 ran before the first scan.
    "shop/web/main-11": {"commits": ["c11a", "c11b", "c10"], "image": "web"},
    "shop/web/main-12": {"commits": ["c12", "c11b"], "image": "web"},
    "shop/worker/main-4": {"commits": ["cw4"], "image": "worker"},
    "shop/worker/main-5": {"commits": ["cw5"], "image": "worker"},
    "shop/worker/main-6": {"commits": ["cw6"], "image": "worker"},
    "shop/worker/hotfix-queue-7": {"commits": ["cw7"], "image": "worker", "branch": "hotfix/queue"},
    "pay/api/main-6": {"commits": ["ca6"], "image": "api"},
    "pay/api/main-7": {"commits": ["ca7"], "image": "api"},
    "pay/api/main-8": {"commits": ["ca8", "ca8b"], "image": "api"},
}


def build_digest(build_id: str) -> str:
    return digest(build_id)


def build_document(build_id: str) -> dict[str, Any]:
    spec = BUILDS[build_id]
    job, _, number = build_id.rpartition("-")
    commits = []
    for name in spec["commits"]:
        commit = {"commit_id": sha(name), "author": "Ada Lovelace", "email": "ada@example.com", "message": f"change {name}"}
        if COMMITS[name] is not None:
            commit["timestamp"] = COMMITS[name]
        commits.append(commit)
    return {
        "build_id": build_id, "job_name": job, "build_number": int(number), "branch": spec.get("branch", "main"),
        "image_name": f"{REGISTRY}/{spec['image']}", "image_tag": f"{spec['image']}-{number}",
        "image_digest": build_digest(build_id), "commits": commits, "authors": ["Ada Lovelace <ada@example.com>"],
        "build_status": "SUCCESS", "timestamp": max((COMMITS[n] or "2026-02-01T00:00:00Z") for n in spec["commits"]),
        "metadata_source": "artifact",
    }


WORKLOADS = {
    # (cluster, namespace, name, container): app
    ("prod", "shop", "web", "web"): "argocd/shop",
    ("prod", "shop", "web", "envoy"): "argocd/shop",
    ("prod", "shop", "worker", "worker"): "argocd/shop",
    ("prod", "pay", "api", "api"): None,
    ("prod", "infra", "proxy", "nginx"): None,
    ("prod-eu", "shop", "web", "web"): "argocd/shop",
    ("staging", "shop", "web", "web"): "argocd/shop",
}
EXTERNAL = {digest("envoy-1.30"), digest("envoy-1.31"), digest("nginx-1.27"), digest("nginx-1.28")}
UNTRACEABLE = digest("api-by-hand")


def record(cluster: str, namespace: str, name: str, container: str, image_digest: str, *, first_seen: str,
           running: bool) -> dict[str, Any]:
    build_id = next((b for b in BUILDS if build_digest(b) == image_digest), None)
    return {
        "record_id": f"{cluster}/{namespace}/Deployment/{name}/{container}/{image_digest}",
        "cluster": cluster, "namespace": namespace, "workload_kind": "Deployment", "workload_name": name,
        "container_name": container, "image_digest": image_digest,
        "image": f"{REGISTRY}/{name}@{image_digest}" if image_digest not in EXTERNAL else f"docker.io/library/{container}",
        "build_id": build_id,
        "commit_ids": [c["commit_id"] for c in build_document(build_id)["commits"]] if build_id else [],
        "argocd_app": WORKLOADS[(cluster, namespace, name, container)],
        "image_class": "external" if image_digest in EXTERNAL else "internal",
        "flags": ["untraceable"] if image_digest == UNTRACEABLE else [],
        "digest_state": "known", "running": running, "first_seen": first_seen,
        "last_seen": "2026-03-06T00:00:00Z", "updated_at": "2026-03-06T00:00:00Z",
    }


def event(cluster: str, namespace: str, name: str, container: str, at: str, from_digest: str, to_digest: str,
          *, rollback: bool = False, sync_app: str | None = None) -> dict[str, Any]:
    """A release event as traceability_records writes it (releases.release_events)."""
    to_build = next((b for b in BUILDS if build_digest(b) == to_digest), None)
    from_build = next((b for b in BUILDS if build_digest(b) == from_digest), None)
    key = [cluster, namespace, "Deployment", name, container]
    return {
        "event_id": "/".join([*key, at, to_digest]),
        "cluster": cluster, "namespace": namespace, "workload_kind": "Deployment", "workload_name": name,
        "container_name": container, "at": at, "from_digest": from_digest, "to_digest": to_digest,
        "from_build_id": from_build, "to_build_id": to_build,
        "to_commit_ids": [c["commit_id"] for c in build_document(to_build)["commits"]] if to_build else [],
        "to_build_time": build_document(to_build)["timestamp"] if to_build else None,
        "rollback": rollback, "argocd_app": sync_app, "argocd_revision": None, "initiated_by": None,
    }


# What a failed sync applied, as the argocd-sync-events document keeps syncResult.resources[]:
# the real controller's refused Deployment beside an applied ConfigMap (argocd/test_syncs.py).
APPLIED_A_CONFIGMAP = [
    {"group": "", "kind": "ConfigMap", "namespace": "shop", "name": "web-settings", "status": "Synced"},
    {"group": "apps", "kind": "Deployment", "namespace": "shop", "name": "web", "status": "SyncFailed"},
]


def sync(cluster: str, app: str, finished_at: str, phase: str, health: str,
         resources: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A sync event as the Argo CD sensor writes it; ``resources``: what a failed one applied
    (none: it failed before applying anything)."""
    namespace, _, name = app.partition("/")
    return {
        "event_id": f"argocd/{app}/uid-1/{finished_at}", "argocd_cluster": "argocd", "cluster": cluster,
        "app": name, "app_namespace": namespace, "app_uid": "uid-1", "phase": phase, "health": health,
        "started_at": finished_at, "finished_at": finished_at, "recorded_at": finished_at,
        "resources": resources or [],
    }


def first_scan(cluster: str, at: str) -> list[dict[str, Any]]:
    """The first deployment-metadata versions of a cluster: the time of c2c's first scan."""
    names = sorted({(ns, name) for (c, ns, name, _) in WORKLOADS if c == cluster})
    return [{"doc_id": f"{cluster}/workload/Deployment/{ns}/{name}@{at}", "doc_type": "workload", "cluster": cluster,
             "namespace": ns, "workload": f"Deployment/{ns}/{name}", "workload_kind": "Deployment",
             "workload_name": name, "snapshot_time": at, "first_seen": at, "last_seen": "2026-03-06T00:00:00Z"}
            for ns, name in names]


WEB = {n: build_digest(f"shop/web/main-{n}") for n in (10, 11, 12)}
WORKER = {n: build_digest(f"shop/worker/main-{n}") for n in (4, 5, 6)} | {7: build_digest("shop/worker/hotfix-queue-7")}
API = {n: build_digest(f"pay/api/main-{n}") for n in (6, 7, 8)}


def events() -> list[dict[str, Any]]:
    return [
        event("staging", "shop", "web", "web", "2026-03-02T09:00:00Z", WEB[10], WEB[11], sync_app="argocd/shop"),
        event("prod", "shop", "web", "web", "2026-03-02T10:00:00Z", WEB[10], WEB[11], sync_app="argocd/shop"),  # D1
        event("prod", "shop", "web", "envoy", "2026-03-02T10:00:00Z", digest("envoy-1.30"), digest("envoy-1.31")),  # D1
        event("prod", "shop", "worker", "worker", "2026-03-02T10:00:00Z", WORKER[4], WORKER[5]),  # D2
        event("prod", "shop", "web", "web", "2026-03-03T09:00:00Z", WEB[11], WEB[12]),  # D4
        event("prod", "shop", "web", "web", "2026-03-03T12:00:00Z", WEB[12], WEB[11], rollback=True),  # D5
        event("prod", "pay", "api", "api", "2026-03-04T10:00:00Z", API[6], API[7]),  # D6
        event("prod", "shop", "worker", "worker", "2026-03-04T14:00:00Z", WORKER[5], WORKER[6]),  # D7
        event("prod", "shop", "worker", "worker", "2026-03-04T16:00:00Z", WORKER[6], WORKER[7]),  # D8
        event("prod", "pay", "api", "api", "2026-03-05T10:00:00Z", API[7], UNTRACEABLE),  # D9
        event("prod-eu", "shop", "web", "web", "2026-03-05T09:00:00Z", WEB[10], WEB[12]),  # D12
        event("prod", "infra", "proxy", "nginx", "2026-03-05T11:00:00Z", digest("nginx-1.27"), digest("nginx-1.28")),  # D10
        event("prod", "pay", "api", "api", "2026-03-05T12:00:00Z", UNTRACEABLE, API[8]),  # D11
    ]


BEFORE_FIRST_SCAN = "2026-02-21T00:00:00Z"  # pods that already ran when c2c first looked


def records() -> list[dict[str, Any]]:
    """Each digest that ran in each workload container, as traceability_records leaves it: since
    when it runs (its first pod start; a rollback restarts it) and whether it still runs."""
    ran = {
        ("prod", "shop", "web", "web"): [(WEB[10], BEFORE_FIRST_SCAN, False), (WEB[12], "2026-03-03T09:00:00Z", False),
                                         (WEB[11], "2026-03-03T12:00:00Z", True)],  # D1's start reset by D5
        ("prod", "shop", "web", "envoy"): [(digest("envoy-1.30"), BEFORE_FIRST_SCAN, False),
                                           (digest("envoy-1.31"), "2026-03-02T10:00:00Z", True)],
        ("prod", "shop", "worker", "worker"): [(WORKER[4], BEFORE_FIRST_SCAN, False), (WORKER[5], "2026-03-02T10:00:00Z", False),
                                               (WORKER[6], "2026-03-04T14:00:00Z", False), (WORKER[7], "2026-03-04T16:00:00Z", True)],
        ("prod", "pay", "api", "api"): [(API[6], BEFORE_FIRST_SCAN, False), (API[7], "2026-03-04T10:00:00Z", False),
                                        (UNTRACEABLE, "2026-03-05T10:00:00Z", False), (API[8], "2026-03-05T12:00:00Z", True)],
        ("prod", "infra", "proxy", "nginx"): [(digest("nginx-1.27"), BEFORE_FIRST_SCAN, False),
                                              (digest("nginx-1.28"), "2026-03-05T11:00:00Z", True)],
        ("prod-eu", "shop", "web", "web"): [(WEB[10], "2026-01-20T00:00:00Z", False), (WEB[12], "2026-03-05T09:00:00Z", True)],
        ("staging", "shop", "web", "web"): [(WEB[10], BEFORE_FIRST_SCAN, False), (WEB[11], "2026-03-02T09:00:00Z", True)],
    }
    return [record(*key, image_digest, first_seen=since, running=running)
            for key, digests in ran.items() for image_digest, since, running in digests]


def syncs() -> list[dict[str, Any]]:
    return [
        sync("prod", "argocd/shop", "2026-03-02T10:02:00Z", "Succeeded", "Healthy"),
        sync("prod", "argocd/shop", "2026-03-03T11:00:00Z", "Failed", "Healthy", APPLIED_A_CONFIGMAP),
        sync("prod", "argocd/shop", "2026-03-04T14:05:00Z", "Succeeded", "Degraded"),
        sync("prod", "argocd/shop", "2026-03-04T17:00:00Z", "Error", "Healthy"),  # applied nothing
        sync("staging", "argocd/shop", "2026-03-02T09:05:00Z", "Failed", "Degraded"),  # not production
    ]


def write_history(store: MetadataStore) -> None:
    """Every document of the history above, as the assets and the Argo CD sensor write them."""
    store.upsert(CI_BUILD_METADATA.name, [build_document(b) for b in BUILDS])
    store.upsert(DEPLOYMENT_METADATA.name, first_scan("prod", "2026-03-01T08:00:00Z")
                 + first_scan("prod-eu", "2026-02-01T08:00:00Z") + first_scan("staging", "2026-03-01T08:00:00Z"))
    store.upsert(TRACEABILITY_METADATA.name, records())
    store.upsert(RELEASE_EVENTS.name, events())
    store.upsert(ARGOCD_SYNC_EVENTS.name, syncs())
