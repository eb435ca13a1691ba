"""A traceability_records run launched as a Kubernetes Job, end to end on real services: the
production overlay applied to the real API server with its Secrets; the code-location server
started from its Deployment's spec in c2c's image (Buildah, the real registry); a real
dagster-webserver on the shipped dagster.yaml, with real PostgreSQL storage and the
K8sRunLauncher pointed at the API server, launches the run; the Job appears with the image,
service account, labels and env from Secrets; then the Job's container runs exactly as its spec
says (what a kubelet would run; kwok runs no containers) and the run succeeds in PostgreSQL and
materializes into the real OpenSearch node."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from c2c_dagster.cluster.resources import KubeClusterConfig, KubernetesResource
from c2c_dagster.kubernetes.assets import deployment_snapshots
from c2c_dagster.kubernetes.partitions import cluster_partitions
from c2c_dagster.store import TRACEABILITY_METADATA, MetadataStoreResource, OpenSearchStore
from c2c_dagster_tests.deploy.manifests import server_side_apply
from c2c_dagster_tests.kubernetes.conftest import deployment, service_account_kubeconfig, wait_pods
from c2c_devstack.services import free_port, wait_until
from c2c_devstack.services.dagster import start_webserver, venv_bin
from c2c_devstack.services.image import image_config
from c2c_devstack.services.kustomize import build_overlay
from c2c_devstack.services.pod_runner import resolve, run

pytestmark = [pytest.mark.kubernetes, pytest.mark.registry, pytest.mark.opensearch, pytest.mark.postgresql]

NAMESPACE = "c2c"  # where the overlay puts everything, Jobs included
# The code location in the image and the one in this process must agree on the partitions.
CLUSTER = cluster_partitions.get_partition_keys()[0]
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message stack }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on Error { message }
  }
}"""
RUN = """
query Run($runId: ID!) {
  runOrError(runId: $runId) { ... on Run { status tags { key value } } }
  assetOrError(assetKey: {path: ["traceability_records"]}) {
    ... on Asset { assetMaterializations(partitions: ["%s"]) { runId partition } }
  }
}""" % CLUSTER


def _put_secret(core: Any, name: str, data: dict[str, str]) -> None:
    body = {"metadata": {"name": name, "namespace": NAMESPACE}, "stringData": data}
    try:
        core.create_namespaced_secret(NAMESPACE, body)
    except Exception:  # noqa: BLE001 - exists from an earlier test of the session: replace it
        core.replace_namespaced_secret(name, NAMESPACE, body)


def _json(response: Any) -> dict:
    return json.loads(response.data)


def test_a_k8s_launched_run_executes_its_jobs_command_on_postgresql(
    k8s_cluster, oci_registry, code_location_image, postgresql, opensearch_service, tmp_path: Path
) -> None:
    from kubernetes import client

    suffix = uuid.uuid4().hex[:8]
    database = postgresql.create_database(f"dagster_{suffix}")
    prefix = f"k{suffix}-"
    objects = build_overlay("production", image=code_location_image.reference, config={
        "DAGSTER_PG_HOST": postgresql.host, "DAGSTER_PG_PORT": str(postgresql.port), "DAGSTER_PG_DB": database,
        "C2C_INDEX_PREFIX": prefix, "C2C_OPENSEARCH_REPLICAS": "0",
    })
    config = image_config(oci_registry, code_location_image)["config"]
    store = OpenSearchStore(opensearch_service.url, index_prefix=prefix, number_of_replicas=0)
    processes: list[Any] = []
    with k8s_cluster.api_client() as api:
        core, batch, apps = client.CoreV1Api(api), client.BatchV1Api(api), client.AppsV1Api(api)
        app_namespace = f"shop-{suffix}"
        core.create_namespace({"metadata": {"name": app_namespace}})
        try:
            # What a cluster admin does: apply the overlay, create the Secrets it names.
            server_side_apply(api, objects)
            kubeconfig = service_account_kubeconfig(api, k8s_cluster, NAMESPACE, "c2c-collector",
                                                    tmp_path / "collector.kubeconfig")
            _put_secret(core, "c2c-postgresql", {"postgresql-password": postgresql.password})
            _put_secret(core, "c2c-opensearch", {"C2C_OPENSEARCH_URL": opensearch_service.url,
                                                 "C2C_OPENSEARCH_USER": "c2c", "C2C_OPENSEARCH_PASSWORD": "s3cret-os"})
            _put_secret(core, "c2c-jenkins", {})
            _put_secret(core, "c2c-registry", {"C2C_REGISTRY_USER": "c2c", "C2C_REGISTRY_PASSWORD": "s3cret-reg",
                                               "C2C_INSECURE_REGISTRIES": oci_registry.host})
            # The other clusters' kubeconfigs: here this one, as the collector's least-privilege identity.
            _put_secret(core, "c2c-clusters", {
                "clusters.yaml": yaml.safe_dump([{"name": CLUSTER, "kubeconfig": "/etc/c2c/clusters/test.kubeconfig"}]),
                "test.kubeconfig": kubeconfig.read_text()})

            # Something to trace: a workload on the image c2c itself runs, and its snapshot in the store.
            apps.create_namespaced_deployment(app_namespace, deployment("web", code_location_image.reference))
            wait_pods(api, app_namespace, "web", 2)
            snapshot = dg.materialize(
                [deployment_snapshots], partition_key=CLUSTER,
                resources={"kubernetes": KubernetesResource(clusters=[KubeClusterConfig(name=CLUSTER, kubeconfig=str(kubeconfig))]),
                           "store": MetadataStoreResource(opensearch_url=opensearch_service.url, index_prefix=prefix,
                                                          opensearch_replicas=0)})
            assert snapshot.success

            # The code-location server, from its Deployment as the API server stored it.
            spec = _json(apps.read_namespaced_deployment("c2c-code-location", NAMESPACE, _preload_content=False))
            code_server = resolve(api, NAMESPACE, spec["spec"]["template"]["spec"], config)
            assert code_server.env["DAGSTER_CURRENT_IMAGE"] == code_location_image.reference
            grpc_port = free_port()
            processes.append(run(oci_registry, code_location_image.reference, code_server,
                                 replace_args={"4000": str(grpc_port), "0.0.0.0": "127.0.0.1"},
                                 log_path=tmp_path / "code-server.log", workdir=tmp_path / "code-server"))
            wait_until(lambda: subprocess.run([venv_bin("dagster"), "api", "grpc-health-check", "-p", str(grpc_port)],
                                              capture_output=True, timeout=30).returncode == 0,
                       what="the code server in c2c's image", timeout=240, interval=2, process=processes[-1].process)

            # The webserver on the shipped dagster.yaml and the webserver Deployment's environment.
            # Changed for the test only: the API server is reached by kubeconfig (not in-cluster),
            # and runs launch at once (no daemon draining the queue here).
            instance = yaml.safe_load(next(o for o in objects if o["metadata"]["name"] == "c2c-dagster-instance")
                                      ["data"]["dagster.yaml"])
            instance["run_launcher"]["config"] |= {"load_incluster_config": False,
                                                   "kubeconfig_file": str(k8s_cluster.kubeconfig)}
            instance["run_coordinator"] = {"module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator"}
            home = tmp_path / "dagster_home"
            home.mkdir()
            (home / "dagster.yaml").write_text(yaml.safe_dump(instance))
            workspace = tmp_path / "workspace.yaml"
            workspace.write_text(yaml.safe_dump({"load_from": [{"grpc_server": {
                "host": "127.0.0.1", "port": grpc_port, "location_name": "c2c"}}]}))
            web_spec = _json(apps.read_namespaced_deployment("c2c-dagster-webserver", NAMESPACE, _preload_content=False))
            web_env = resolve(api, NAMESPACE, web_spec["spec"]["template"]["spec"], config).env
            webserver = start_webserver(tmp_path / "webserver", home, env=web_env, workspace=workspace)
            processes.append(webserver)

            launched = webserver.graphql(LAUNCH, {"params": {
                "selector": {"repositoryLocationName": "c2c", "repositoryName": "__repository__",
                             "jobName": "__ASSET_JOB", "assetSelection": [{"path": ["traceability_records"]}]},
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": CLUSTER}]},
            }})["launchRun"]
            assert launched["__typename"] == "LaunchRunSuccess", launched
            run_id = launched["run"]["runId"]

            # The Job the K8sRunLauncher created.
            job = _json(batch.read_namespaced_job(f"dagster-run-{run_id}", NAMESPACE, _preload_content=False))
            pod = job["spec"]["template"]["spec"]
            (container,) = pod["containers"]
            assert container["image"] == code_location_image.reference
            assert pod["serviceAccountName"] == "c2c-collector"
            assert job["metadata"]["labels"]["dagster/run-id"] == run_id
            assert job["metadata"]["labels"]["app.kubernetes.io/part-of"] == "c2c"
            assert {s["secretRef"]["name"] for s in container["envFrom"] if "secretRef" in s} == {
                "c2c-opensearch", "c2c-jenkins", "c2c-registry"}
            assert {"configMapRef": {"name": "c2c-config"}} in container["envFrom"]
            assert {"name": "DAGSTER_PG_PASSWORD", "valueFrom": {"secretKeyRef": {
                "name": "c2c-postgresql", "key": "postgresql-password"}}} in container["env"]
            assert {"name": "clusters", "secret": {"secretName": "c2c-clusters", "optional": True,
                                                   "defaultMode": 420}} in pod["volumes"]
            written = json.dumps(job)
            assert all(secret not in written for secret in (postgresql.password, "s3cret-os", "s3cret-reg"))
            assert container["args"][:3] == ["dagster", "api", "execute_run"]

            # What the kubelet would run: the Job's container, its env from the Secrets and
            # ConfigMap, its volumes, as its user, against the same PostgreSQL and OpenSearch.
            worker = resolve(api, NAMESPACE, pod, config)
            assert worker.env["DAGSTER_PG_PASSWORD"] == postgresql.password and worker.user == "10001:10001"
            execution = run(oci_registry, code_location_image.reference, worker,
                            log_path=tmp_path / "run-worker.log", workdir=tmp_path / "run-worker")
            processes.append(execution)
            returncode = execution.process.popen.wait(timeout=420)
            assert returncode == 0, execution.process.log_tail(80)

            answer = webserver.graphql(RUN, {"runId": run_id})
            assert answer["runOrError"]["status"] == "SUCCESS"
            assert {"runId": run_id, "partition": CLUSTER} in answer["assetOrError"]["assetMaterializations"]
            records = [r for r in store.find(TRACEABILITY_METADATA.name, "namespace", app_namespace)
                       if r["cluster"] == CLUSTER]
            assert {(r["workload_name"], r["image_digest"]) for r in records} == {
                ("web", code_location_image.digest)}
        finally:
            for process in reversed(processes):
                process.stop()
            store.close()
            for name in ("c2c-code-location", "c2c-dagster-webserver", "c2c-dagster-daemon", "c2c-metrics"):
                try:
                    apps.delete_namespaced_deployment(name, NAMESPACE)
                except client.exceptions.ApiException:
                    pass
            batch.delete_collection_namespaced_job(NAMESPACE, label_selector="app.kubernetes.io/part-of=c2c",
                                                   propagation_policy="Background")
            core.delete_namespace(app_namespace)
