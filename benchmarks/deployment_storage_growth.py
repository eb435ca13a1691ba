"""Benchmark: deployment-metadata documents per day for a steady 2,000-pod cluster, 10-minute scans.

c2c's history scheme (a new version only on a state change; an unchanged full scan writes only the
cluster's scan watermark) against the seed's CronJob, which POSTs one document per pod per scan
(2,000 x 144 = 288,000 a day; counted, not written: it is that number by construction). Goal: c2c
<= 1% of the seed in documents, and O(1) writes (documents created or updated) per unchanged scan.
For the ratio, the same day is also run the way c2c wrote before the watermark: every unchanged
version's ``last_seen`` refreshed by a merge update.

The cluster is synthetic — raw API objects served by the tests' fake paginating API — because a
simulated day needs 144 scans at simulated times; everything after the API is c2c's real code
path: ``collect`` (paginated LISTs, slimming) -> ``build_snapshot`` -> ``read_open_versions`` ->
``plan_history`` -> ``write_history`` into a real embedded store, counting the documents it holds
and the documents each scan writes.

Day 1 starts from an empty store (the initial versions are counted) and is perfectly steady.
Day 2 adds realistic churn: 2 Deployments rolled out (5 pods each), 1 Deployment scaled 5 -> 7,
and one crash-looping pod restarting every 30 minutes.
Usage: ``.venv/bin/python benchmarks/deployment_storage_growth.py [DEPLOYMENTS] [PODS_PER_DEPLOYMENT]``
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from c2c_dagster.cluster.pager import collect
from c2c_dagster.kubernetes.collect import RESOURCE_TYPES
from c2c_dagster.kubernetes.history import (
    plan_history,
    read_open_versions,
    read_watermark,
    scan_watermark,
    write_history,
)
from c2c_dagster.kubernetes.snapshot import build_snapshot
from c2c_dagster.store import DEPLOYMENT_METADATA, EmbeddedStore
from c2c_devstack.kube_objects import FakeApi, deployment, deployment_pods, node, replicaset

SCANS_PER_DAY = 24 * 60 // 10
START = datetime(2026, 3, 1, tzinfo=UTC)


def make_cluster(n_deployments: int, replicas: int) -> dict:
    objects: dict = {"nodes": [node(f"node-{i}", f"zone-{'abc'[i % 3]}") for i in range(22)],
                     "deployments": [], "replicasets": [], "pods": []}
    for i in range(n_deployments):
        ns, name, image = f"team-{i % 20}", f"svc-{i}", f"registry.local/svc-{i}:1"
        objects["deployments"].append(deployment(ns, name, image, replicas=replicas))
        objects["replicasets"].append(replicaset(ns, name, "h1", replicas=replicas))
        objects["pods"] += deployment_pods(ns, name, "h1", replicas, image, node_name=f"node-{i % 22}")
    return objects


def rollout(objects: dict, i: int, replicas: int, image: str, template_hash: str, revision: str = "2") -> None:
    """Replace Deployment ``svc-i`` by its new state; a new template hash means new pods (a rollout),
    the same hash and revision keeps the existing pods (a scale)."""
    ns, name = f"team-{i % 20}", f"svc-{i}"
    objects["deployments"] = [d for d in objects["deployments"] if d["metadata"]["name"] != name]
    objects["deployments"].append(deployment(ns, name, image, replicas=replicas, revision=revision, generation=2))
    objects["replicasets"] = [r for r in objects["replicasets"] if not r["metadata"]["name"].startswith(f"{name}-")]
    objects["replicasets"].append(replicaset(ns, name, template_hash, revision=revision, replicas=replicas))
    objects["pods"] = [p for p in objects["pods"] if not p["metadata"]["name"].startswith(f"{name}-")]
    objects["pods"] += deployment_pods(ns, name, template_hash, replicas, image, node_name=f"node-{i % 22}")


def crash(objects: dict, restarts: int) -> None:
    status = objects["pods"][0]["status"]["containerStatuses"][0]
    status.update(restartCount=restarts, ready=False, state={"waiting": {"reason": "CrashLoopBackOff"}},
                  lastState={"terminated": {"reason": "Error", "exitCode": 1}})


def scan(store: EmbeddedStore, objects: dict, when: datetime, *, watermark: bool = True) -> int:
    """One full scan as ``deployment_snapshots`` makes it; returns the documents it wrote."""
    collection = collect(FakeApi(objects), types=RESOURCE_TYPES, server="synthetic", page_size=500)
    snap = build_snapshot(collection, cluster="steady", snapshot_time=when)
    advance = scan_watermark("steady", snap.snapshot_time) if watermark and not collection.partial else None
    plan = plan_history(snap.versions, read_open_versions(store, "steady"), snapshot_time=snap.snapshot_time,
                        may_close=lambda d: True, partial=collection.partial,
                        watermark=read_watermark(store, "steady"), advance=advance)
    write_history(store, plan)
    return plan.writes


def main() -> None:
    n_deployments = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    replicas = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    pods = n_deployments * replicas
    seed_per_day = pods * SCANS_PER_DAY
    objects = make_cluster(n_deployments, replicas)
    with tempfile.TemporaryDirectory() as workdir:
        store = EmbeddedStore(Path(workdir) / "store.sqlite")
        store.ensure_indices()
        index = DEPLOYMENT_METADATA.name
        started = time.perf_counter()
        writes = []
        for k in range(SCANS_PER_DAY):
            writes.append(scan(store, objects, START + timedelta(minutes=10 * k)))
            if k == 0:
                initial = store.count(index)
        day1 = store.count(index)
        day1_seconds = time.perf_counter() - started
        unchanged_writes = writes[1:]
        # The same unchanged scans without the watermark: every open version refreshed one by one.
        refresh_store = EmbeddedStore(Path(workdir) / "refresh.sqlite")
        refresh_store.ensure_indices()
        refresh_writes = [scan(refresh_store, objects, START + timedelta(minutes=10 * k), watermark=False)
                          for k in range(3)][1:]

        started = time.perf_counter()
        restarts = 0
        day2_writes = 0
        for k in range(SCANS_PER_DAY):
            minute = 10 * k
            if minute == 9 * 60:
                rollout(objects, 1, replicas, "registry.local/svc-1:2", "h2")
            if minute == 15 * 60:
                rollout(objects, 2, replicas, "registry.local/svc-2:2", "h2")
            if minute == 12 * 60:
                rollout(objects, 3, replicas + 2, "registry.local/svc-3:1", "h1", revision="1")  # scale 5 -> 7
            if minute % 30 == 0:
                restarts += 1
                crash(objects, restarts)
            day2_writes += scan(store, objects, START + timedelta(days=1, minutes=minute))
        day2 = store.count(index) - day1
        day2_seconds = time.perf_counter() - started

    print(f"steady cluster: {n_deployments} Deployments, {pods} pods, {SCANS_PER_DAY} scans/day (synthetic objects, "
          f"real collect/snapshot/history/embedded-store path)")
    print(f"seed (one document per pod per scan):      {seed_per_day:>8,} documents/day")
    print(f"c2c day 1, steady, incl. initial versions: {day1:>8,} documents   "
          f"{day1 / seed_per_day:.3%} of the seed (goal <= 1%)   [{day1_seconds:.0f} s for 144 scans]")
    print(f"c2c day 2, with churn (2 rollouts, 1 scale, 48 crash restarts): {day2:,} new documents   "
          f"{day2 / seed_per_day:.3%} of the seed   [{day2_seconds:.0f} s]")
    print(f"c2c day 1 after the first scan (143 unchanged scans): {day1 - initial:,} new documents "
          f"(the first scan wrote {initial:,}: one per pod and per Deployment)")
    print(f"writes per unchanged scan: {max(unchanged_writes)} (the scan watermark; max over "
          f"{len(unchanged_writes)} scans) vs {max(refresh_writes):,} refreshing last_seen on every version "
          f"(before the watermark): {max(refresh_writes) / max(unchanged_writes):,.0f}x fewer")
    print(f"writes on day 2 (churn): {day2_writes:,} documents created or updated over {SCANS_PER_DAY} scans "
          f"(vs {max(refresh_writes) * SCANS_PER_DAY:,} refreshes a day before the watermark)")


if __name__ == "__main__":
    main()
