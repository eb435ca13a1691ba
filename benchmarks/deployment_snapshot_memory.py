"""Benchmark: peak resident memory of one snapshot of >= 10,000 pods on the real control plane.

Starts the project's own Kubernetes (etcd, kube-apiserver, controller manager, scheduler, kwok
nodes), creates the Deployments with a bounded thread pool (``deployment_snapshot_scale``'s
workload: two containers per pod) and waits until every pod is Running. Then each measurement
runs in a fresh child process, so one cannot reuse another's freed memory: the child imports
everything, opens its API client and makes one LIST call, resets its peak RSS
(``/proc/self/clear_refs``), reads its resident memory as the baseline, takes the snapshot and
reads its peak (``VmHWM``). Goal: peak minus baseline < 5 MiB per 1,000 pods.

Measured, each in its own child:

- c2c's snapshot (``snapshot_cluster``: owners listed, then every pod page joined as it arrives),
  at page sizes 500 (the default) and 250;
- the whole-collection path in the same run, for the ratio: every pod slimmed and kept, then
  joined (``build_snapshot(collect(...))``, how c2c took a snapshot before it streamed);
- the deployment_snapshots run's own peak on an unchanged re-scan: the snapshot plus the open
  versions read back from the store and the history plan (a first scan is written in another
  child beforehand), on the embedded store and on a real OpenSearch node; each also reading the
  open versions whole, as the run did before it read only the fields the plan compares
  (``PLAN_FIELDS``), for the ratio.

Usage: ``.venv/bin/python benchmarks/deployment_snapshot_memory.py [DEPLOYMENTS] [PODS_PER_DEPLOYMENT]``
(default 2,000 x 5 = 10,000 pods on 94 kwok nodes; creating them takes about 10 minutes on 2
busy cores). ``--kubeconfig PATH`` measures a cluster that already runs the workload instead.
"""

from __future__ import annotations

import gc
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

GOAL_MIB_PER_1000_PODS = 5.0


def _status_kib(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    assert match, field
    return int(match.group(1))


def child(kubeconfig: str, how: str, page_size: int, store_at: str) -> None:
    """One measurement, printed as a JSON line (runs in its own process). ``store_at``: the
    embedded store's file, or an OpenSearch URL."""
    from kubernetes import config

    from c2c_dagster.cluster.pager import api_page_lister, collect
    from c2c_dagster.kubernetes.collect import RESOURCE_TYPES
    from c2c_dagster.kubernetes.history import (
        plan_history,
        read_open_versions,
        read_watermark,
        scan_watermark,
        write_history,
    )
    from c2c_dagster.kubernetes.snapshot import build_snapshot, snapshot_cluster
    from c2c_dagster.store import EmbeddedStore, OpenSearchStore

    api = config.new_client_from_config(config_file=kubeconfig)
    lister = api_page_lister(api, 60)
    lister("/api/v1/nodes", 1, None)  # the connection and TLS set up before the baseline
    if store_at.startswith("http"):
        store = OpenSearchStore(store_at, index_prefix="bench-", number_of_replicas=0)
    else:
        store = EmbeddedStore(Path(store_at))
    store.ensure_indices()  # on OpenSearch also opens the connection, before the baseline
    now = datetime.now(UTC)
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    baseline = _status_kib("VmHWM")
    started = time.perf_counter()
    if how == "whole-collection":
        snap = build_snapshot(collect(lister, types=RESOURCE_TYPES, page_size=page_size), cluster="bench", snapshot_time=now)
        writes = 0
    else:
        snap, _ = snapshot_cluster(lister, cluster="bench", snapshot_time=now, page_size=page_size)
        writes = 0
        if how in ("first-scan", "rescan", "rescan-whole"):
            # rescan-whole reads the open versions whole, as the run did before PLAN_FIELDS.
            previous = read_open_versions(store, "bench", fields=None) if how == "rescan-whole" else (
                read_open_versions(store, "bench"))
            plan = plan_history(snap.versions, previous, snapshot_time=snap.snapshot_time,
                                may_close=lambda v: True, watermark=read_watermark(store, "bench"),
                                advance=scan_watermark("bench", snap.snapshot_time))
            if how == "first-scan":
                write_history(store, plan)
            writes = plan.writes
    seconds = time.perf_counter() - started
    peak = _status_kib("VmHWM")
    print(json.dumps({"how": how, "store": store.kind, "page_size": page_size, "pods": len(snap.pods), "writes": writes,
                      "baseline_mib": baseline / 1024, "peak_mib": (peak - baseline) / 1024, "seconds": seconds}))


def measure(kubeconfig: Path, how: str, page_size: int, store_at: Path | str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(kubeconfig), how, str(page_size), str(store_at)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(kubeconfig: Path, workdir: Path) -> None:
    from c2c_devstack.services import opensearch

    embedded = workdir / "store.sqlite"
    rows = [measure(kubeconfig, how, page, embedded) for how, page in (
        ("snapshot", 500), ("snapshot", 250), ("whole-collection", 500))]
    node = opensearch.start(workdir / "opensearch")
    try:
        for store_at in (embedded, node.url):
            rows += [measure(kubeconfig, how, 500, store_at) for how in ("first-scan", "rescan", "rescan-whole")]
    finally:
        node.stop()
    pods = rows[0]["pods"]
    print(f"{pods} pods; process baseline after imports and one LIST: {rows[0]['baseline_mib']:.0f} MiB RSS; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    labels = {
        "snapshot": "c2c snapshot (pods joined page by page)",
        "whole-collection": "whole collection, then join (before)",
        "first-scan": "deployment_snapshots first scan (+ history, write)",
        "rescan": "deployment_snapshots unchanged re-scan (+ open versions' PLAN_FIELDS read, plan)",
        "rescan-whole": "unchanged re-scan reading whole open versions (before)",
    }
    for row in rows:
        per_1000 = row["peak_mib"] / row["pods"] * 1000
        label = labels[row["how"]] + (f", {row['store']}" if row["how"] in ("first-scan", "rescan", "rescan-whole") else "")
        print(f"{label:<84} page {row['page_size']:>3}: peak +{row['peak_mib']:6.1f} MiB "
              f"= {per_1000:5.2f} MiB per 1,000 pods in {row['seconds']:5.2f} s")
    for kind in ("embedded", "opensearch"):
        slim, whole = (next(r for r in rows if r["how"] == how and r["store"] == kind) for how in ("rescan", "rescan-whole"))
        print(f"unchanged re-scan, {kind}: {whole['peak_mib'] / slim['peak_mib']:.1f}x less peak memory reading "
              f"PLAN_FIELDS than whole versions ({slim['writes']} write(s) each)")
    streamed, whole = rows[0], rows[2]
    per_1000 = streamed["peak_mib"] / pods * 1000
    verdict = "met" if per_1000 < GOAL_MIB_PER_1000_PODS else "NOT met"
    print(f"goal < {GOAL_MIB_PER_1000_PODS} MiB per 1,000 pods above baseline (page 500): {per_1000:.2f} — {verdict}; "
          f"{whole['peak_mib'] / streamed['peak_mib']:.1f}x less than the whole-collection path")


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        kubeconfig, how, page_size, store = sys.argv[2:6]
        child(kubeconfig, how, int(page_size), store)
        return
    with tempfile.TemporaryDirectory() as workdir:
        if sys.argv[1:2] == ["--kubeconfig"]:
            report(Path(sys.argv[2]), Path(workdir))
            return
        # Same directory: the workload of the speed benchmark, so both measure the same objects.
        from deployment_snapshot_scale import MAX_PODS_PER_NODE, create_workload, running_pods

        from c2c_dagster.cluster.pager import api_page_lister
        from c2c_devstack.services import kubernetes, wait_until

        n_deployments = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
        replicas = int(sys.argv[2]) if len(sys.argv) > 2 else 5
        total = n_deployments * replicas
        nodes = math.ceil(total / MAX_PODS_PER_NODE) + 3  # headroom for the spread across zones
        started = time.perf_counter()
        cluster = kubernetes.start(Path(workdir) / "k8s", nodes=nodes)
        try:
            print(f"cluster with {nodes} kwok nodes up in {time.perf_counter() - started:.0f}s", flush=True)
            with cluster.api_client() as api:
                started = time.perf_counter()
                create_workload(api, n_deployments, replicas)
                print(f"{n_deployments} Deployments created in {time.perf_counter() - started:.0f}s", flush=True)
                lister = api_page_lister(api, 60)
                wait_until(lambda: running_pods(lister) >= total, what=f"{total} pods Running",
                           timeout=3600, interval=10)
                print(f"{total} pods Running {time.perf_counter() - started:.0f}s after the first create", flush=True)
            report(cluster.kubeconfig, Path(workdir))
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
