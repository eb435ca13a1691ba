"""k8s/ rendered by the real kustomize: the dev and production overlays run the whole of c2c with
requests, limits, probes, non-root pods, disruption budgets and network policies, Secrets only by
reference; every object is server-side applied to the real API server and accepted, the
Deployments' pods pass admission, and the identities keep to least privilege (SubjectAccessReview)."""

from __future__ import annotations

import pytest
import yaml

from c2c_dagster_tests.deploy.manifests import allowed, server_side_apply
from c2c_devstack.services import wait_until
from c2c_devstack.services.kustomize import build_overlay

OVERLAYS = ("dev", "production")
SECRETS = {"c2c-postgresql", "c2c-opensearch", "c2c-jenkins", "c2c-registry", "c2c-clusters"}
COLLECTOR = "system:serviceaccount:c2c:c2c-collector"
DAGSTER = "system:serviceaccount:c2c:c2c-dagster"
IMAGE = "registry.example.com/platform/c2c@sha256:" + "0" * 64


def by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def referenced_secrets(objects: list[dict]) -> set[str]:
    names: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("secretKeyRef", "secretRef") and isinstance(value, dict):
                    names.add(value["name"])
                elif key == "secret" and isinstance(value, dict) and "secretName" in value:
                    names.add(value["secretName"])
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(objects)
    return names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_overlay_runs_all_of_c2c_with_limits_probes_and_secrets_by_reference(overlay: str) -> None:
    objects = build_overlay(overlay, image=IMAGE)
    deployments = by_kind(objects, "Deployment")
    # and the metrics exporter (k8s/base/metrics, tested with the observability tests)
    assert {"c2c-dagster-webserver", "c2c-dagster-daemon", "c2c-code-location", "c2c-metrics"} <= set(deployments)
    assert by_kind(objects, "Secret") == {}  # referenced, never part of the manifests
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] not in cluster_scoped} == {"c2c"}
    instance = yaml.safe_load(by_kind(objects, "ConfigMap")["c2c-dagster-instance"]["data"]["dagster.yaml"])
    assert instance["run_launcher"]["class"] == "K8sRunLauncher"
    assert set(instance["storage"]) == {"postgres"}
    # Every Secret the manifests and the runs' Jobs refer to, and nothing inlined.
    launcher = instance["run_launcher"]["config"]
    run_secrets = {launcher["postgres_password_secret"], *launcher["env_secrets"],
                   *(v["secret"]["secretName"] for v in launcher["volumes"] if "secret" in v)}
    # Production gives the exporter the reader's OpenSearch credentials (role c2c_reader), apart.
    reader = {"c2c-opensearch-reader"} if overlay == "production" else set()
    assert referenced_secrets(objects) | run_secrets == SECRETS | reader
    if overlay == "production":
        exporter = deployments["c2c-metrics"]["spec"]["template"]["spec"]["containers"][0]
        assert referenced_secrets([exporter]) == {"c2c-opensearch-reader", "c2c-postgresql"}
        assert "c2c-opensearch-reader" not in referenced_secrets(
            [deployments[name] for name in ("c2c-code-location", "c2c-dagster-daemon", "c2c-dagster-webserver")])
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["image"] == IMAGE, name
        assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"], name
        assert "livenessProbe" in container, name
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        for env in container.get("env", []):  # plain values are never credentials
            assert "PASSWORD" not in env["name"] or "valueFrom" in env, (name, env)
    code = deployments["c2c-code-location"]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "DAGSTER_CURRENT_IMAGE", "value": IMAGE} in code["env"]
    assert {"c2c-dagster-webserver", "c2c-code-location"} <= set(by_kind(objects, "PodDisruptionBudget"))
    assert "c2c-default-deny-ingress" in by_kind(objects, "NetworkPolicy")
    replicas = {n: d["spec"]["replicas"] for n, d in deployments.items()}
    assert replicas["c2c-dagster-daemon"] == 1  # one daemon, always
    if overlay == "production":
        assert replicas["c2c-dagster-webserver"] == replicas["c2c-code-location"] == 2


@pytest.mark.kubernetes
def test_every_object_is_server_side_applied_and_the_identities_keep_least_privilege(k8s_cluster) -> None:
    from kubernetes import client

    with k8s_cluster.api_client() as api:
        apps = client.AppsV1Api(api)
        try:
            for overlay in OVERLAYS:
                objects = build_overlay(overlay, image=IMAGE)
                # Validated by the API server first (schemas, admission, RBAC escalation checks),
                # then stored; the Namespace comes first in kustomize's order.
                server_side_apply(api, objects[:1])
                server_side_apply(api, objects, dry_run=True)
                answers = server_side_apply(api, objects)
                assert [(a["kind"], a["metadata"]["name"]) for a in answers] == [
                    (o["kind"], o["metadata"]["name"]) for o in objects]
                assert all(a["metadata"].get("uid") for a in answers)

            # The controller manager made ReplicaSets and pods of them: the pod templates pass
            # admission (service accounts exist, security contexts are valid).
            def pods_created() -> bool:
                return all((apps.read_namespaced_deployment_status(n, "c2c").status.replicas or 0) >= 1
                           for n in ("c2c-dagster-webserver", "c2c-dagster-daemon", "c2c-code-location"))

            wait_until(pods_created, what="pods of c2c's Deployments", timeout=60)
            core_pods = client.CoreV1Api(api).list_namespaced_pod(
                "c2c", label_selector="app.kubernetes.io/component in (webserver,daemon,code-location)")
            assert {p.spec.service_account_name for p in core_pods.items} == {"c2c-collector", "c2c-dagster"}

            # The collector reads what a snapshot and the Argo CD sensor list, cluster-wide, and
            # nothing else; the run launcher's identity manages Jobs in c2c's namespace only.
            for resource, group in (("pods", ""), ("nodes", ""), ("deployments", "apps"),
                                    ("replicasets", "apps"), ("jobs", "batch"), ("applications", "argoproj.io")):
                assert allowed(api, COLLECTOR, "list", resource, group=group)
            assert not allowed(api, COLLECTOR, "get", "secrets", namespace="c2c")
            assert not allowed(api, COLLECTOR, "create", "jobs", group="batch", namespace="c2c")
            assert not allowed(api, COLLECTOR, "patch", "deployments", group="apps", namespace="default")
            assert allowed(api, DAGSTER, "create", "jobs", group="batch", namespace="c2c")
            assert allowed(api, DAGSTER, "delete", "jobs", group="batch", namespace="c2c")
            assert allowed(api, DAGSTER, "get", "pods", subresource="log", namespace="c2c")
            assert not allowed(api, DAGSTER, "create", "jobs", group="batch", namespace="default")
            assert not allowed(api, DAGSTER, "get", "secrets", namespace="c2c")
            assert not allowed(api, DAGSTER, "list", "pods", namespace="default")
        finally:
            # Other tests scan the whole shared cluster: c2c's own workloads leave with this test.
            for kind, delete in (("Deployment", apps.delete_namespaced_deployment),
                                 ("StatefulSet", apps.delete_namespaced_stateful_set)):
                for name in by_kind(build_overlay("dev", image=IMAGE), kind):
                    try:
                        delete(name, "c2c", propagation_policy="Foreground")
                    except client.exceptions.ApiException as exc:
                        if exc.status != 404:
                            raise
