"""Benchmark: a cluster snapshot on the real control plane with >= 2,000 pods in >= 400 Deployments.

Starts the project's own Kubernetes (etcd, kube-apiserver, controller manager, scheduler, kwok
nodes), creates the Deployments with a bounded thread pool and waits until every pod is Running,
then measures in the same process, each the best of ``ROUNDS`` runs:

- raw LISTs: the same paginated LIST calls the snapshot makes (same types, page size 500), each
  page parsed with ``json.loads`` and dropped — the floor a plain client pays; also timed with
  the cyclic GC paused as c2c pauses it, so the ratio to that stricter floor is shown too;
- c2c snapshot: ``snapshot_cluster`` (LIST, slim, join, pods joined page by page; no store
  write); goal <= 1.5x the raw LISTs;
- c2c snapshot + history + embedded store write (first scan, then an unchanged re-scan);
- seed's approach: list Deployments, then one pod LIST per Deployment with its label selector
  (the seed's collector loop), twice: as the seed writes it (the Python SDK's typed models), and
  on c2c's raw-JSON client, the kinder baseline that isolates the cost of the per-Deployment
  calls themselves; goal: c2c >= 5x faster;
- typed models: the pod LIST through ``CoreV1Api`` models instead of raw JSON, for the record;
- peak Python memory of one snapshot (tracemalloc, in a separate run so it does not slow the
  timings) and the process' max RSS; ``deployment_snapshot_memory.py`` measures peak RSS properly,
  each snapshot in a process of its own.

Usage: ``.venv/bin/python benchmarks/deployment_snapshot_scale.py [DEPLOYMENTS] [PODS_PER_DEPLOYMENT]``
(default 400 x 5 = 2,000 pods on 22 kwok nodes).
"""

from __future__ import annotations

import json
import math
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from c2c_dagster.cluster.pager import api_page_lister
from c2c_dagster.documents.base import gc_paused
from c2c_dagster.kubernetes.collect import RESOURCE_TYPES
from c2c_dagster.kubernetes.history import (
    plan_history,
    read_open_versions,
    read_watermark,
    scan_watermark,
    write_history,
)
from c2c_dagster.kubernetes.snapshot import snapshot_cluster
from c2c_dagster.store import EmbeddedStore
from c2c_devstack.services import kubernetes, wait_until

ROUNDS = 3
PAGE_SIZE = 500
MAX_PODS_PER_NODE = 110


def best(fn: Callable[[], object], rounds: int = ROUNDS) -> tuple[float, object]:
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def create_workload(api, n_deployments: int, replicas: int) -> None:
    from kubernetes import client

    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    namespaces = [f"bench-{i}" for i in range(20)]
    for ns in namespaces:
        core.create_namespace({"metadata": {"name": ns}})

    def create(i: int) -> None:
        ns = namespaces[i % len(namespaces)]
        name = f"svc-{i}"
        labels = {"app": name, "app.kubernetes.io/instance": f"team-{i % 40}"}
        apps.create_namespaced_deployment(ns, {
            "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": f"registry.local/{name}:1.{i}"},
                                                          {"name": "proxy", "image": "registry.local/proxy:2"}]}}},
        }, _preload_content=False)

    # Bounded: the API server and the 2 shared cores set the pace, not the number of threads.
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(create, range(n_deployments)))


def json_page_lister(api) -> Callable[[str, int, str | None], dict]:
    """A plain client's LIST: the whole page parsed with ``json.loads`` (c2c decodes items one at a
    time, ``collect.parse_list_page``), the floor the raw LISTs are timed on."""

    def list_page(path: str, limit: int, continue_token: str | None) -> dict:
        query: list[tuple[str, object]] = [("limit", limit)] + ([("continue", continue_token)] if continue_token else [])
        response = api.call_api(path, "GET", query_params=query, header_params={"Accept": "application/json"},
                                auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True,
                                _request_timeout=(10, 60))
        return json.loads(response.data)

    return list_page


def running_pods(lister) -> int:
    count, token = 0, None
    while True:
        page = lister("/api/v1/pods", PAGE_SIZE, token)
        count += sum(1 for p in page["items"] if (p.get("status") or {}).get("phase") == "Running")
        token = page["metadata"].get("continue")
        if not token:
            return count


def raw_lists(lister) -> int:
    calls = 0
    for rtype in RESOURCE_TYPES:
        token = None
        while True:
            page = lister(rtype.path(), PAGE_SIZE, token)
            calls += 1
            token = page["metadata"].get("continue")
            del page
            if not token:
                break
    return calls


def seed_per_deployment(api, lister) -> int:
    """The seed's loop: all Deployments, then the pods of each by its selector."""
    deployments, token = [], None
    while True:
        page = lister("/apis/apps/v1/deployments", PAGE_SIZE, token)
        deployments += page["items"]
        token = page["metadata"].get("continue")
        if not token:
            break
    pods = 0
    for d in deployments:
        selector = ",".join(f"{k}={v}" for k, v in d["spec"]["selector"]["matchLabels"].items())
        ns = d["metadata"]["namespace"]
        # Same raw-JSON call as the lister, plus the selector the API server filters by.
        response = api.call_api(
            f"/api/v1/namespaces/{ns}/pods", "GET", query_params=[("labelSelector", selector)],
            header_params={"Accept": "application/json"}, auth_settings=["BearerToken"],
            _preload_content=False, _return_http_data_only=True, _request_timeout=(10, 60))
        pods += len(json.loads(response.data)["items"])
    return pods


def main() -> None:
    n_deployments = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    replicas = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    total = n_deployments * replicas
    nodes = math.ceil(total / MAX_PODS_PER_NODE) + 3  # headroom for the spread across zones
    from kubernetes import client

    with tempfile.TemporaryDirectory() as workdir:
        started = time.perf_counter()
        cluster = kubernetes.start(Path(workdir) / "k8s", nodes=nodes)
        try:
            print(f"cluster with {nodes} kwok nodes up in {time.perf_counter() - started:.0f}s")
            with cluster.api_client() as api:
                lister = api_page_lister(api, 60)
                plain_lister = json_page_lister(api)
                started = time.perf_counter()
                create_workload(api, n_deployments, replicas)
                wait_until(lambda: running_pods(lister) >= total, what=f"{total} pods Running",
                           timeout=1800, interval=5)
                print(f"{n_deployments} Deployments, {total} pods Running in {time.perf_counter() - started:.0f}s")

                def snapshot():
                    snap, _ = snapshot_cluster(lister, cluster="bench", snapshot_time=datetime.now(UTC),
                                               page_size=PAGE_SIZE)
                    return snap

                store = EmbeddedStore(Path(workdir) / "store.sqlite")
                store.ensure_indices()

                def snapshot_and_write():
                    snap = snapshot()
                    plan = plan_history(snap.versions, read_open_versions(store, "bench"),
                                        snapshot_time=snap.snapshot_time, may_close=lambda d: True,
                                        watermark=read_watermark(store, "bench"),
                                        advance=scan_watermark("bench", snap.snapshot_time))
                    write_history(store, plan)
                    return plan

                # Warm connections and the API server's caches equally for everyone.
                raw_lists(plain_lister)
                t_raw, calls = best(lambda: raw_lists(plain_lister))

                def raw_lists_gc_paused() -> int:
                    with gc_paused():
                        return raw_lists(plain_lister)

                t_raw_nogc, _ = best(raw_lists_gc_paused)
                t_snap, snap = best(snapshot)
                t_first, first = best(snapshot_and_write, rounds=1)
                t_steady, steady = best(snapshot_and_write)
                t_seed, seed_pods = best(lambda: seed_per_deployment(api, plain_lister))
                core = client.CoreV1Api(api)
                apps_api = client.AppsV1Api(api)

                def seed_as_written() -> int:
                    """The seed's collector as it is written: the SDK's typed models, no pagination."""
                    pods = 0
                    for d in apps_api.list_deployment_for_all_namespaces().items:
                        selector = ",".join(f"{k}={v}" for k, v in d.spec.selector.match_labels.items())
                        pods += len(core.list_namespaced_pod(d.metadata.namespace, label_selector=selector).items)
                    return pods

                t_seed_sdk, _ = best(seed_as_written, rounds=2)

                def typed_pods() -> int:
                    count, token = 0, None
                    while True:
                        page = core.list_pod_for_all_namespaces(limit=PAGE_SIZE, _continue=token)
                        count += len(page.items)
                        token = page.metadata._continue
                        if not token:
                            return count

                def raw_pods() -> int:
                    count, token = 0, None
                    while True:
                        page = plain_lister("/api/v1/pods", PAGE_SIZE, token)
                        count += len(page["items"])
                        token = page["metadata"].get("continue")
                        if not token:
                            return count

                t_typed, _ = best(typed_pods)
                t_rawpods, _ = best(raw_pods)

                rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                tracemalloc.start()
                snapshot()
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

            pods = len(snap.pods)
            print(f"snapshot: {len(snap.workloads)} workloads, {pods} pods, {len(snap.containers())} containers; "
                  f"{calls} LIST calls")
            print(f"raw LISTs of the same types (json parsed):   {t_raw:7.3f} s")
            print(f"c2c snapshot (collect + join, no write):     {t_snap:7.3f} s   "
                  f"ratio to raw LISTs {t_snap / t_raw:.2f}x (goal <= 1.5x)")
            print(f"raw LISTs with the GC paused as c2c does:    {t_raw_nogc:7.3f} s   "
                  f"ratio of c2c to it {t_snap / t_raw_nogc:.2f}x")
            print(f"c2c snapshot + history + embedded write:     first scan {t_first:.3f} s "
                  f"({len(first.new)} new), unchanged re-scan {t_steady:.3f} s "
                  f"({len(steady.new)} new, {steady.unchanged} unchanged, {steady.writes} document written)")
            print(f"seed per-deployment as written (SDK models, 1 + {n_deployments} LISTs): {t_seed_sdk:7.3f} s   "
                  f"c2c is {t_seed_sdk / t_snap:.1f}x faster (goal >= 5x)")
            print(f"seed per-deployment on c2c's raw-JSON client ({seed_pods} pods): {t_seed:7.3f} s   "
                  f"c2c is {t_seed / t_snap:.1f}x faster")
            print(f"pod LIST typed models vs raw JSON:           {t_typed:.3f} s vs {t_rawpods:.3f} s "
                  f"({t_typed / t_rawpods:.1f}x)")
            print(f"peak Python memory during one snapshot:      {peak / 2**20:.1f} MiB "
                  f"({peak / max(pods, 1) / 1024:.1f} KiB per pod); max RSS {rss_after / 1024:.0f} MiB "
                  f"(+{(rss_after - rss_before) / 1024:.0f} MiB during the traced snapshot)")
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
