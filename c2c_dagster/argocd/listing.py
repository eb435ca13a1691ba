"""Listing one cluster's Argo CD Applications whole, for the sync sensor: through the same pager,
timeouts and errors as a snapshot's LISTs (``cluster/pager.py``), one error type for callers."""

from __future__ import annotations

from typing import Any

from kubernetes.config.config_exception import ConfigException

from c2c_dagster.argocd.applications import APPLICATIONS_WHOLE, GROUP, PLURAL
from c2c_dagster.cluster.pager import ClusterReadError, api_page_lister, collect
from c2c_dagster.cluster.resources import KubernetesResource


def list_applications(kubernetes: KubernetesResource, cluster: str) -> list[dict[str, Any]] | None:
    """Every Application of ``cluster`` across namespaces, paged (``kubernetes.page_size``).

    None when the cluster does not serve the Application CRD (no Argo CD there). Raises
    ``ClusterReadError`` naming the cluster and its URL for anything else: a bad kubeconfig, an
    unreachable API server or a timeout, or a refused LIST (with the RBAC rule that allows it).
    """
    try:
        api = kubernetes.api_client(cluster)
    except (ConfigException, OSError, KeyError) as exc:
        raise ClusterReadError(f"cluster {cluster!r}: client configuration failed: {exc}") from exc
    with api:
        url = api.configuration.host
        try:
            collection = collect(api_page_lister(api, kubernetes.request_timeout_seconds), server=url,
                                 page_size=kubernetes.page_size, types=[APPLICATIONS_WHOLE])
        except ClusterReadError as exc:
            raise ClusterReadError(f"cluster {cluster!r} at {url}: {exc}") from exc
    if PLURAL in collection.absent:
        return None
    if collection.errors:
        raise ClusterReadError(f"cluster {cluster!r} at {url}: listing {PLURAL}.{GROUP}: "
                               + "; ".join(error.describe() for error in collection.errors))
    return collection.of(PLURAL)
