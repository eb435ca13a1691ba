"""A run killed in the middle of a cluster scan ends as failed, the cluster's queue moves again and
its records are current again, with one open version per object and one record per container and
digest; the time from the kill to current records is measured and printed. Two ways runs die:

* the local instance (Dagster's DefaultRunLauncher, as ``dagster dev`` and scripts/demo run it):
  ``dagster-daemon``, its code server and the run's process SIGKILLed, then the daemon restarted;
  c2c's ``dead_run_sensor`` marks the run failed (the launcher checks nothing);
* the K8s run launcher: the run Job's pod deleted; Dagster's run monitoring (the launcher checks
  the Job) marks the run failed.

Real: the Kubernetes control plane (its Job controller included), ``dagster-daemon run`` on a real
instance (the local instance's dagster.yaml as the demo writes it: run queue, one run per cluster,
run monitoring; for the second case with dagster-k8s' K8sRunLauncher added), the schedule, the
sensors and automation of the code location, the embedded store. Emulated: the fault proxy in
front of the API server (``FaultProxy``) holds the scan's LIST of pods, so that the run is in flight
when it is killed; and, kwok running no containers, a run Job's container is run as a process of
this host (its args and env from the Job, DAGSTER_HOME the test's instance) — the pod_runner of
test_k8s_run_launcher runs it in c2c's image instead, which this test does not need; the run pods
are annotated so that kwok keeps them Running as a kubelet keeps the pod of a running container
(kwok's own pod-complete stage would finish a Job's pod at once, and run monitoring would then fail
every run it checks, the fault or not).

The two cases run at once (a module fixture, a thread each, their own namespace, proxy, instance
and daemon on the shared control plane): each spends most of its time waiting for the next
minute's scan, so together they take about as long as one.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from c2c_dagster.store import DEPLOYMENT_METADATA, TRACEABILITY_METADATA, EmbeddedStore
from c2c_dagster_tests.kubernetes.conftest import deployment, wait_pods
from c2c_devstack.services import ManagedProcess, wait_until
from c2c_devstack.services.dagster import (
    environ_without_store,
    local_instance_config,
    make_dagster_home,
    start_daemon,
    venv_bin,
)
from c2c_devstack.services.kubernetes import FaultProxy, FaultRule

pytestmark = pytest.mark.kubernetes

CLUSTER = "fault-east"
PODS_LIST = "/api/v1/pods?"  # the scan's cluster-wide LIST of pods, held by the proxy
STARTED_PID = re.compile(r"Started process for run \(pid: (\d+)\)")
SNAPSHOTS, RECORDS = "deployment_snapshots", "traceability_records"
KWOK_POD_COMPLETE_DELAY = "pod-complete.stage.kwok.x-k8s.io/delay"  # services/k8s/kwok-stages.yaml


def _runs(instance: dg.DagsterInstance, asset: str, *statuses: dg.DagsterRunStatus) -> list[dg.DagsterRun]:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": CLUSTER},
                                                   statuses=list(statuses) or None))
    # The schedule's runs are of its own asset job (no asset selection of their own); automation's
    # name their assets.
    return [r for r in runs if (r.tags.get("c2c/trigger") == "cluster_scan_schedule") == (asset == SNAPSHOTS)
            and (asset == SNAPSHOTS or (r.asset_selection and dg.AssetKey(asset) in r.asset_selection))]


def _running_tags(store: EmbeddedStore, namespace: str) -> Counter:
    records = store.find(TRACEABILITY_METADATA.name, "namespace", namespace)
    return Counter(r["image_tag"] for r in records if r.get("running") is not False)


@dataclass
class Scenario:
    """web:1 in the test's namespace, c2c's environment (a scan a minute, through the proxy), the
    instance's home and store; ``kill`` is the fault, given the dead run."""

    api: Any
    namespace: str
    proxy: FaultProxy
    home: Path
    store: EmbeddedStore
    env: dict[str, str]
    daemons: list[ManagedProcess] = field(default_factory=list)

    def run(self, tmp_path: Path, kill, restart_daemon: bool) -> dict[str, Any]:
        """Drive the scenario; return what was measured."""
        from kubernetes import client

        apps = client.AppsV1Api(self.api)
        self.daemons.append(start_daemon(tmp_path / "daemon-1", self.home, env=self.env))
        instance = dg.DagsterInstance.from_config(str(self.home))
        try:
            # A normal minute: the scheduled scan, then the records by automation.
            wait_until(lambda: _runs(instance, RECORDS, dg.DagsterRunStatus.SUCCESS),
                       what="the first scan's records", timeout=900, interval=2, process=self.daemons[-1])
            assert _running_tags(self.store, self.namespace) == Counter({"1": 1})
            # The next scan hangs in its LIST of pods, the one after waits behind it.
            hold = FaultRule(PODS_LIST, release=threading.Event(), times=None)
            self.proxy.rules.append(hold)
            wait_until(lambda: hold.hits > 0, what="a scan in its LIST of pods", timeout=240,
                       process=self.daemons[-1])
            # Only now does web:2 roll out: no scan before the kill can have seen it.
            apps.patch_namespaced_deployment("web", self.namespace, {"spec": {"template": {"spec": {
                "containers": [{"name": "app", "image": "registry.local/web:2"}]}}}})
            wait_pods(self.api, self.namespace, "web", 2,
                      check=lambda pods: all(p.spec.containers[0].image.endswith(":2") for p in pods))
            wait_until(lambda: len(_runs(instance, SNAPSHOTS, dg.DagsterRunStatus.STARTED)) == 1,
                       what=f"the held scan STARTED (runs: {[(r.run_id[:8], r.status.value) for r in instance.get_runs()]})",
                       timeout=240)
            (dead,) = _runs(instance, SNAPSHOTS, dg.DagsterRunStatus.STARTED)
            wait_until(lambda: _runs(instance, SNAPSHOTS, dg.DagsterRunStatus.QUEUED),
                       what="the next scan queued behind it", timeout=180, process=self.daemons[-1])

            killed_at = time.time()
            kill(instance, dead)
            self.proxy.rules.remove(hold)
            hold.release.set()  # the API server answers again
            if restart_daemon:
                self.daemons.append(start_daemon(tmp_path / "daemon-2", self.home, env=self.env))
            wait_until(lambda: instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE,
                       what="the dead run marked failed", timeout=400, interval=1, process=self.daemons[-1])
            failed_after = time.time() - killed_at
            wait_until(lambda: _running_tags(self.store, self.namespace) == Counter({"2": 1}),
                       what="records of web:2", timeout=900, interval=1, process=self.daemons[-1])
            current_after = time.time() - killed_at
            failure = next(e.message for e in instance.all_logs(dead.run_id)
                           if e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE)
        finally:
            for daemon in self.daemons:
                daemon.stop()
            instance.dispose()
        # Nothing duplicated: one open version per pod and workload, one record per container and digest.
        versions = self.store.find(DEPLOYMENT_METADATA.name, "namespace", self.namespace)
        open_keys = Counter((v["doc_type"], v.get("pod_name") or v["workload"])
                            for v in versions if v.get("until") is None)
        assert open_keys and max(open_keys.values()) == 1
        assert sum(1 for kind, _ in open_keys if kind == "pod") == 2
        records = self.store.find(TRACEABILITY_METADATA.name, "namespace", self.namespace)
        assert len({r["record_id"] for r in records}) == len(records) == 2  # web:1 (history) and web:2
        return {"dead": dead, "failure": failure, "failed_after": failed_after, "current_after": current_after,
                "open_versions": len(open_keys), "records": len(records)}


def _scenario(k8s_cluster, api: Any, workdir: Path) -> Scenario:
    """web:1 in a namespace of its own, c2c's environment pointing at a proxy of its own."""
    from kubernetes import client

    namespace = f"snap-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
    client.AppsV1Api(api).create_namespaced_deployment(namespace, deployment("web", "registry.local/web:1", replicas=2))
    wait_pods(api, namespace, "web", 2)
    proxy = FaultProxy(k8s_cluster)
    store_path = workdir / "store.sqlite"
    env = {
        **environ_without_store(),
        "C2C_STORE_PATH": str(store_path),
        "C2C_KUBECONFIG": str(proxy.kubeconfig(workdir / "proxy.yaml")),
        "C2C_CLUSTER_NAME": CLUSTER,
        "C2C_SCAN_CRON": "* * * * *",  # a scan a minute, as scripts/demo runs it
        # Automation every 5 s, as scripts/demo runs it: at Dagster's 30 s its ticks can keep
        # landing while a scan of the minute runs (the records wait), minutes on a loaded machine.
        "C2C_AUTOMATION_INTERVAL_SECONDS": "5",
        # No Application here: the Argo CD sensor's LIST every 4 s would only load the 2 cores.
        "C2C_ARGOCD_SENSOR_INTERVAL_SECONDS": "60",
    }
    return Scenario(api, namespace, proxy, make_dagster_home(workdir / "dagster_home"), EmbeddedStore(store_path), env)


@dataclass
class Case:
    """One case run in its thread: its scenario, and what the test asserts on afterwards."""

    scenario: Scenario
    outcome: Future
    details: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def cases(k8s_cluster, tmp_path_factory: pytest.TempPathFactory,
          request: pytest.FixtureRequest) -> Iterator[dict[str, Case]]:
    """The selected tests' cases started at once, each in a thread; a test waits for its own."""
    from kubernetes import client

    selected = {item.originalname for item in request.session.items if item.module is request.module}
    runs: dict[str, Callable[[Scenario, Path, dict[str, Any]], dict[str, Any]]] = {
        name: run for name, (run, test) in {
            "local": (_local_case, "test_daemon_and_run_killed_mid_scan_fail_the_run_and_the_cluster_recovers"),
            "k8s": (_k8s_case, "test_run_jobs_pod_deleted_mid_scan_fails_the_run_by_run_monitoring"),
        }.items() if test in selected}
    apis = {name: k8s_cluster.api_client() for name in runs}
    built: dict[str, Case] = {}
    pool = ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="daemon-fault")
    try:
        for name, run in runs.items():
            workdir = tmp_path_factory.mktemp(f"daemon-fault-{name}")
            scenario = _scenario(k8s_cluster, apis[name], workdir)
            details: dict[str, Any] = {}
            built[name] = Case(scenario, pool.submit(run, scenario, workdir, details), details)
        yield built
    finally:
        pool.shutdown(wait=True)  # a case still running finishes (its own timeouts) before cleanup
        for name, case in built.items():
            case.scenario.proxy.close()
            client.CoreV1Api(apis[name]).delete_namespace(case.scenario.namespace)
        for api in apis.values():
            api.close()


def _local_case(scenario: Scenario, workdir: Path, details: dict[str, Any]) -> dict[str, Any]:
    pids: list[int] = details.setdefault("pids", [])

    def kill(instance: dg.DagsterInstance, dead: dg.DagsterRun) -> None:
        pids.extend(int(m.group(1)) for e in instance.all_logs(dead.run_id)
                    if (m := STARTED_PID.search(e.message or "")))
        assert pids, "the run reported no process"
        # kill -9: the daemon, its code server and the run's process (one process group).
        daemon = scenario.daemons[-1]
        os.killpg(daemon.popen.pid, signal.SIGKILL)
        daemon.popen.wait(timeout=10)
        wait_until(lambda: _gone(pids[-1]), what=f"run process {pids[-1]} gone", timeout=10)
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.STARTED

    return scenario.run(workdir, kill, restart_daemon=True)


@pytest.mark.timeout(1200)  # waits for its case, which runs beside the other one
def test_daemon_and_run_killed_mid_scan_fail_the_run_and_the_cluster_recovers(
        cases: dict[str, Case], fault_report) -> None:
    case = cases["local"]
    measured = case.outcome.result()
    pids = case.details["pids"]
    failure = measured["failure"]
    assert "dead_run_sensor" in failure and f"pid {pids[-1]}" in failure
    print(f"\nlocal launcher: kill -9 of daemon and run -> run FAILURE after {measured['failed_after']:.1f} s, "
          f"records current after {measured['current_after']:.1f} s")
    fault_report(
        fault="dagster-daemon, code server and a deployment_snapshots run SIGKILLed mid-LIST (local "
              "DefaultRunLauncher), daemon restarted at once",
        expected="run FAILURE, the queued scan runs, traceability_records current again, nothing duplicated",
        observed=f"run FAILURE {measured['failed_after']:.0f} s after the kill (dead_run_sensor: pid gone); "
                 f"records of web:2 current after {measured['current_after']:.0f} s; "
                 f"{measured['open_versions']} open versions, one each; {measured['records']} records, ids unique")


class HostKubelet:
    """Runs each run Job the K8sRunLauncher creates in ``namespace`` as a process of this host, as
    a kubelet would run its container (kwok runs none): the container's args, its env from the Job,
    DAGSTER_HOME the test's instance. ``kill(job)`` is the container dying with its pod."""

    def __init__(self, api: Any, namespace: str, env: dict[str, str], home: Path, logs: Path):
        self.api, self.namespace, self.env, self.home, self.logs = api, namespace, env, home, logs
        self.processes: dict[str, subprocess.Popen] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        from kubernetes import client

        batch = client.BatchV1Api(self.api)
        while not self._stop.wait(0.5):
            try:
                jobs = batch.list_namespaced_job(self.namespace).items
            except Exception:  # noqa: BLE001 - the next poll tries again
                continue
            for job in jobs:
                name = job.metadata.name
                if name in self.processes:
                    continue
                (container,) = job.spec.template.spec.containers
                env = {e.name: e.value for e in container.env or [] if e.value is not None}
                argv = [venv_bin(container.args[0]), *container.args[1:]]
                self.logs.mkdir(parents=True, exist_ok=True)
                with open(self.logs / f"{name}.log", "ab") as log:
                    self.processes[name] = subprocess.Popen(
                        argv, env={**os.environ, **self.env, **env, "DAGSTER_HOME": str(self.home)},
                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self, job: str) -> None:
        process = self.processes[job]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def _k8s_case(scenario: Scenario, workdir: Path, details: dict[str, Any]) -> dict[str, Any]:
    from kubernetes import client

    core = client.CoreV1Api(scenario.api)
    jobs_namespace = f"{scenario.namespace}-runs"
    core.create_namespace({"metadata": {"name": jobs_namespace}})
    wait_until(lambda: core.read_namespaced_service_account("default", jobs_namespace), what="default SA",
               timeout=60)
    config = yaml.safe_load(local_instance_config())
    config["run_launcher"] = {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": {
        "job_namespace": jobs_namespace, "load_incluster_config": False,
        "kubeconfig_file": str(scenario.proxy.cluster.kubeconfig), "instance_config_map": "c2c-dagster-instance",
        "service_account_name": "default",
        "job_image": "registry.local/c2c:fault-test",
        "run_k8s_config": {
            # As shipped (k8s/base/dagster.yaml): a pod that dies is not replaced, the Job fails.
            "job_spec_config": {"backoffLimit": 0},
            # kwok: the pod stays Running while its container (HostKubelet's process) runs, as a
            # kubelet keeps it; else kwok completes a Job's pod at once, and run monitoring fails
            # each run it finds running with "no active pods", the fault or not.
            "pod_template_spec_metadata": {"annotations": {KWOK_POD_COMPLETE_DELAY: "1h"}}}}}
    (scenario.home / "dagster.yaml").write_text(yaml.safe_dump(config))
    kubelet = HostKubelet(scenario.api, jobs_namespace, scenario.env, scenario.home, workdir / "jobs")
    deleted: list[str] = details.setdefault("deleted", [])

    def kill(instance: dg.DagsterInstance, dead: dg.DagsterRun) -> None:
        job = f"dagster-run-{dead.run_id}"
        (pod,) = core.list_namespaced_pod(jobs_namespace, label_selector=f"job-name={job}").items
        assert pod.status.phase == "Running", pod.status.phase  # its container runs until the delete
        core.delete_namespaced_pod(pod.metadata.name, jobs_namespace, grace_period_seconds=0)
        kubelet.kill(job)  # its container dies with it
        deleted.append(pod.metadata.name)

    try:
        return scenario.run(workdir, kill, restart_daemon=False)
    finally:
        kubelet.stop()
        core.delete_namespace(jobs_namespace)


@pytest.mark.timeout(1200)  # waits for its case, which runs beside the other one
def test_run_jobs_pod_deleted_mid_scan_fails_the_run_by_run_monitoring(cases: dict[str, Case], fault_report) -> None:
    measured = cases["k8s"].outcome.result()
    failure = measured["failure"]
    assert "Detected run worker status" in failure, failure
    print(f"\nK8s launcher: run Job's pod deleted -> run FAILURE after {measured['failed_after']:.1f} s, "
          f"records current after {measured['current_after']:.1f} s")
    fault_report(
        fault="the pod of a deployment_snapshots run's Job deleted mid-LIST (K8sRunLauncher)",
        expected="run FAILURE by Dagster's run monitoring, the queued scan runs, records current, nothing duplicated",
        observed=f"run FAILURE {measured['failed_after']:.0f} s after the delete ({failure.splitlines()[0][:90]}); "
                 f"records of web:2 current after {measured['current_after']:.0f} s; "
                 f"{measured['open_versions']} open versions, one each; {measured['records']} records, ids unique")


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return ") Z " in stat.read()
    except FileNotFoundError:
        return True
