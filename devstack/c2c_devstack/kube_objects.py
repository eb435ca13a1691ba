"""Raw Kubernetes API objects (as LIST returns them) and a fake paginating API for pure tests."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException

from c2c_dagster.cluster.pager import Collection, collect
from c2c_dagster.kubernetes.collect import RESOURCE_TYPES


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _uid(*parts: str) -> str:
    return hashlib.md5("/".join(parts).encode()).hexdigest()


def owner(kind: str, name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "name": name, "uid": _uid(kind, namespace, name), "controller": True}


def meta(kind: str, namespace: str | None, name: str, *, labels=None, annotations=None, owners=(), generation=1):
    return {"name": name, "namespace": namespace, "uid": _uid(kind, namespace or "", name), "labels": labels or {},
            "annotations": annotations or {}, "ownerReferences": list(owners), "generation": generation}


def deployment(namespace: str, name: str, image: str, *, replicas: int = 2, labels=None, annotations=None,
               revision: str = "1", generation: int = 1, ready: int | None = None) -> dict[str, Any]:
    ready = replicas if ready is None else ready
    return {
        "metadata": meta("Deployment", namespace, name, labels=labels,
                         annotations={"deployment.kubernetes.io/revision": revision, **(annotations or {})},
                         generation=generation),
        "spec": {"replicas": replicas, "strategy": {"type": "RollingUpdate",
                                                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
                 "template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
        "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready,
                   "updatedReplicas": replicas, "observedGeneration": generation,
                   "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                                   "lastTransitionTime": "2026-01-01T00:00:00Z"}]},
    }


def replicaset(namespace: str, deployment_name: str, template_hash: str, *, revision: str = "1",
               replicas: int = 2) -> dict[str, Any]:
    name = f"{deployment_name}-{template_hash}"
    return {
        "metadata": meta("ReplicaSet", namespace, name, labels={"pod-template-hash": template_hash},
                         annotations={"deployment.kubernetes.io/revision": revision},
                         owners=[owner("Deployment", deployment_name, namespace)]),
        "spec": {"replicas": replicas},
    }


def statefulset(namespace: str, name: str, image: str, replicas: int = 1) -> dict[str, Any]:
    return {
        "metadata": meta("StatefulSet", namespace, name),
        "spec": {"replicas": replicas, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                 "template": {"spec": {"containers": [{"name": "db", "image": image}]}}},
        "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
                   "updatedReplicas": replicas, "observedGeneration": 1, "updateRevision": f"{name}-abc"},
    }


def daemonset(namespace: str, name: str, image: str) -> dict[str, Any]:
    return {
        "metadata": meta("DaemonSet", namespace, name),
        "spec": {"updateStrategy": {"type": "OnDelete"},
                 "template": {"spec": {"containers": [{"name": "agent", "image": image}]}}},
        "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 2,
                   "numberAvailable": 2, "updatedNumberScheduled": 2, "observedGeneration": 1},
    }


def job(namespace: str, name: str, cronjob: str | None = None) -> dict[str, Any]:
    owners = [owner("CronJob", cronjob, namespace)] if cronjob else []
    return {"metadata": meta("Job", namespace, name, owners=owners)}


def node(name: str, zone: str = "zone-a", instance_type: str = "m5.large") -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone,
                                                   "node.kubernetes.io/instance-type": instance_type}}}


def application(namespace: str, name: str, dest_namespace: str, resources=()) -> dict[str, Any]:
    """An Application as a LIST returns it, with the ``status.resources`` its controller writes.

    Hand-written for the pure snapshot tests (thousands of objects, paging faults); the real
    controller's status and tracking annotation are read in the tests on the real Argo CD
    (c2c_dagster_tests/argocd/test_postsync_hook.py, traceability/test_scenarios.py).
    """
    return {"metadata": {"name": name, "namespace": namespace},
            "spec": {"destination": {"server": "https://kubernetes.default.svc", "namespace": dest_namespace}},
            "status": {"resources": list(resources)}}


def running(name: str, image: str, image_id: str | None = None, *, restarts: int = 0) -> dict[str, Any]:
    repo = image.split("@")[0].rsplit(":", 1)[0]
    return {"name": name, "image": image, "imageID": image_id if image_id is not None else f"{repo}@{digest_of(image)}",
            "ready": True, "started": True, "restartCount": restarts,
            "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}, "lastState": {}}


def pod(namespace: str, name: str, *, owners=(), labels=None, node_name: str = "node-1",
        containers=(("app", "registry.local/app:1.0"),), init=(), ephemeral=(), statuses=None,
        init_statuses=None, ephemeral_statuses=None, phase: str = "Running", annotations=None) -> dict[str, Any]:
    return {
        "metadata": meta("Pod", namespace, name, labels=labels, owners=owners, annotations=annotations),
        "spec": {"nodeName": node_name,
                 "containers": [{"name": n, "image": i} for n, i in containers],
                 "initContainers": [{"name": n, "image": i} for n, i in init],
                 "ephemeralContainers": [{"name": n, "image": i} for n, i in ephemeral]},
        "status": {
            "phase": phase, "podIP": "10.244.0.5", "hostIP": "172.31.0.10", "startTime": "2026-01-01T00:00:00Z",
            "conditions": [{"type": "Ready", "status": "True" if phase == "Running" else "False"}],
            "containerStatuses": statuses if statuses is not None else [running(n, i) for n, i in containers],
            "initContainerStatuses": init_statuses or [],
            "ephemeralContainerStatuses": ephemeral_statuses or [],
        },
    }


def deployment_pods(namespace: str, deployment_name: str, template_hash: str, n: int, image: str,
                    **kwargs: Any) -> list[dict[str, Any]]:
    rs = f"{deployment_name}-{template_hash}"
    return [
        pod(namespace, f"{rs}-{i}", owners=[owner("ReplicaSet", rs, namespace)],
            labels={"pod-template-hash": template_hash, "app": deployment_name, **kwargs.pop("labels", {})},
            containers=(("app", image),), **kwargs)
        for i in range(n)
    ]


class FakeApi:
    """Serves LIST pages of raw objects by API path, with faults to inject.

    ``forbidden``: resource keys answering 403; ``gone_once``: keys whose second page answers
    410 once; ``on_list``: called before each page (to change the "cluster" between calls).
    """

    def __init__(self, objects: dict[str, list[dict[str, Any]]], *, forbidden: set[str] = frozenset(),
                 gone_once: set[str] = frozenset(), absent: set[str] = frozenset(),
                 on_list: Callable[[str], None] | None = None):
        self.objects = objects
        self.forbidden = set(forbidden)
        self.gone_once = set(gone_once)
        self.absent = set(absent)
        self.on_list = on_list
        self.calls: list[tuple[str, str | None]] = []

    @staticmethod
    def _error(status: int, message: str) -> ApiException:
        exc = ApiException(status=status, reason=message)
        exc.body = json.dumps({"kind": "Status", "message": message})
        return exc

    def __call__(self, path: str, limit: int, continue_token: str | None) -> dict[str, Any]:
        self.calls.append((path, continue_token))
        if self.on_list:
            self.on_list(path)
        key = path.rsplit("/", 1)[1]
        parts = path.split("/")
        namespace = parts[parts.index("namespaces") + 1] if "namespaces" in parts else None
        if key in self.absent:
            raise self._error(404, "the server could not find the requested resource")
        if key in self.forbidden:
            raise self._error(403, f'{key} is forbidden: User "system:serviceaccount:c2c:c2c-collector" '
                                   f'cannot list resource "{key}"')
        items = [o for o in self.objects.get(key, [])
                 if namespace is None or o["metadata"].get("namespace") == namespace]
        start = int(continue_token or 0)
        if start and key in self.gone_once:
            self.gone_once.discard(key)
            raise self._error(410, "The provided continue parameter is too old")
        page = items[start : start + limit]
        nxt = str(start + limit) if start + limit < len(items) else ""
        return {"items": page, "metadata": {"continue": nxt}}


def collect_from(objects: dict[str, list[dict[str, Any]]], *, page_size: int = 2, namespaces=(),
                 **faults: Any) -> Collection:
    return collect(FakeApi(objects, **faults), server="https://fake", page_size=page_size,
                   namespaces=namespaces, types=RESOURCE_TYPES)
