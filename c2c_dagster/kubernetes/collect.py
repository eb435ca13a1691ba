"""What a snapshot lists of a cluster, and the slim dict each item is reduced to for ``snapshot.py``
to join: the types (``RESOURCE_TYPES``, owners before pods) and their slimming. The listing itself,
one paginated LIST per type, is ``cluster/pager.py``'s; Argo CD's Applications are listed and slimmed
as ``argocd/applications.py`` says (``APPLICATIONS``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubernetes.client import ApiClient

from c2c_dagster.argocd.applications import APPLICATIONS
from c2c_dagster.cluster.pager import DEFAULT_PAGE_SIZE, Collection, ResourceType, Slim, api_page_lister, collect

# Annotations that are large and say nothing a snapshot needs: the last applied manifest
# duplicates the spec (often kilobytes per object), and would dominate memory and storage.
_DROPPED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})


def _meta(item: dict[str, Any], *, annotations: bool = True) -> Slim:
    meta = item.get("metadata") or {}
    slim: Slim = {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "uid": meta.get("uid"),
        "labels": meta.get("labels") or {},
        "ownerReferences": [
            {"kind": ref.get("kind"), "name": ref.get("name"), "uid": ref.get("uid"),
             "controller": bool(ref.get("controller"))}
            for ref in meta.get("ownerReferences") or []
        ],
    }
    if annotations:
        slim["annotations"] = {
            k: v for k, v in (meta.get("annotations") or {}).items() if k not in _DROPPED_ANNOTATIONS
        }
    slim["generation"] = meta.get("generation")
    return slim


def _conditions(status: dict[str, Any]) -> list[Slim]:
    return [
        {"type": c.get("type"), "status": c.get("status"), "reason": c.get("reason"),
         "message": c.get("message"), "lastTransitionTime": c.get("lastTransitionTime")}
        for c in status.get("conditions") or []
    ]


def _template_containers(pod_spec: dict[str, Any]) -> list[Slim]:
    containers = [{"name": c.get("name"), "image": c.get("image"), "type": "init"}
                  for c in pod_spec.get("initContainers") or []]
    containers += [{"name": c.get("name"), "image": c.get("image"), "type": "regular"}
                   for c in pod_spec.get("containers") or []]
    return containers


def _replica_counts(spec: dict[str, Any], status: dict[str, Any]) -> dict[str, int]:
    """Deployments and StatefulSets share these status field names (DaemonSets do not)."""
    return {
        "desired": spec.get("replicas", 1),
        "current": status.get("replicas", 0),
        "ready": status.get("readyReplicas", 0),
        "available": status.get("availableReplicas", 0),
        "updated": status.get("updatedReplicas", 0),
    }


def slim_deployment(item: dict[str, Any]) -> Slim:
    spec, status = item.get("spec") or {}, item.get("status") or {}
    strategy = spec.get("strategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    return {
        **_meta(item),
        "kind": "Deployment",
        "replicas": _replica_counts(spec, status),
        "strategy": {"type": strategy.get("type"), "maxSurge": rolling.get("maxSurge"),
                     "maxUnavailable": rolling.get("maxUnavailable")},
        "paused": bool(spec.get("paused")),
        "observedGeneration": status.get("observedGeneration"),
        "conditions": _conditions(status),
        "template_containers": _template_containers((spec.get("template") or {}).get("spec") or {}),
    }


def slim_statefulset(item: dict[str, Any]) -> Slim:
    spec, status = item.get("spec") or {}, item.get("status") or {}
    strategy = spec.get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    return {
        **_meta(item),
        "kind": "StatefulSet",
        "replicas": _replica_counts(spec, status),
        # StatefulSets never surge: one pod per ordinal.
        "strategy": {"type": strategy.get("type"), "maxSurge": None,
                     "maxUnavailable": rolling.get("maxUnavailable"),
                     "partition": rolling.get("partition")},
        "observedGeneration": status.get("observedGeneration"),
        "currentRevision": status.get("currentRevision"),
        "updateRevision": status.get("updateRevision"),
        "conditions": _conditions(status),
        "template_containers": _template_containers((spec.get("template") or {}).get("spec") or {}),
    }


def slim_daemonset(item: dict[str, Any]) -> Slim:
    spec, status = item.get("spec") or {}, item.get("status") or {}
    strategy = spec.get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    return {
        **_meta(item),
        "kind": "DaemonSet",
        # A DaemonSet's "desired" is one per eligible node, in its own status field names.
        "replicas": {
            "desired": status.get("desiredNumberScheduled", 0),
            "current": status.get("currentNumberScheduled", 0),
            "ready": status.get("numberReady", 0),
            "available": status.get("numberAvailable", 0),
            "updated": status.get("updatedNumberScheduled", 0),
        },
        "strategy": {"type": strategy.get("type"), "maxSurge": rolling.get("maxSurge"),
                     "maxUnavailable": rolling.get("maxUnavailable")},
        "observedGeneration": status.get("observedGeneration"),
        "conditions": _conditions(status),
        "template_containers": _template_containers((spec.get("template") or {}).get("spec") or {}),
    }


def slim_replicaset(item: dict[str, Any]) -> Slim:
    # Only the owner chain and the revision are needed: RS status is the Deployment's business.
    meta = _meta(item, annotations=False)
    annotations = (item.get("metadata") or {}).get("annotations") or {}
    meta["revision"] = annotations.get("deployment.kubernetes.io/revision")
    meta["replicas"] = (item.get("spec") or {}).get("replicas", 0)
    return meta


def slim_job(item: dict[str, Any]) -> Slim:
    return _meta(item, annotations=False)


def _container_status(status: dict[str, Any]) -> Slim:
    return {
        "name": status.get("name"),
        "image": status.get("image"),
        "imageID": status.get("imageID") or "",
        "ready": bool(status.get("ready")),
        "started": status.get("started"),
        "restartCount": int(status.get("restartCount") or 0),
        "state": status.get("state") or {},
        "lastState": status.get("lastState") or {},
    }


def slim_pod(item: dict[str, Any]) -> Slim:
    spec, status = item.get("spec") or {}, item.get("status") or {}
    containers = _template_containers(spec)
    containers += [{"name": c.get("name"), "image": c.get("image"), "type": "ephemeral"}
                   for c in spec.get("ephemeralContainers") or []]
    ready = next((c.get("status") == "True" for c in status.get("conditions") or [] if c.get("type") == "Ready"),
                 False)
    return {
        **_meta(item),
        "nodeName": spec.get("nodeName"),
        "containers": containers,
        "phase": status.get("phase"),
        "reason": status.get("reason"),
        "ready": ready,
        "podIP": status.get("podIP"),
        "hostIP": status.get("hostIP"),
        "startTime": status.get("startTime"),
        "statuses": {
            "init": [_container_status(s) for s in status.get("initContainerStatuses") or []],
            "regular": [_container_status(s) for s in status.get("containerStatuses") or []],
            "ephemeral": [_container_status(s) for s in status.get("ephemeralContainerStatuses") or []],
        },
    }


def slim_node(item: dict[str, Any]) -> Slim:
    labels = (item.get("metadata") or {}).get("labels") or {}
    return {
        "name": (item.get("metadata") or {}).get("name"),
        # The deprecated failure-domain labels are still set by older cloud providers.
        "zone": labels.get("topology.kubernetes.io/zone") or labels.get("failure-domain.beta.kubernetes.io/zone"),
        "region": labels.get("topology.kubernetes.io/region")
        or labels.get("failure-domain.beta.kubernetes.io/region"),
        "instance_type": labels.get("node.kubernetes.io/instance-type")
        or labels.get("beta.kubernetes.io/instance-type"),
    }


NODES = ResourceType("nodes", "Node", "", "v1", False, slim_node)
DEPLOYMENTS = ResourceType("deployments", "Deployment", "apps", "v1", True, slim_deployment)
STATEFULSETS = ResourceType("statefulsets", "StatefulSet", "apps", "v1", True, slim_statefulset)
DAEMONSETS = ResourceType("daemonsets", "DaemonSet", "apps", "v1", True, slim_daemonset)
REPLICASETS = ResourceType("replicasets", "ReplicaSet", "apps", "v1", True, slim_replicaset)
JOBS = ResourceType("jobs", "Job", "batch", "v1", True, slim_job)
PODS = ResourceType("pods", "Pod", "", "v1", True, slim_pod)

# Owners are listed before pods: a pod created after its owner was listed still finds it; a
# workload deleted in between leaves pods whose owner is missing, which the join records. Argo CD's
# Applications are read for which app manages a workload.
RESOURCE_TYPES: tuple[ResourceType, ...] = (
    NODES, DEPLOYMENTS, STATEFULSETS, DAEMONSETS, REPLICASETS, JOBS, APPLICATIONS, PODS,
)


def collect_cluster(
    api: ApiClient, *, namespaces: Iterable[str] = (), page_size: int = DEFAULT_PAGE_SIZE, timeout_seconds: float = 30
) -> Collection:
    """``collect`` over a real API client."""
    return collect(
        api_page_lister(api, timeout_seconds),
        server=api.configuration.host,
        namespaces=namespaces,
        page_size=page_size,
        types=RESOURCE_TYPES,
    )
