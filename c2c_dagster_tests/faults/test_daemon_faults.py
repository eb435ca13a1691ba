"""The Dagster daemon and its run processes SIGKILLed in the middle of a cluster scan, then the
daemon restarted: the dead run is marked failed (c2c's dead_run_sensor; Dagster's DefaultRunLauncher
checks nothing), the scan queued behind it runs, traceability_records follows by automation, and
the cluster's records are current again, with one open version per object and one record per
container and digest. The time from the kill to current records is measured and printed.

Real: the Kubernetes control plane, ``dagster-daemon run`` on a real instance (the local instance's
dagster.yaml as the demo writes it: run queue, one run per cluster, run monitoring), the schedule,
the sensors and automation of the code location, the embedded store. Emulated: only the fault
proxy in front of the API server (``FaultProxy``), which holds the scan's LIST of pods so that the
run is in flight when it is killed.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from c2c_dagster.store import DEPLOYMENT_METADATA, TRACEABILITY_METADATA, EmbeddedStore
from c2c_dagster_tests.kubernetes.conftest import api, deployment, namespace, wait_pods  # noqa: F401 - fixtures
from c2c_devstack.services import ManagedProcess, wait_until
from c2c_devstack.services.dagster import environ_without_store, make_dagster_home, start_daemon
from c2c_devstack.services.kubernetes import FaultProxy, FaultRule

pytestmark = pytest.mark.kubernetes

CLUSTER = "fault-east"
PODS_LIST = "/api/v1/pods?"  # the scan's cluster-wide LIST of pods, held by the proxy
STARTED_PID = re.compile(r"Started process for run \(pid: (\d+)\)")
SNAPSHOTS, RECORDS = "deployment_snapshots", "traceability_records"


def _runs(instance: dg.DagsterInstance, asset: str, *statuses: dg.DagsterRunStatus) -> list[dg.DagsterRun]:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": CLUSTER},
                                                   statuses=list(statuses) or None))
    return [r for r in runs if r.asset_selection and dg.AssetKey(asset) in r.asset_selection]


def _running_tags(store: EmbeddedStore, namespace: str) -> Counter:
    records = store.find(TRACEABILITY_METADATA.name, "namespace", namespace)
    return Counter(r["image_tag"] for r in records if r.get("running") is not False)


@pytest.fixture
def proxy(k8s_cluster) -> Iterator[FaultProxy]:
    proxy = FaultProxy(k8s_cluster)
    try:
        yield proxy
    finally:
        proxy.close()


def test_daemon_and_run_killed_mid_scan_fail_the_run_and_the_cluster_recovers(
        k8s_cluster, proxy, api, namespace, tmp_path: Path, fault_report) -> None:
    from kubernetes import client

    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(namespace, deployment("web", "registry.local/web:1", replicas=2))
    wait_pods(api, namespace, "web", 2)
    home = make_dagster_home(tmp_path / "dagster_home")
    store_path = tmp_path / "store.sqlite"
    env = {
        **environ_without_store(),
        "C2C_STORE_PATH": str(store_path),
        "C2C_KUBECONFIG": str(proxy.kubeconfig(tmp_path / "proxy.yaml")),
        "C2C_CLUSTER_NAME": CLUSTER,
        "C2C_SCAN_CRON": "* * * * *",  # a scan a minute, as scripts/demo runs it
    }
    # The daemon is started with the environment above only; os.environ is left alone.
    daemon = start_daemon(tmp_path / "daemon-1", home, env=env)
    restarted: ManagedProcess | None = None
    instance = dg.DagsterInstance.from_config(str(home))
    store = EmbeddedStore(store_path)
    try:
        # A normal minute: the scheduled scan, then the records by automation.
        wait_until(lambda: _runs(instance, RECORDS, dg.DagsterRunStatus.SUCCESS),
                   what="the first scan's records", timeout=240, interval=2, process=daemon)
        assert _running_tags(store, namespace) == Counter({"1": 1})

        # The next scan hangs in its LIST of pods, the one after waits behind it.
        hold = FaultRule(PODS_LIST, release=threading.Event(), times=None)
        proxy.rules.append(hold)
        wait_until(lambda: hold.hits > 0, what="a scan in its LIST of pods", timeout=120, process=daemon)
        # Only now does web:2 roll out: no scan before the kill can have seen it.
        apps.patch_namespaced_deployment("web", namespace, {"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "registry.local/web:2"}]}}}})
        wait_pods(api, namespace, "web", 2, check=lambda pods: all(
            p.spec.containers[0].image.endswith(":2") for p in pods))
        (dead,) = _runs(instance, SNAPSHOTS, dg.DagsterRunStatus.STARTED)
        wait_until(lambda: _runs(instance, SNAPSHOTS, dg.DagsterRunStatus.QUEUED),
                   what="the next scan queued behind it", timeout=90, process=daemon)
        pids = [int(m.group(1)) for e in instance.all_logs(dead.run_id)
                if (m := STARTED_PID.search(e.message or ""))]
        assert pids, "the run reported no process"

        # kill -9: the daemon, its code server and the run's process (one process group).
        killed_at = time.time()
        os.killpg(daemon.popen.pid, signal.SIGKILL)
        daemon.popen.wait(timeout=10)
        wait_until(lambda: _gone(pids[-1]), what=f"run process {pids[-1]} gone", timeout=10)
        proxy.rules.remove(hold)
        hold.release.set()  # the API server answers again
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.STARTED

        restarted = start_daemon(tmp_path / "daemon-2", home, env=env)
        wait_until(lambda: instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE,
                   what="the dead run marked failed", timeout=180, interval=1, process=restarted)
        failed_after = time.time() - killed_at
        wait_until(lambda: _running_tags(store, namespace) == Counter({"2": 1}),
                   what="records of web:2", timeout=300, interval=1, process=restarted)
        current_after = time.time() - killed_at
        failure = next(e.message for e in instance.all_logs(dead.run_id)
                       if e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE)
    finally:
        for process in (daemon, restarted):
            if process is not None:
                process.stop()
        instance.dispose()

    assert "dead_run_sensor" in failure and f"pid {pids[-1]}" in failure
    # Nothing duplicated: one open version per pod and workload, one record per container and digest.
    versions = store.find(DEPLOYMENT_METADATA.name, "namespace", namespace)
    open_keys = Counter((v["doc_type"], v.get("pod_name") or v["workload"]) for v in versions if v.get("until") is None)
    assert open_keys and max(open_keys.values()) == 1
    assert sum(1 for k in open_keys if k[0] == "pod") == 2
    records = store.find(TRACEABILITY_METADATA.name, "namespace", namespace)
    assert len({r["record_id"] for r in records}) == len(records) == 2  # web:1 (history) and web:2
    print(f"\nkill -9 of daemon and run -> run FAILURE after {failed_after:.1f} s, "
          f"records current after {current_after:.1f} s")
    fault_report(
        fault="dagster-daemon, code server and a deployment_snapshots run SIGKILLed mid-LIST (local "
              "DefaultRunLauncher), daemon restarted",
        expected="run FAILURE, the queued scan runs, traceability_records current again, nothing duplicated",
        observed=f"run FAILURE {failed_after:.0f} s after the kill ({failure.split(';')[0]}); records of web:2 "
                 f"current after {current_after:.0f} s; {len(open_keys)} open versions, one each; "
                 f"{len(records)} records, ids unique")


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return ") Z " in stat.read()
    except FileNotFoundError:
        return True
