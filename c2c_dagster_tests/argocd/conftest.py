"""Fixtures for the Argo CD tests: the session's real Argo CD and cluster, c2c's resources on them,
and one tick of the real ``argocd_sync_sensor``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from c2c_dagster.argocd.sensors import argocd_sync_sensor
from c2c_dagster.cluster.resources import KubeClusterConfig, KubernetesResource
from c2c_dagster.kubernetes.partitions import cluster_partitions
from c2c_dagster.store import ARGOCD_SYNC_EVENTS, MetadataStoreResource
from c2c_devstack.services.argocd import ArgoCD, ConfigRepo, deployment_manifest, manifests_yaml

# The code location's partitions come from the environment; tests use whatever it names, so the
# sensor's post-sync runs target a partition that exists.
CLUSTER = cluster_partitions.get_partition_keys()[0]


def _resources(k8s_cluster: Any, tmp_path: Path) -> tuple[KubernetesResource, MetadataStoreResource]:
    return (
        # page_size=1: every tick pages through the listing with continue tokens.
        KubernetesResource(clusters=[KubeClusterConfig(name=CLUSTER, kubeconfig=str(k8s_cluster.kubeconfig))],
                           page_size=1),
        MetadataStoreResource(embedded_path=str(tmp_path / "store.sqlite")),
    )


@dataclass
class ArgoEnv:
    """A fresh Application namespace and destination namespace on the real cluster, which Argo
    CD's controller does not manage: for tests that need no sync at all."""

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
            kubernetes, store = _resources(k8s_cluster, tmp_path)
            yield ArgoEnv(api=api, app_namespace=names[0], dest_namespace=names[1], kubernetes=kubernetes,
                          store=store)
        finally:
            custom = client.CustomObjectsApi(api)
            custom.delete_collection_namespaced_custom_object("argoproj.io", "v1alpha1", names[0], "applications")
            for name in names:
                core.delete_namespace(name)


@dataclass
class GitOps:
    """One test's corner of the session's real Argo CD: an Application namespace the controller
    manages, a destination namespace, a local config repository, c2c's resources."""

    argocd: ArgoCD
    app_namespace: str
    dest_namespace: str
    repo: ConfigRepo
    kubernetes: KubernetesResource
    store: MetadataStoreResource
    namespaces: list[str] = field(default_factory=list)  # all this test made, deleted after it

    def namespace(self, prefix: str = "dest") -> str:
        """Another namespace for this test (deleted with the others)."""
        self.namespaces.append(self.argocd.create_namespace(prefix))
        return self.namespaces[-1]

    def create_app(self, name: str, *, path: str | None = None, sources: list[dict[str, Any]] | None = None,
                   dest_namespace: str | None = None, **options: Any) -> dict[str, Any]:
        """An Application syncing ``path`` (default: the app's name) of this test's repo's main;
        ``options`` as ``ArgoCD.create_application`` takes them (automated, self_heal, retry)."""
        sources = sources or [{"repoURL": self.repo.url, "path": path or name, "targetRevision": "main"}]
        return self.argocd.create_application(self.app_namespace, name, sources=sources,
                                              dest_namespace=dest_namespace or self.dest_namespace, **options)

    def commit_image(self, app: str, image: str, *, replicas: int = 1, **manifest: Any) -> str:
        """Commit ``<app>/deployment.yaml``, a Deployment named after the app running ``image``."""
        text = manifests_yaml(deployment_manifest(app, image, replicas=replicas, **manifest))
        return self.repo.commit({f"{app}/deployment.yaml": text}, f"{app}: {image}")

    def synced(self, app: str, revision: str, *, timeout: float = 60) -> dict[str, Any]:
        """Announce a commit (as a git webhook does) and wait until Argo CD's sync of it finished."""
        self.argocd.refresh(self.app_namespace, app)
        return self.argocd.wait_for_operation(self.app_namespace, app, revision=revision, timeout=timeout)

    def app(self, name: str) -> dict[str, Any]:
        return self.argocd.get_application(self.app_namespace, name)

    def events(self, app: str) -> dict[str, dict[str, Any]]:
        """This test's stored sync events of ``app``, by event id."""
        store = self.store.get_store()
        try:
            return {d["event_id"]: d for d in store.find(ARGOCD_SYNC_EVENTS.name, "app", app, limit=1000)
                    if d["app_namespace"] == self.app_namespace}
        finally:
            store.close()

    def event_id(self, app: dict[str, Any], sync: int | str) -> str:
        """c2c's id of one sync of ``app`` (a history id, or a finishedAt for a sync without one)."""
        meta = app["metadata"]
        return f"{CLUSTER}/{meta['namespace']}/{meta['name']}/{meta['uid']}/{sync}"


@pytest.fixture
def gitops(argocd: ArgoCD, k8s_cluster, tmp_path: Path) -> Iterator[GitOps]:
    from kubernetes import client

    app_namespace, dest_namespace = argocd.create_namespace(), argocd.create_namespace("dest")
    kubernetes, store = _resources(k8s_cluster, tmp_path)
    env = GitOps(argocd=argocd, app_namespace=app_namespace, dest_namespace=dest_namespace,
                 repo=ConfigRepo.create(tmp_path / "config"), kubernetes=kubernetes, store=store,
                 namespaces=[app_namespace, dest_namespace])
    try:
        yield env
    finally:
        with k8s_cluster.api_client() as api:
            # Apps first (the controller stops syncing them), then what they deployed.
            client.CustomObjectsApi(api).delete_collection_namespaced_custom_object(
                "argoproj.io", "v1alpha1", app_namespace, "applications")
            for name in env.namespaces:
                client.CoreV1Api(api).delete_namespace(name)


def tick(env: ArgoEnv | GitOps, cursor: str | None, *, kubernetes: KubernetesResource | None = None,
         instance: dg.DagsterInstance | None = None) -> tuple[Any, dg.SensorEvaluationContext]:
    """One evaluation of the real ``argocd_sync_sensor`` on the session's cluster."""
    context = dg.build_sensor_context(
        cursor=cursor,
        resources={"kubernetes": kubernetes or env.kubernetes, "store": env.store},
        instance=instance or dg.DagsterInstance.ephemeral(),
    )
    return argocd_sync_sensor(context), context


def mine(result: Any, env: ArgoEnv | GitOps) -> list[dg.RunRequest]:
    """This test's requests (other tests' Applications share the session's cluster)."""
    return [r for r in result.run_requests if r.tags["c2c/argocd-app"].startswith(env.app_namespace + "/")]
