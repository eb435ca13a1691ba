"""The PostSync hook in k8s/argocd: the real API server accepts it (server-side dry-run); the real
Argo CD runs its Job at PostSync, once the app is healthy, and deletes it; the Job's command, run
as its spec writes it, launches a post-sync run on a real dagster-webserver, which the sensor
then finds instead of requesting a duplicate; that run's snapshot links the workload to the app."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from c2c_dagster.kubernetes.assets import deployment_snapshots
from c2c_dagster.store import DEPLOYMENT_METADATA
from c2c_dagster_tests.argocd.conftest import CLUSTER, ArgoEnv, GitOps, mine, tick
from c2c_devstack.services import REPO_ROOT, ManagedProcess, free_port, wait_until
from c2c_devstack.services.argocd import deployment_manifest, manifests_yaml
from c2c_devstack.services.dagster import DagsterWebserver, make_dagster_home, venv_bin

HOOK = REPO_ROOT / "k8s" / "argocd" / "postsync-hook.yaml"


def manifests() -> dict[str, dict]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(HOOK.read_text())}


def test_the_job_is_an_argocd_postsync_hook_that_cannot_fail_a_sync() -> None:
    job = manifests()["Job"]
    assert job["metadata"]["annotations"] == {
        "argocd.argoproj.io/hook": "PostSync",
        "argocd.argoproj.io/hook-delete-policy": "HookSucceeded",
    }
    pod = job["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["containers"][0]["image"].startswith("curlimages/curl:")
    script = manifests()["ConfigMap"]["data"]["launch.sh"]
    assert script.rstrip().endswith("exit 0")
    # launch.sh sends the document as one JSON string line: it must need no escaping.
    document = manifests()["ConfigMap"]["data"]["launch-run.graphql"]
    assert not {'"', "\\", "#"} & set(document)


@pytest.mark.kubernetes
def test_the_manifests_pass_a_server_side_dry_run_on_the_real_api_server(argo: ArgoEnv) -> None:
    from kubernetes import client, utils

    # Strict field validation: a misspelt field is an error, not a warning the dry-run swallows.
    created = utils.create_from_yaml(argo.api, str(HOOK), namespace=argo.dest_namespace,
                                     dry_run="All", field_validation="Strict")
    kinds = sorted(type(obj).__name__ for group in created for obj in group)
    assert kinds == ["V1ConfigMap", "V1Job"]
    # Dry run: nothing was stored.
    assert client.CoreV1Api(argo.api).list_namespaced_config_map(
        argo.dest_namespace, label_selector="app.kubernetes.io/part-of=c2c").items == []


@pytest.fixture(scope="module")
def hook_webserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterWebserver]:
    """A real dagster-webserver on its own instance, serving ``deployment_snapshots`` as ``c2c``."""
    workdir = tmp_path_factory.mktemp("hook-webserver")
    home = make_dagster_home(workdir / "dagster_home")
    workspace = workdir / "workspace.yaml"
    workspace.write_text(yaml.safe_dump({"load_from": [{"python_module": {
        "module_name": "c2c_dagster_tests.argocd.postsync_location",
        "location_name": "c2c",
        "working_directory": str(REPO_ROOT),
    }}]}))
    port = free_port()
    process = ManagedProcess.spawn(
        "dagster-webserver",
        [venv_bin("dagster-webserver"), "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)],
        log_path=workdir / "webserver.log", cwd=REPO_ROOT,
        # One cluster named CLUSTER whatever the caller's environment configures; embedded store.
        env={"DAGSTER_HOME": str(home), "C2C_CLUSTER_NAME": CLUSTER, "C2C_K8S_CLUSTERS_FILE": "",
             "C2C_OPENSEARCH_URL": "", "C2C_STORE_PATH": str(workdir / "store.sqlite")},
    )
    server = DagsterWebserver(url=f"http://127.0.0.1:{port}", dagster_home=home, process=process)
    try:
        import requests

        wait_until(lambda: requests.get(f"{server.url}/server_info", timeout=2).ok,
                   what="dagster-webserver (hook test)", timeout=180, process=process)
        yield server
    finally:
        process.stop()


def run_hook_script(tmp_path: Path, graphql_url: str, *, app: str, namespace: str) -> subprocess.CompletedProcess:
    """launch.sh exactly as the Job runs it: files and env from the ConfigMap, our webserver's URL."""
    data = manifests()["ConfigMap"]["data"]
    hook_dir = tmp_path / "c2c"
    hook_dir.mkdir()
    for key in ("launch.sh", "launch-run.graphql"):
        (hook_dir / key).write_text(data[key])
    env = {k: v for k, v in data.items() if k.isupper()}
    env |= {"DAGSTER_GRAPHQL_URL": graphql_url, "ARGOCD_APP": app, "C2C_CLUSTER": CLUSTER,
            "POD_NAMESPACE": namespace, "C2C_HOOK_DIR": str(hook_dir), "PATH": os.environ["PATH"]}
    return subprocess.run(["/bin/sh", str(hook_dir / "launch.sh")], env=env, capture_output=True,
                          text=True, timeout=120)


def test_a_dagster_outage_does_not_fail_the_hook(tmp_path: Path) -> None:
    done = run_hook_script(tmp_path, f"http://127.0.0.1:{free_port()}/graphql", app="argocd/x", namespace="x")
    assert done.returncode == 0
    assert "WARNING: post-sync snapshot not requested" in done.stderr


class JobWatch:
    """Every Job created in a namespace, as the API server returned it, caught by a watch: Argo CD
    deletes a hook Job as soon as it succeeded (hook-delete-policy HookSucceeded)."""

    def __init__(self, api: Any, namespace: str):
        from kubernetes import client, watch

        self.jobs: list[dict[str, Any]] = []
        self._watch = watch.Watch()
        batch = client.BatchV1Api(api)
        version = batch.list_namespaced_job(namespace).metadata.resource_version

        self._stopped = False

        def run() -> None:
            try:
                for event in self._watch.stream(batch.list_namespaced_job, namespace, resource_version=version,
                                                timeout_seconds=300):
                    if event["type"] == "ADDED":
                        self.jobs.append(api.sanitize_for_serialization(event["object"]))
            except Exception:
                if not self._stopped:  # once stopped, the closed client ends the stream
                    raise

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped = True
        self._watch.stop()


def run_as_the_job_spec_says(job: dict[str, Any], api: Any, workdir: Path) -> subprocess.CompletedProcess:
    """The Job's container command, run here (kwok runs no containers) exactly as its spec writes
    it: env from the live ConfigMap and the pod's namespace, the ConfigMap volume's items as
    files. The volume's mountPath becomes a local directory, named to launch.sh by C2C_HOOK_DIR,
    the one variable it reads for this."""
    from kubernetes import client

    namespace = job["metadata"]["namespace"]
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    config_maps: dict[str, dict[str, str]] = {}

    def config_map(name: str) -> dict[str, str]:
        if name not in config_maps:
            config_maps[name] = client.CoreV1Api(api).read_namespaced_config_map(name, namespace).data
        return config_maps[name]

    env = {"PATH": os.environ["PATH"]}
    for var in container["env"]:
        source = var.get("valueFrom") or {}
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            env[var["name"]] = config_map(ref["name"])[ref["key"]]
        elif source.get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
            env[var["name"]] = namespace
        else:
            env[var["name"]] = var["value"]
    (mount,) = container["volumeMounts"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    mounted = workdir / "mount"
    mounted.mkdir()
    for item in volume["configMap"]["items"]:
        (mounted / item["path"]).write_text(config_map(volume["configMap"]["name"])[item["key"]])
    env["C2C_HOOK_DIR"] = str(mounted)
    command = [arg.replace(mount["mountPath"], str(mounted)) for arg in container["command"] + container.get("args", [])]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.kubernetes
@pytest.mark.argocd
def test_argo_cd_runs_the_hook_at_post_sync_and_its_run_is_the_post_sync_snapshot(
    gitops: GitOps, hook_webserver: DagsterWebserver, tmp_path: Path
) -> None:
    app = f"{gitops.app_namespace}/web"
    # The hook added to the app's manifests, its ConfigMap filled in as k8s/argocd/README.md says.
    hook = [dict(doc) for doc in yaml.safe_load_all(HOOK.read_text())]
    hook[0]["data"].update(ARGOCD_APP=app, C2C_CLUSTER=CLUSTER, DAGSTER_GRAPHQL_URL=f"{hook_webserver.url}/graphql")
    head = gitops.repo.commit({
        "web/deployment.yaml": manifests_yaml(deployment_manifest("web", "registry.local/shop/web:7")),
        "web/postsync-hook.yaml": manifests_yaml(*hook),
    }, "web 7, with c2c's PostSync hook")

    with dg.DagsterInstance.from_config(str(hook_webserver.dagster_home)) as instance, \
            gitops.argocd.cluster.api_client() as api:
        baseline, _ = tick(gitops, None, instance=instance)
        jobs = JobWatch(api, gitops.dest_namespace)
        try:
            gitops.create_app("web")
            synced = gitops.argocd.wait_for_operation(gitops.app_namespace, "web", revision=head)
        finally:
            jobs.stop()

        # Argo CD created the Job after the Deployment was healthy, waited for it to complete
        # (kwok completes Job pods), then deleted it; the sync succeeded with the hook in it.
        operation = synced["status"]["operationState"]
        assert operation["phase"] == "Succeeded"
        results = {(r["kind"], r.get("hookType")): r for r in operation["syncResult"]["resources"]}
        job_result = results[("Job", "PostSync")]
        assert (job_result["hookPhase"], job_result["syncPhase"]) == ("Succeeded", "PostSync")
        assert job_result["name"].startswith("c2c-postsync-snapshot-")
        assert results[("Deployment", None)]["syncPhase"] == "Sync"
        (job,) = [j for j in jobs.jobs if j["metadata"]["name"] == job_result["name"]]
        assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PostSync"
        from kubernetes import client

        wait_until(lambda: not client.BatchV1Api(api).list_namespaced_job(gitops.dest_namespace).items,
                   what="hook Job deleted (HookSucceeded)", timeout=30)

        # What the Job's container would have done: ask Dagster for the post-sync run.
        done = run_as_the_job_spec_says(job, api, tmp_path)
        assert done.returncode == 0 and "LaunchRunSuccess" in done.stdout, done.stdout + done.stderr
        (run,) = instance.get_runs(filters=dg.RunsFilter(tags={"c2c/argocd-app": app}))
        assert run.tags["dagster/partition"] == run.tags["c2c/cluster"] == CLUSTER
        assert run.tags["c2c/trigger"] == "argocd-postsync-hook"
        assert run.asset_selection == {dg.AssetKey("deployment_snapshots")}
        config = run.run_config["ops"]["deployment_snapshots"]["config"]
        assert config == {"mode": "post-sync", "namespaces": [gitops.dest_namespace], "workloads": [],
                          "argocd_app": app, "sync_event_id": ""}
        # Accepted: the webserver checked the document, the job and asset selection, and the run
        # config against the real asset's SnapshotConfig (else RunConfigValidationInvalid).
        # Dagster's default coordinator queues the run for the daemon, which does not run here.
        assert run.status == dg.DagsterRunStatus.QUEUED

        # The sensor records the sync, finds the hook's run and asks for no second snapshot.
        result, _ = tick(gitops, baseline.cursor, instance=instance)
        assert mine(result, gitops) == []
        event = gitops.events("web")[gitops.event_id(synced, 0)]
        assert event["snapshot_run_id"] == run.run_id and "snapshot_run_key" not in event
        # The hook is listed as such and left out of the snapshot's scope.
        assert {(r["kind"], r.get("hook_type")) for r in event["resources"]} == {
            ("Deployment", None), ("ConfigMap", None), ("Job", "PostSync")}

    # The post-sync snapshot that follows: the queued run's asset with its config and partition,
    # executed here in process (no daemon). It finds the synced Deployment by Argo CD's own
    # tracking annotation and links it to the app.
    snapshot = dg.materialize(
        [deployment_snapshots], partition_key=run.tags["dagster/partition"], run_config=run.run_config,
        resources={"kubernetes": gitops.kubernetes, "store": gitops.store})
    assert snapshot.success
    store = gitops.store.get_store()
    try:
        docs = store.find(DEPLOYMENT_METADATA.name, "current_ns", f"{CLUSTER}/{gitops.dest_namespace}", limit=100)
    finally:
        store.close()
    (workload,) = [d for d in docs if d["doc_type"] == "workload"]
    assert (workload["workload"], workload["argocd_app"], workload["mode"]) == (
        f"Deployment/{gitops.dest_namespace}/web", app, "post-sync")
    assert workload["containers"][0]["image"] == "registry.local/shop/web:7"
    assert {d["argocd_app"] for d in docs if d["doc_type"] == "pod"} == {app}
