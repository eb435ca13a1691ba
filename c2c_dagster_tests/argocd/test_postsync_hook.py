"""The PostSync hook in k8s/argocd: the real API server accepts it (server-side dry-run), and its
exact script and GraphQL request launch a post-sync run on a real dagster-webserver, which the
sensor then finds instead of requesting a duplicate."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml

from c2c_core.timeutil import iso_utc, utc_now
from c2c_dagster.store import ARGOCD_SYNC_EVENTS
from c2c_dagster_tests.argocd.conftest import CLUSTER, ArgoEnv
from c2c_dagster_tests.argocd.data import application, history_entry, operation_state, status, synced
from c2c_dagster_tests.argocd.test_sensor import tick, write_status
from c2c_devstack.services import REPO_ROOT, ManagedProcess, free_port, wait_until
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


@pytest.mark.kubernetes
def test_the_hook_launches_the_post_sync_run_and_the_sensor_does_not_duplicate_it(
    argo: ArgoEnv, hook_webserver: DagsterWebserver, tmp_path: Path
) -> None:
    with dg.DagsterInstance.from_config(str(hook_webserver.dagster_home)) as instance:
        baseline, _ = tick(argo, None, instance=instance)
        app = f"{argo.app_namespace}/guestbook"
        started = iso_utc(utc_now() - timedelta(seconds=2))

        # During the sync: Argo CD runs the PostSync Job, which asks Dagster for the run.
        done = run_hook_script(tmp_path, f"{hook_webserver.url}/graphql", app=app, namespace=argo.dest_namespace)
        assert done.returncode == 0 and "LaunchRunSuccess" in done.stdout, done.stdout + done.stderr
        (run,) = instance.get_runs(filters=dg.RunsFilter(tags={"c2c/argocd-app": app}))
        assert run.tags["dagster/partition"] == run.tags["c2c/cluster"] == CLUSTER
        assert run.tags["c2c/trigger"] == "argocd-postsync-hook"
        assert run.asset_selection == {dg.AssetKey("deployment_snapshots")}
        assert run.run_config["ops"]["deployment_snapshots"]["config"] == {
            "mode": "post-sync", "namespaces": [argo.dest_namespace], "workloads": [],
            "argocd_app": app, "sync_event_id": ""}
        # Accepted: the webserver checked the document, the job and asset selection, and the run
        # config against the real asset's SnapshotConfig (else RunConfigValidationInvalid). It does not
        # check the partition key at launch: a wrong C2C_CLUSTER would fail the run, not the hook.
        # Dagster's default coordinator queues the run for the daemon, not started here.
        assert run.status == dg.DagsterRunStatus.QUEUED

        # Then the sync finishes; the sensor records it and finds the hook's run.
        from kubernetes import client

        uid = client.CustomObjectsApi(argo.api).create_namespaced_custom_object(
            "argoproj.io", "v1alpha1", argo.app_namespace, "applications",
            application("guestbook", argo.app_namespace, dest_namespace=argo.dest_namespace))["metadata"]["uid"]
        finished = iso_utc(utc_now())
        write_status(argo, "guestbook", status(
            history=[history_entry(0, "d" * 40, started=started, deployed=finished)],
            operation=operation_state("Succeeded", "d" * 40, started=started, finished=finished,
                                      resources=[synced("Deployment", "guestbook-ui", argo.dest_namespace)])))
        result, _ = tick(argo, baseline.cursor, instance=instance)
        assert [r for r in result.run_requests if r.tags["c2c/argocd-app"] == app] == []
        store = argo.store.get_store()
        event = store.get(ARGOCD_SYNC_EVENTS.name, f"{CLUSTER}/{app}/{uid}/0")
        store.close()
        assert event["snapshot_run_id"] == run.run_id and "snapshot_run_key" not in event
