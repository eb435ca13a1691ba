"""``KubernetesResource``: API clients for one or more clusters, by name.

Each cluster is reached through a kubeconfig (+ context) or, inside a pod, the service account
Kubernetes mounts. Documents carry the cluster's name, so several clusters share one store.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from c2c_dagster.cluster.pager import DEFAULT_PAGE_SIZE
from c2c_dagster.settings import Settings, load_settings

# Argo CD's name for "the cluster Argo CD itself runs in".
IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
IN_CLUSTER_NAME = "in-cluster"


class KubeClusterConfig(dg.Config):
    """One cluster c2c reads."""

    name: str
    kubeconfig: str | None = None  # path; unset: $KUBECONFIG or ~/.kube/config
    context: str | None = None  # unset: the kubeconfig's current context
    in_cluster: bool = False  # use the pod's service account instead of a kubeconfig
    # Argo CD destination server URLs or cluster names that mean this cluster, for apps managed
    # by an Argo CD in another cluster.
    argocd_destinations: list[str] = []


class KubernetesResource(dg.ConfigurableResource):
    """Read access to the clusters c2c snapshots. Calls carry a timeout; pages are bounded."""

    clusters: list[KubeClusterConfig]
    # Items per LIST page (see pager.DEFAULT_PAGE_SIZE): one page's JSON text is in memory at a time.
    page_size: int = DEFAULT_PAGE_SIZE
    request_timeout_seconds: float = 30

    def cluster_names(self) -> list[str]:
        return [cluster.name for cluster in self.clusters]

    def cluster(self, name: str) -> KubeClusterConfig:
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        raise KeyError(f"no Kubernetes cluster named {name!r}; configured: {', '.join(self.cluster_names())}")

    def api_client(self, name: str) -> k8s_client.ApiClient:
        """A new API client for cluster ``name`` (close it when done, or use ``with``)."""
        cluster = self.cluster(name)
        if cluster.in_cluster:
            configuration = k8s_client.Configuration()
            k8s_config.load_incluster_config(client_configuration=configuration)
            return k8s_client.ApiClient(configuration)
        return k8s_config.new_client_from_config(
            config_file=cluster.kubeconfig, context=cluster.context, persist_config=False
        )

    def cluster_for_destination(self, source: str, server: str | None, name: str | None) -> str | None:
        """Which configured cluster an Argo CD Application (read from cluster ``source``) deploys to."""
        if server == IN_CLUSTER_SERVER or name == IN_CLUSTER_NAME:
            return source
        for cluster in self.clusters:
            if (server and server in cluster.argocd_destinations) or (name and name in cluster.argocd_destinations):
                return cluster.name
        return None


def clusters_from_settings(settings: Settings) -> list[KubeClusterConfig]:
    """The clusters the settings name (at code-location load, for the partitions too).

    ``C2C_K8S_CLUSTERS_FILE``: a YAML list of ``KubeClusterConfig`` fields. Otherwise one cluster
    named ``$C2C_CLUSTER_NAME`` (default ``default``) from ``$C2C_KUBECONFIG``/``$C2C_K8S_CONTEXT``,
    or in-cluster when ``C2C_K8S_IN_CLUSTER=true``.
    """
    if settings.k8s_clusters_file:
        entries = yaml.safe_load(Path(settings.k8s_clusters_file).read_text()) or []
        return [KubeClusterConfig(**entry) for entry in entries]
    return [KubeClusterConfig(name=settings.cluster_name, kubeconfig=settings.kubeconfig,
                              context=settings.k8s_context, in_cluster=settings.k8s_in_cluster)]


def clusters_from_env() -> list[KubeClusterConfig]:
    """``clusters_from_settings`` of the process's settings."""
    return clusters_from_settings(load_settings())


def cluster_configured_by_env() -> bool:
    """Whether the process's settings name a cluster; sensors and the schedule run by default only then."""
    return load_settings().cluster_configured


def kubernetes_resource_from_env(settings: Settings | None = None) -> KubernetesResource:
    return KubernetesResource(clusters=clusters_from_settings(settings or load_settings()))
