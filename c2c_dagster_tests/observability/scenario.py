"""A scenario with known numbers for the dashboards, produced by c2c's real code on the real services.

Real: Buildah images in the real registry, Deployments on a real control plane of the test's own
(kwok as the runtime and, emulated, as each node's kubelet resource metrics), Argo CD's real Application CRD,
the real OpenSearch node as c2c's store, c2c's real assets (ci_builds, deployment_snapshots scoped
to the scenario's namespace, traceability_records) and Argo CD sensor, `c2c metrics serve` as a
process, and a real Prometheus scraping it and kwok. Emulated, and said so: the Jenkins controller
(the emulator serves the builds), Argo CD's controller (the test writes the Application status it
would: the dashboards' time windows need syncs finished hours and days before the scenario, and the
real controller stamps every operation with the moment it runs; the syncs themselves are proven on
the real controller in c2c_dagster_tests/argocd/test_syncs.py), the kubelet's restart report (the test patches a pod's containerStatuses as a kubelet
would after three OOM kills; kwok never crashes a container). Nothing is written to the store
directly: the delivery-metrics rows too are the real delivery_metrics asset's, from the releases.

What happens, relative to the scenario's start T (builds and syncs carry past times; releases
happen now, as the workloads change):

- builds: web #1 SUCCESS (T-3d, Ada, 60 s, web:v1), web #2 SUCCESS (T-2d, Grace, 180 s, web:v2),
  web #3 FAILURE (T-1d, 30 s, no metadata), api #1 FAILURE (T-23h, Ada, 90 s, api:v1 pushed
  before a later stage failed), api #2 ABORTED (T-5h, 10 s, no metadata);
- workloads: web (2 replicas, 250m CPU and 64 MiB each) on web:v1 by digest, api (1 replica, 100m,
  32 MiB) on api:v1 by digest, tool (1 replica, kwok's default 1m / 1 MiB) on a hand-pushed image
  by tag; then web moves to v2, then back to v1 (a rollback); api's container restarts 3 times;
- Argo CD: app web with two successful syncs (60 s, 120 s) and a failed one (30 s), app api with
  one successful sync (90 s) that declared api:v0, so api's running image is drift;
- delivery (DORA): each build's commit was made an hour before the build started; web's release of
  v2 and its rollback are the only deployments (what ran at the first scan is not one): 2
  deployments of app <namespace>/web, the v2 one failed (rolled back) and recovered by the
  rollback, one commit's lead time (web #2's, release time - its commit time).
"""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import requests
import yaml

from c2c_core.timeutil import iso_utc
from c2c_dagster.kubernetes.partitions import cluster_partitions
from c2c_dagster.store import MetadataStoreResource
from c2c_dagster_tests.traceability.pipeline import Pipeline, sha
from c2c_devstack.services import REPO_ROOT, ManagedProcess, free_port, wait_until

CLUSTER = cluster_partitions.get_partition_keys()[0]
PROMETHEUS_DIR = REPO_ROOT / "k8s" / "base" / "metrics" / "prometheus"
USAGE_CPU, USAGE_MEMORY = "kwok.x-k8s.io/usage-cpu", "kwok.x-k8s.io/usage-memory"
ARGO_INSTANCE = "app.kubernetes.io/instance"
MIB = 1024 * 1024
COMMIT_BEFORE_BUILD = timedelta(hours=1)


@dataclass(frozen=True)
class Build:
    job: str
    number: int
    status: str
    ago: timedelta
    duration_s: int
    image: str | None  # the workload whose image it pushed (None: no metadata archived)
    author: tuple[str, str] | None = None

    @property
    def build_id(self) -> str:
        return f"{self.job}-{self.number}"


@dataclass
class Scenario:
    """The scenario's handles and its truth; ``start`` is T (epoch seconds)."""

    namespace: str
    index_prefix: str
    kubeconfig: str
    start: float
    jobs: dict[str, str]  # workload -> Jenkins job
    builds: list[Build]
    commits: dict[str, str]  # build id -> its commit
    digests: dict[str, str]  # "web:v1" ... -> digest
    image_ids: dict[str, str] = field(default_factory=dict)  # pod/container -> runtime imageID (from the API server)
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)  # pod name -> {workload, node, cpu, memory}
    zones: dict[str, str] = field(default_factory=dict)  # node -> topology.kubernetes.io/zone
    exporter_url: str = ""
    first_scan_day: str = ""  # the UTC day c2c first scanned the cluster (delivery's observed days start)
    committed: dict[str, str] = field(default_factory=dict)  # build id -> its commit's time
    releases: list[tuple[str, bool]] = field(default_factory=list)  # (at, rollback) as c2c recorded them

    def build(self, job_workload: str, number: int) -> Build:
        return next(b for b in self.builds if b.job == self.jobs[job_workload] and b.number == number)

    def at(self, ago: timedelta) -> str:
        return iso_utc(datetime.fromtimestamp(self.start, UTC) - ago)


def _builds(namespace: str) -> tuple[dict[str, str], list[Build]]:
    jobs = {"web": f"{namespace}/web/main", "api": f"{namespace}/api/main"}
    ada, grace = ("Ada Lovelace", "ada@example.com"), ("Grace Hopper", "grace@example.com")
    return jobs, [
        Build(jobs["web"], 1, "SUCCESS", timedelta(days=3), 60, "web:v1", ada),
        Build(jobs["web"], 2, "SUCCESS", timedelta(days=2), 180, "web:v2", grace),
        Build(jobs["web"], 3, "FAILURE", timedelta(days=1), 30, None),
        Build(jobs["api"], 1, "FAILURE", timedelta(hours=23), 90, "api:v1", ada),
        Build(jobs["api"], 2, "ABORTED", timedelta(hours=5), 10, None),
    ]


def build_scenario(k8s_cluster: Any, registry: Any, jenkins: Any, opensearch: Any, workdir: Path) -> tuple[Scenario, Pipeline, Any]:
    """Run the scenario; returns it, its pipeline (to close) and the Dagster instance's context."""
    from kubernetes import client

    from c2c_dagster.argocd.sensors import argocd_sync_sensor
    from c2c_dagster_tests.argocd.data import application, history_entry, operation_state, status, synced

    prefix = f"obs{uuid.uuid4().hex[:8]}-"
    store = MetadataStoreResource(opensearch_url=opensearch.url, index_prefix=prefix, opensearch_replicas=0)
    home = workdir / "dagster_home"
    home.mkdir(parents=True)
    instance_cm = dg.instance_for_test(temp_dir=str(home))
    instance = instance_cm.__enter__()
    pipe = Pipeline(k8s_cluster, registry, jenkins, workdir, instance, store_resource=store)
    namespace = pipe.namespace
    jobs, builds = _builds(namespace)
    scenario = Scenario(namespace=namespace, index_prefix=prefix, kubeconfig=str(k8s_cluster.kubeconfig),
                        start=time.time(), jobs=jobs, builds=builds,
                        commits={}, digests={})

    # Images, pushed for real: their digests are the registry's.
    for image in ("web:v1", "web:v2", "api:v1"):
        name, tag = image.split(":")
        scenario.digests[image] = pipe.push(name, tag, f"{image} of {namespace}", revision=sha(image + namespace))
    scenario.digests["tool:hand"] = pipe.push("tool", "hand", "pushed by hand", revision=sha("by hand" + namespace))

    previous: dict[str, str] = {}
    for build in builds:
        commit = sha(f"{build.build_id}{namespace}")
        scenario.commits[build.build_id] = commit
        scenario.committed[build.build_id] = scenario.at(build.ago + COMMIT_BEFORE_BUILD)
        name, tag = (build.image or "web:none").split(":")
        pipe.ci_build(build.number, name, tag, scenario.digests.get(build.image or ""), commit=commit,
                      status=build.status, at=scenario.at(build.ago), job=build.job,
                      author=build.author or ("", ""), duration_ms=build.duration_s * 1000,
                      previous_commit=previous.get(build.job), committed_at=scenario.committed[build.build_id])
        previous[build.job] = commit
    # The builds without metadata carry no commits: Jenkins' own change sets are empty here.
    for build in builds:
        if build.image is None:
            scenario.commits.pop(build.build_id)

    web_pods = {USAGE_CPU: "250m", USAGE_MEMORY: "64Mi"}
    pipe.deploy("web", pipe.ref("web", scenario.digests["web:v1"]), replicas=2, labels={ARGO_INSTANCE: "web"},
                annotations=web_pods)
    pipe.deploy("api", pipe.ref("api", scenario.digests["api:v1"]), replicas=1, labels={ARGO_INSTANCE: "api"},
                annotations={USAGE_CPU: "100m", USAGE_MEMORY: "32Mi"})
    pipe.deploy("tool", pipe.ref("tool", "hand"), digest=scenario.digests["tool:hand"], replicas=1)
    for name, count in (("web", 2), ("api", 1), ("tool", 1)):
        pipe.wait_running(name, count)

    # Argo CD: the Applications as a user creates them, and the status its controller would write.
    custom = client.CustomObjectsApi(pipe.api)

    def app(name: str, app_status: dict[str, Any]) -> None:
        body = application(name, namespace, dest_namespace=namespace)
        created = custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", namespace, "applications", body)
        created["status"] = app_status
        custom.replace_namespaced_custom_object("argoproj.io", "v1alpha1", namespace, "applications", name, created)

    def t(ago: timedelta, plus: int = 0) -> str:
        return scenario.at(ago - timedelta(seconds=plus))

    # The failed sync's Deployment was refused (SyncFailed) with the image web runs; api's sync
    # applied api:v0, which is not what runs there: drift.
    web_deploys = [synced("Deployment", "web", namespace, status="SyncFailed",
                          images=[pipe.ref("web", scenario.digests["web:v1"])])]
    app("web", status(
        history=[history_entry(1, sha("config 1"), started=t(timedelta(days=2)), deployed=t(timedelta(days=2), 60)),
                 history_entry(2, sha("config 2"), started=t(timedelta(days=1)), deployed=t(timedelta(days=1), 120))],
        operation=operation_state("Failed", sha("config 3"), started=t(timedelta(hours=2)),
                                  finished=t(timedelta(hours=2), 30), resources=web_deploys,
                                  message="one or more objects failed to apply (admission webhook denied)"),
        sync_status="OutOfSync", health="Degraded", images=[pipe.ref("web", scenario.digests["web:v1"])]))
    api_started = t(timedelta(hours=3))
    app("api", status(
        history=[history_entry(1, sha("config api"), started=api_started, deployed=t(timedelta(hours=3), 90))],
        operation=operation_state("Succeeded", sha("config api"), started=api_started, finished=t(timedelta(hours=3), 90),
                                  resources=[synced("Deployment", "api", namespace, images=[pipe.ref("api", "v0")])]),
        images=[pipe.ref("api", "v0")]))
    resources = pipe.resources()
    argocd_sync_sensor(dg.build_sensor_context(instance=instance, resources={
        "kubernetes": resources["kubernetes"], "store": resources["store"]}))
    events = pipe.store.find("argocd-sync-events", "argocd_cluster", CLUSTER, limit=1000)
    mine = [e for e in events if e.get("app_namespace") == namespace]
    assert len(mine) == 4 == len(events), (
        f"expected the scenario's 4 Argo CD sync events, the store has: {[e['event_id'] for e in events]} "
        "(another test's Applications with a status left in the shared cluster?)")

    pipe.run(only_this_namespace=True)  # builds ingested; web v1, api v1, tool running
    scenario.first_scan_day = datetime.now(UTC).date().isoformat()
    pipe.deploy("web", pipe.ref("web", scenario.digests["web:v2"]), replicas=2, labels={ARGO_INSTANCE: "web"},
                annotations=web_pods)
    _wait_rollout(pipe, "web", scenario.digests["web:v2"])
    pipe.run(only_this_namespace=True)  # release web v1 -> v2
    _restart_three_times(pipe, "api")
    pipe.deploy("web", pipe.ref("web", scenario.digests["web:v1"]), replicas=2, labels={ARGO_INSTANCE: "web"},
                annotations=web_pods)
    _wait_rollout(pipe, "web", scenario.digests["web:v1"])
    pipe.run(only_this_namespace=True)  # rollback web v2 -> v1
    scenario.releases = [(e["at"], bool(e["rollback"])) for e in pipe.release_events()]
    _deliver(pipe, instance, scenario.first_scan_day)

    for pod in pipe.core.list_namespaced_pod(namespace).items:
        annotations = pod.metadata.annotations or {}
        scenario.pods[pod.metadata.name] = {
            "workload": pod.metadata.labels["app"], "node": pod.spec.node_name,
            "cpu": float(annotations.get(USAGE_CPU, "1m").rstrip("m")) / 1000,
            "memory": int(annotations.get(USAGE_MEMORY, "1Mi").rstrip("Mi")) * MIB,
        }
        for status_ in pod.status.container_statuses or []:
            scenario.image_ids[f"{pod.metadata.name}/{status_.name}"] = status_.image_id
    for node in pipe.core.list_node().items:
        scenario.zones[node.metadata.name] = node.metadata.labels.get("topology.kubernetes.io/zone", "")
    return scenario, pipe, instance_cm


def _deliver(pipe: Pipeline, instance: dg.DagsterInstance, first: str) -> None:
    """delivery_metrics, as automation would run it once traceability_records landed: the days from
    the first scan to today in one run (one day unless the scenario ran over midnight, UTC)."""
    from c2c_dagster.delivery.assets import delivery_metrics
    from c2c_dagster.delivery.resources import DeliveryPolicyResource

    today = datetime.now(UTC).date().isoformat()
    result = dg.materialize([delivery_metrics], instance=instance, resources={
        "store": pipe.store_resource, "delivery_policy": DeliveryPolicyResource()},
        tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": today})
    assert result.success


def _wait_rollout(pipe: Pipeline, name: str, digest: str) -> None:
    """All of the Deployment's pods run the new digest and the old ones are gone."""
    def done() -> bool:
        pods = [p for p in pipe.core.list_namespaced_pod(pipe.namespace, label_selector=f"app={name}").items
                if p.metadata.deletion_timestamp is None]
        deployment = pipe.apps.read_namespaced_deployment(name, pipe.namespace)
        return (len(pods) == deployment.spec.replicas
                and all(p.status.phase == "Running" and digest in p.spec.containers[0].image for p in pods)
                and deployment.status.updated_replicas == deployment.status.available_replicas == deployment.spec.replicas
                and deployment.status.observed_generation == deployment.metadata.generation
                and not deployment.status.unavailable_replicas)

    wait_until(done, what=f"rollout of {pipe.namespace}/{name} to {digest[:19]}", timeout=120)


def _restart_three_times(pipe: Pipeline, name: str) -> None:
    """What a kubelet reports after a container was OOM-killed three times (kwok does not crash
    containers): restartCount 3 and the last termination."""
    [pod] = pipe.core.list_namespaced_pod(pipe.namespace, label_selector=f"app={name}").items
    pipe.core.patch_namespaced_pod_status(pod.metadata.name, pipe.namespace, [
        {"op": "replace", "path": "/status/containerStatuses/0/restartCount", "value": 3},
        {"op": "add", "path": "/status/containerStatuses/0/lastState", "value": {"terminated": {
            "exitCode": 137, "reason": "OOMKilled", "startedAt": iso_utc(datetime.now(UTC) - timedelta(minutes=5)),
            "finishedAt": iso_utc(datetime.now(UTC) - timedelta(minutes=1))}}},
    ])


def start_exporter(scenario: Scenario, opensearch: Any, dagster_home: Path, workdir: Path) -> ManagedProcess:
    """`c2c metrics serve` as its own process, reading the scenario's indices and Dagster instance."""
    port = free_port()
    env = {"C2C_OPENSEARCH_URL": opensearch.url, "C2C_INDEX_PREFIX": scenario.index_prefix,
           "C2C_METRICS_REFRESH_SECONDS": "1", "DAGSTER_HOME": str(dagster_home)}
    for name in ("C2C_STORE_PATH", "C2C_OPENSEARCH_USER", "C2C_OPENSEARCH_PASSWORD"):
        env[name] = ""
    process = ManagedProcess.spawn("c2c-metrics", [str(Path(sys.executable).parent / "c2c"), "metrics", "serve",
                                                    "--address", "127.0.0.1", "--port", str(port)],
                                   log_path=workdir / "c2c-metrics.log", env=env)
    scenario.exporter_url = f"http://127.0.0.1:{port}"
    wait_until(lambda: requests.get(f"{scenario.exporter_url}/healthz", timeout=2).ok, what="c2c metrics serve",
               timeout=60, process=process)
    return process


def scrape_configs(scenario: Scenario, kwok_url: str) -> list[dict[str, Any]]:
    """The shipped c2c job pointed at the exporter, and kwok's kubelet emulation found through its
    HTTP service discovery, labelled with node and cluster as README's kubelet job does."""
    shipped = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    [c2c_job] = [job for job in shipped["scrape_configs"] if job["job_name"] == "c2c"]
    c2c_job = {**c2c_job, "scrape_interval": "1s", "scrape_timeout": "1s",
               "static_configs": [{"targets": [scenario.exporter_url.removeprefix("http://")]}]}
    kubelet_job = {
        "job_name": "kubelet-resource",
        "http_sd_configs": [{"url": f"{kwok_url}/discovery/prometheus", "refresh_interval": "5s"}],
        "relabel_configs": [
            {"source_labels": ["__metrics_path__"], "regex": "/metrics/nodes/([^/]+)/metrics/resource",
             "target_label": "node"},
            {"target_label": "cluster", "replacement": CLUSTER},
        ],
    }
    return [c2c_job, kubelet_job]
