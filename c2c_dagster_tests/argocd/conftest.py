"""Fixtures for the Argo CD tests: c2c's resources pointed at the session's real cluster."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from c2c_dagster.kubernetes.resources import KubeClusterConfig, KubernetesResource
from c2c_dagster.store import MetadataStoreResource

CLUSTER = "test"


@dataclass
class ArgoEnv:
    """A fresh Application namespace and destination namespace on the real cluster."""

    api: object  # kubernetes.client.ApiClient (admin)
    app_namespace: str
    dest_namespace: str
    kubernetes: KubernetesResource
    store: MetadataStoreResource


@pytest.fixture
def argo(k8s_cluster, tmp_path: Path) -> Iterator[ArgoEnv]:
    from kubernetes import client

    suffix = uuid.uuid4().hex[:8]
    with k8s_cluster.api_client() as api:
        core = client.CoreV1Api(api)
        names = (f"argo-{suffix}", f"dest-{suffix}")
        for name in names:
            core.create_namespace({"metadata": {"name": name}})
        try:
            yield ArgoEnv(
                api=api,
                app_namespace=names[0],
                dest_namespace=names[1],
                # page_size=1: every tick pages through the listing with continue tokens.
                kubernetes=KubernetesResource(
                    clusters=[KubeClusterConfig(name=CLUSTER, kubeconfig=str(k8s_cluster.kubeconfig))],
                    page_size=1,
                ),
                store=MetadataStoreResource(embedded_path=str(tmp_path / "store.sqlite")),
            )
        finally:
            custom = client.CustomObjectsApi(api)
            custom.delete_collection_namespaced_custom_object("argoproj.io", "v1alpha1", names[0], "applications")
            for name in names:
                core.delete_namespace(name)
