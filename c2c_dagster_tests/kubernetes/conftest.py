"""Helpers for deployment_snapshots tests on the real control plane: a namespace per test, runs
of the asset on a real Dagster instance, and kubeconfigs that act as a service account."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from c2c_dagster.cluster.resources import KubeClusterConfig, KubernetesResource
from c2c_dagster.kubernetes.assets import deployment_snapshots
from c2c_dagster.kubernetes.partitions import cluster_partitions
from c2c_dagster.store import MetadataStoreResource
from c2c_devstack.services import REPO_ROOT, wait_until

COLLECTOR_RBAC = REPO_ROOT / "k8s" / "rbac" / "collector.yaml"

# The code location's partitions come from the environment; tests use whatever it names.
CLUSTER = cluster_partitions.get_partition_keys()[0]


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    (tmp_path / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as inst:
        yield inst


@pytest.fixture
def api(k8s_cluster) -> Iterator[Any]:
    with k8s_cluster.api_client() as client:
        yield client


@pytest.fixture
def proxy(k8s_cluster) -> Iterator[Any]:
    """A ``FaultProxy`` in front of the session's API server (the fault suite's faults)."""
    from c2c_devstack.services.kubernetes import FaultProxy

    proxy = FaultProxy(k8s_cluster)
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
def namespace(api) -> Iterator[str]:
    """A fresh namespace: the cluster is shared by the whole session."""
    from kubernetes import client

    name = f"snap-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(api).create_namespace({"metadata": {"name": name}})
    try:
        yield name
    finally:
        client.CoreV1Api(api).delete_namespace(name)


def snapshot(kubeconfig: Path | str, store: MetadataStoreResource, instance: dg.DagsterInstance,
             *, raise_on_error: bool = True, page_size: int = 50, request_timeout_seconds: float = 10,
             **config: Any) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [deployment_snapshots],
        partition_key=CLUSTER,
        instance=instance,
        resources={
            "kubernetes": KubernetesResource(clusters=[KubeClusterConfig(name=CLUSTER, kubeconfig=str(kubeconfig))],
                                             page_size=page_size, request_timeout_seconds=request_timeout_seconds),
            "store": store,
        },
        run_config={"ops": {"deployment_snapshots": {"config": config}}},
        raise_on_error=raise_on_error,
    )


def metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    materialization = result.asset_materializations_for_node("deployment_snapshots")[0]
    return {key: value.value for key, value in materialization.metadata.items()}


def deployment(name: str, image: str, *, replicas: int = 2, labels: dict | None = None,
               template_annotations: dict | None = None, max_surge: int = 1, max_unavailable: int = 0) -> dict:
    selector = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {**selector, **(labels or {})}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable}},
            "template": {
                "metadata": {"labels": {**selector, **(labels or {})}, "annotations": template_annotations or {}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def wait_pods(api, namespace: str, app: str, count: int, *, phase: str | None = "Running",
              check: Callable[[list], bool] | None = None, timeout: float = 90) -> list:
    """The app's pods once exactly ``count`` exist (all in ``phase`` when given)."""
    from kubernetes import client

    core = client.CoreV1Api(api)
    found: list = []

    def ready() -> bool:
        pods = [p for p in core.list_namespaced_pod(namespace, label_selector=f"app={app}").items
                if p.metadata.deletion_timestamp is None]
        found[:] = pods
        if len(pods) != count:
            return False
        if phase and not all(p.status.phase == phase for p in pods):
            return False
        return check(pods) if check else True

    wait_until(ready, what=f"{count} pod(s) of {namespace}/{app}", timeout=timeout)
    return found


def service_account_kubeconfig(api, k8s_cluster, namespace: str, name: str, path: Path) -> Path:
    """A kubeconfig that authenticates as ``namespace/name`` with a short-lived bound token."""
    from kubernetes import client

    token = client.CoreV1Api(api).create_namespaced_service_account_token(
        name, namespace, {"spec": {"expirationSeconds": 3600}}).status.token
    config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {
            "server": k8s_cluster.server,
            "certificate-authority-data": base64.b64encode(Path(k8s_cluster.ca_cert).read_bytes()).decode()}}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": name}}],
        "current-context": "c",
    }
    path.write_text(yaml.safe_dump(config))
    return path


@contextmanager
def collector_without(api, k8s_cluster, namespace: str, resource: str, path: Path) -> Iterator[Path]:
    """A kubeconfig for a service account bound to the shipped collector ClusterRole minus
    ``resource``: its LIST answers 403, as in a cluster whose RBAC lags c2c's."""
    from kubernetes import client

    rbac = client.RbacAuthorizationV1Api(api)
    name = f"c2c-limited-{uuid.uuid4().hex[:6]}"
    role = next(d for d in yaml.safe_load_all(COLLECTOR_RBAC.read_text()) if d and d["kind"] == "ClusterRole")
    rules = [dict(rule, resources=[r for r in rule["resources"] if r != resource]) for rule in role["rules"]]
    client.CoreV1Api(api).create_namespaced_service_account(namespace, {"metadata": {"name": name}})
    rbac.create_cluster_role({"metadata": {"name": name}, "rules": rules})
    rbac.create_cluster_role_binding({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]})
    try:
        yield service_account_kubeconfig(api, k8s_cluster, namespace, name, path)
    finally:
        rbac.delete_cluster_role_binding(name)
        rbac.delete_cluster_role(name)
