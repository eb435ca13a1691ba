"""argocd_sync_sensor when a cluster cannot be read: an unreachable API server or a forbidden listing
skips the tick naming the cluster, the URL and the missing permission, with the cursor unchanged;
and the Application CRD the controller writes status through. (What the sensor records of each
kind of sync is shown with the real Argo CD controller in test_syncs.py.)"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from c2c_dagster.argocd.cursor import ArgoCursor
from c2c_dagster.cluster.resources import KubeClusterConfig, KubernetesResource
from c2c_dagster_tests.argocd.conftest import CLUSTER, ArgoEnv, tick
from c2c_devstack.services import free_port

pytestmark = pytest.mark.kubernetes


def test_the_crd_has_no_status_subresource_so_status_is_written_with_the_object(k8s_cluster) -> None:
    from kubernetes import client

    with k8s_cluster.api_client() as api:
        crd = client.ApiextensionsV1Api(api).read_custom_resource_definition(
            "applications.argoproj.io", _preload_content=False)
        versions = yaml.safe_load(crd.data)["spec"]["versions"]
    assert [v["name"] for v in versions] == ["v1alpha1"]
    assert "status" not in (versions[0].get("subresources") or {})


def _kubeconfig_with(source: Path, target: Path, *, server: str | None = None, token: str | None = None) -> Path:
    config = yaml.safe_load(source.read_text())
    if server:
        config["clusters"][0]["cluster"]["server"] = server
    if token:
        config["users"][0]["user"] = {"token": token}
    target.write_text(yaml.safe_dump(config))
    return target


def test_an_unreachable_api_server_skips_naming_cluster_and_url_with_the_cursor_unchanged(
    argo: ArgoEnv, k8s_cluster, tmp_path: Path
) -> None:
    baseline, _ = tick(argo, None)
    down_url = f"https://127.0.0.1:{free_port()}"
    down = KubeClusterConfig(name="down", kubeconfig=str(_kubeconfig_with(
        k8s_cluster.kubeconfig, tmp_path / "down.yaml", server=down_url)))
    only_down = KubernetesResource(clusters=[down], request_timeout_seconds=5)
    skipped, context = tick(argo, baseline.cursor, kubernetes=only_down)
    assert isinstance(skipped, dg.SkipReason)
    assert "'down'" in skipped.skip_message and down_url in skipped.skip_message
    assert "cursor unchanged" in skipped.skip_message
    assert context.cursor == baseline.cursor

    # Beside a readable cluster: that one advances, the unreachable one keeps its (absent) entry.
    both = KubernetesResource(clusters=[argo.kubernetes.clusters[0], down], request_timeout_seconds=5)
    result, _ = tick(argo, baseline.cursor, kubernetes=both)
    cursor = ArgoCursor.loads(result.cursor)
    assert cursor.is_known(CLUSTER) and not cursor.is_known("down")


def test_a_forbidden_listing_skips_naming_the_missing_permission(argo: ArgoEnv, k8s_cluster, tmp_path: Path) -> None:
    from kubernetes import client

    core = client.CoreV1Api(argo.api)
    core.create_namespaced_service_account(argo.app_namespace, {"metadata": {"name": "no-rights"}})
    token = core.create_namespaced_service_account_token(
        "no-rights", argo.app_namespace, {"spec": {"expirationSeconds": 600}}).status.token
    forbidden = KubernetesResource(clusters=[KubeClusterConfig(name="locked", kubeconfig=str(_kubeconfig_with(
        k8s_cluster.kubeconfig, tmp_path / "locked.yaml", token=token)))])
    skipped, context = tick(argo, "{}", kubernetes=forbidden)
    assert isinstance(skipped, dg.SkipReason)
    assert "403" in skipped.skip_message and "applications.argoproj.io" in skipped.skip_message
    assert k8s_cluster.server in skipped.skip_message and "'locked'" in skipped.skip_message
    assert context.cursor == "{}"
