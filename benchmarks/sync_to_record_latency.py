"""Benchmark: from an Argo CD sync's finish to the new digest's traceability record in the store.

Starts the project's own Kubernetes control plane (kwok nodes), the real Argo CD controller and
repo server syncing an Application from a local config repository, and the real Dagster daemon
(``dagster-daemon run``, the daemon ``dagster dev`` starts: sensors, automation, run queue; runs
launched as processes of their own) over c2c's code location, on the embedded store. Then, for
each of ``SYNCS`` releases: commit a new image digest to the config repository, announce it (the
refresh annotation a git webhook sets), wait until Argo CD has written the sync's
``status.operationState.finishedAt``, and poll the store until the traceability record of the
new digest exists. Latency = record seen - finishedAt (finishedAt has one-second resolution).
Goal: median <= 60 s. Scheduled scans are off during the run, so every record comes from the
sync path: ``argocd_sync_sensor`` -> post-sync ``deployment_snapshots`` run ->
``traceability_automation`` -> ``traceability_records`` run.

Each sync's time is split into its stages from the Dagster instance's run records (created,
started, ended), which is what bounds it: the sensor's interval (``C2C_ARGOCD_SENSOR_INTERVAL_SECONDS``,
15 s), the run queue's dequeue loop, the run's launch (a new process importing Dagster and the code
location) and the run itself (the scoped snapshot, then the cluster's records, in one run).

Usage: ``.venv/bin/python benchmarks/sync_to_record_latency.py [SYNCS]`` (default 6).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from c2c_core.timeutil import parse_time
from c2c_dagster.store import ARGOCD_SYNC_EVENTS, TRACEABILITY_METADATA, EmbeddedStore
from c2c_devstack.kube_objects import digest_of
from c2c_devstack.services import argocd, kubernetes, wait_until
from c2c_devstack.services.argocd import ConfigRepo, deployment_manifest, manifests_yaml
from c2c_devstack.services.dagster import environ_without_store, make_dagster_home, start_daemon

CLUSTER = "bench"
GOAL_MEDIAN_SECONDS = 60.0


def image(release: int) -> tuple[str, str]:
    """An image pinned by digest: kwok reports the pinned digest as the pod's imageID."""
    digest = digest_of(f"web-release-{release}")
    return f"registry.local/shop/web@{digest}", digest


def record_of(store_path: Path, digest: str) -> bool:
    if not store_path.exists():
        return False
    store = EmbeddedStore(store_path)
    try:
        return any(d.get("cluster") == CLUSTER
                   for d in store.find(TRACEABILITY_METADATA.name, "image_digest", digest, limit=10))
    except Exception:  # noqa: BLE001 - the daemon's first run may still be creating the tables
        return False
    finally:
        store.close()


def sync_recorded(store_path: Path) -> bool:
    if not store_path.exists():
        return False
    store = EmbeddedStore(store_path)
    try:
        return bool(store.find(ARGOCD_SYNC_EVENTS.name, "app", "web", limit=1))
    except Exception:  # noqa: BLE001 - the sensor may still be creating the tables
        return False
    finally:
        store.close()


def stages(instance, finished: float, found: float) -> dict[str, float]:
    """The sync's path through Dagster, from the run records (seconds): the sensor's pick-up, the
    run's wait in the queue and its launch, the run until the record was seen; and, where the
    records came from a run of their own, the automation's pick-up and that run."""
    import dagster as dg

    records = instance.get_run_records(dg.RunsFilter(), limit=200)

    def assets(record) -> set[str]:
        return {key.path[-1] for key in record.dagster_run.asset_selection or ()}

    def first_run(asset: str, after: float):
        runs = [r for r in records if r.create_timestamp.timestamp() >= after and asset in assets(r)]
        return min(runs, key=lambda r: r.create_timestamp, default=None)

    snap = first_run("deployment_snapshots", finished - 1)
    if snap is None or snap.start_time is None:
        return {}
    created = snap.create_timestamp.timestamp()
    out = {"sensor": created - finished, "queue+launch": snap.start_time - created}
    if "traceability_records" in assets(snap):
        out["run until record seen"] = found - snap.start_time
        return out
    out["snapshot run"] = (snap.end_time or found) - snap.start_time
    trace = first_run("traceability_records", created)
    if trace is not None and trace.start_time is not None:
        out["automation"] = trace.create_timestamp.timestamp() - (snap.end_time or found)
        out["records queue+launch"] = trace.start_time - trace.create_timestamp.timestamp()
        out["records run until seen"] = found - trace.start_time
    return out


def main() -> None:
    syncs = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        cluster = kubernetes.start(workdir / "k8s", nodes=2)
        processes = [cluster]
        try:
            argo = argocd.start(workdir / "argocd", cluster)
            processes.append(argo)
            print(f"control plane and Argo CD up in {time.perf_counter() - started:.0f}s", flush=True)
            app_ns, dest = argo.create_namespace(), argo.create_namespace("dest")
            repo = ConfigRepo.create(workdir / "config")

            def release(n: int) -> tuple[str, str]:
                ref, digest = image(n)
                sha = repo.commit({"web/deployment.yaml": manifests_yaml(deployment_manifest("web", ref, replicas=2))},
                                  f"web: release {n}")
                return sha, digest

            sha, digest = release(0)
            argo.create_application(app_ns, "web", sources=[{"repoURL": repo.url, "path": "web", "targetRevision": "main"}],
                                    dest_namespace=dest)
            argo.wait_for_operation(app_ns, "web", revision=sha, timeout=120)

            store_path = workdir / "store.sqlite"
            home = make_dagster_home(workdir / "dagster_home")
            env = {**environ_without_store(), "C2C_STORE_PATH": str(store_path),
                   "C2C_KUBECONFIG": str(cluster.kubeconfig), "C2C_CLUSTER_NAME": CLUSTER,
                   # No scheduled scan in the measured hour: every record must come from the sync path.
                   "C2C_SCAN_CRON": "0 0 1 1 *"}
            for name in ("C2C_JENKINS_URL",):
                env.pop(name, None)
            os.environ["DAGSTER_HOME"] = str(home)
            daemon = start_daemon(workdir, home, env)
            processes.append(daemon)
            started = time.perf_counter()
            # The sensor's first tick records the app's existing sync as history (no snapshot): from
            # then on every new sync is one to follow.
            wait_until(lambda: sync_recorded(store_path), what="the sensor's first tick", timeout=600, interval=0.5,
                       process=daemon)
            print(f"daemon up, the sensor's first tick done after {time.perf_counter() - started:.0f}s", flush=True)

            import dagster as dg

            instance = dg.DagsterInstance.get()
            latencies, breakdowns = [], []
            for n in range(1, syncs + 1):
                sha, digest = release(n)
                argo.refresh(app_ns, "web")
                app = argo.wait_for_operation(app_ns, "web", revision=sha, timeout=120)
                finished = parse_time(app["status"]["operationState"]["finishedAt"]).timestamp()
                wait_until(lambda digest=digest: record_of(store_path, digest), what=f"record of release {n}",
                           timeout=600, interval=0.25, process=daemon)
                found = time.time()
                latencies.append(found - finished)
                breakdowns.append(stages(instance, finished, found))
                parts = ", ".join(f"{k} {v:.1f}" for k, v in breakdowns[-1].items())
                print(f"sync {n}: finishedAt {datetime.fromtimestamp(finished).time()}, record after "
                      f"{latencies[-1]:5.1f} s ({parts})", flush=True)

            median = statistics.median(latencies)
            print(f"sync to record over {syncs} syncs: median {median:.1f} s, max {max(latencies):.1f} s, "
                  f"min {min(latencies):.1f} s (goal: median <= {GOAL_MEDIAN_SECONDS:.0f} s — "
                  f"{'met' if median <= GOAL_MEDIAN_SECONDS else 'NOT met'}); "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            keys = sorted({k for b in breakdowns for k in b}, key=lambda k: list(breakdowns[0]).index(k)
                          if k in breakdowns[0] else 99)
            for key in keys:
                values = [b[key] for b in breakdowns if key in b]
                print(f"  {key:<24} median {statistics.median(values):5.1f} s  max {max(values):5.1f} s")
        finally:
            for process in reversed(processes):
                process.stop()


if __name__ == "__main__":
    main()
