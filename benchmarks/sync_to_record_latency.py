"""Benchmark: from an Argo CD sync's finish to the new digest's traceability record in the store.

Starts the project's own Kubernetes control plane (kwok nodes), the real Argo CD controller and
repo server syncing an Application from a local config repository, the real OCI registry the
releases' images are pushed to (Buildah), and the real Dagster daemon (``dagster-daemon run``,
the daemon ``dagster dev`` starts: sensors, automation, run queue; each run a process of its own,
Dagster's default run launcher) over c2c's code location, on the embedded store, with the
instance settings c2c ships (``k8s/base/dagster.yaml``: run queue limits and dequeue interval).
Then, for each of ``SYNCS`` releases: wait a random 0-20 s, build and push a new image, commit
its digest to the config repository, announce it (the refresh annotation a git webhook sets),
wait until Argo CD has written the sync's ``status.operationState.finishedAt``, and poll the
store until the traceability record of the new digest exists, with the revision label the run
read from the registry. Latency = record seen - finishedAt (finishedAt has one-second
resolution). Goal: median <= 60 s. Scheduled scans are off during the run, so every record
comes from the sync path: ``argocd_sync_sensor`` -> one post-sync run of ``deployment_snapshots``
and the cluster's ``traceability_records``.

Each sync's time is split into stages from the Dagster instance's run record and events, which
is what bounds it: the sensor (its interval, ``C2C_ARGOCD_SENSOR_INTERVAL_SECONDS``, on the
daemon's 5 s sensor loop; then its evaluation), the run queue (the daemon's dequeue loop, and any
run it is launching meanwhile), the launch (a new process importing Python and Dagster, then the
code location imported and the job built) and the run itself.

Usage: ``.venv/bin/python benchmarks/sync_to_record_latency.py [SYNCS]`` (default 10).
"""

from __future__ import annotations

import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from c2c_core.timeutil import parse_time
from c2c_dagster.store import ARGOCD_SYNC_EVENTS, TRACEABILITY_METADATA, EmbeddedStore
from c2c_dagster.registry.resources import REVISION_LABEL
from c2c_devstack.services import argocd, kubernetes, registry, wait_until
from c2c_devstack.services.argocd import ConfigRepo, deployment_manifest, manifests_yaml
from c2c_devstack.services.dagster import environ_without_store, make_dagster_home, start_daemon

CLUSTER = "bench"
GOAL_MEDIAN_SECONDS = 60.0
# Each release waits a random 0-20 s first, so its sync finishes at a random point of the sensor's
# and the queue's cycles: releases sent back to back would fall into step with a cycle (a 15 s
# interval and ~15 s per release did) and measure one phase of it only.
PHASE_SECONDS = 20.0


def image(oci: registry.RegistryService, release: int) -> tuple[str, str, str]:
    """A new image in the real registry, pinned by digest: kwok reports the pinned digest as the
    pod's imageID, and the record's run reads the image's revision label from the registry, as it
    would in production (an unreachable registry would add its retries to every run)."""
    revision = hashlib.sha1(f"web release {release}".encode()).hexdigest()
    digest = oci.build_and_push("shop/web", f"r{release}", files={"app.txt": f"web release {release}\n"},
                                labels={REVISION_LABEL: revision})
    return f"{oci.host}/shop/web@{digest}", digest, revision


def record_of(store_path: Path, digest: str) -> dict | None:
    """The cluster's traceability record of ``digest``, once it is in the store."""
    if not store_path.exists():
        return None
    store = EmbeddedStore(store_path)
    try:
        return next((d for d in store.find(TRACEABILITY_METADATA.name, "image_digest", digest, limit=10)
                     if d.get("cluster") == CLUSTER), None)
    except Exception:  # noqa: BLE001 - the daemon's first run may still be creating the tables
        return None
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
    out = {"sensor": created - finished}
    # The queue's part ends when the daemon dequeues the run and launches it (RUN_STARTING). The
    # launch is a new process (Python and Dagster imported: "Started process for run"), then the
    # code location imported and the job built until the run's start (RUN_START).
    events = instance.all_logs(snap.dagster_run.run_id, of_type={dg.DagsterEventType.RUN_STARTING,
                                                                 dg.DagsterEventType.ENGINE_EVENT})
    launched = next((e.timestamp for e in events if e.dagster_event_type == dg.DagsterEventType.RUN_STARTING), None)
    process = next((e.timestamp for e in events if (e.message or "").startswith("Started process for run")), None)
    if launched is not None and process is not None:
        out["queue"] = launched - created
        out["launch: process"] = process - launched
        out["launch: code location"] = snap.start_time - process
    else:
        out["queue+launch"] = snap.start_time - created
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
    syncs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        cluster = kubernetes.start(workdir / "k8s", nodes=2)
        processes = [cluster]
        try:
            argo = argocd.start(workdir / "argocd", cluster)
            processes.append(argo)
            (workdir / "registry").mkdir()
            oci = registry.start(workdir / "registry")
            processes.append(oci)
            print(f"control plane, Argo CD and the registry up in {time.perf_counter() - started:.0f}s", flush=True)
            app_ns, dest = argo.create_namespace(), argo.create_namespace("dest")
            repo = ConfigRepo.create(workdir / "config")

            def release(n: int) -> tuple[str, str, str]:
                ref, digest, revision = image(oci, n)
                sha = repo.commit({"web/deployment.yaml": manifests_yaml(deployment_manifest("web", ref, replicas=2))},
                                  f"web: release {n}")
                return sha, digest, revision

            sha, _, _ = release(0)
            argo.create_application(app_ns, "web", sources=[{"repoURL": repo.url, "path": "web", "targetRevision": "main"}],
                                    dest_namespace=dest)
            argo.wait_for_operation(app_ns, "web", revision=sha, timeout=120)

            store_path = workdir / "store.sqlite"
            home = make_dagster_home(workdir / "dagster_home")
            env = {**environ_without_store(), "C2C_STORE_PATH": str(store_path),
                   "C2C_KUBECONFIG": str(cluster.kubeconfig), "C2C_CLUSTER_NAME": CLUSTER,
                   "C2C_INSECURE_REGISTRIES": oci.host,
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
            phases = random.Random(14)
            for n in range(1, syncs + 1):
                time.sleep(phases.uniform(0, PHASE_SECONDS))
                sha, digest, revision = release(n)
                argo.refresh(app_ns, "web")
                app = argo.wait_for_operation(app_ns, "web", revision=sha, timeout=120)
                finished = parse_time(app["status"]["operationState"]["finishedAt"]).timestamp()
                wait_until(lambda digest=digest: record_of(store_path, digest), what=f"record of release {n}",
                           timeout=600, interval=0.25, process=daemon)
                found = time.time()
                record = record_of(store_path, digest) or {}
                if record.get("image_revision") != revision:
                    raise SystemExit(f"record of release {n} lacks the image's revision label {revision} "
                                     f"(has {record.get('image_revision')!r}): the run did not read the registry; "
                                     "see the daemon's log")
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
