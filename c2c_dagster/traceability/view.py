"""deployment-metadata documents (current versions) -> ``RunningContainer``s for the join. Pure.

deployment_snapshots writes one document per workload (replicas, strategy, rollout state,
template images) and one per pod (node, containers with their running digests); here the pods
are grouped back under their workload, one ``RunningContainer`` per container name. Init
containers count (a migration image runs too); ephemeral debug containers do not.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from c2c_dagster.traceability.correlate import RunningContainer, RunningPod

TRACED_CONTAINER_TYPES = ("regular", "init")


def _rollout_in_progress(workload: Mapping[str, Any] | None, pods: list[Mapping[str, Any]]) -> bool:
    """A Deployment/StatefulSet/DaemonSet whose snapshot says the rollout is not complete, or
    pods of one Deployment in more than one ReplicaSet that still runs pods."""
    if workload is None:
        return False
    if workload.get("rollout_complete") is False:
        return True
    return len({p.get("replicaset") for p in pods if p.get("replicaset")}) > 1


def running_containers(docs: Iterable[Mapping[str, Any]]) -> list[RunningContainer]:
    workloads: dict[str, Mapping[str, Any]] = {}
    pods_of: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for doc in docs:
        if doc.get("doc_type") == "workload":
            workloads[doc["workload"]] = doc
        elif doc.get("doc_type") == "pod":
            pods_of[doc["workload"]].append(doc)

    containers: list[RunningContainer] = []
    for key in sorted(set(workloads) | set(pods_of)):
        workload = workloads.get(key)
        pods = sorted(pods_of.get(key, []), key=lambda p: p["pod_name"])
        first = workload or pods[0]
        template = {
            c["name"]: c for c in (workload or {}).get("containers") or [] if c.get("type") in TRACED_CONTAINER_TYPES
        }
        running: dict[str, list[RunningPod]] = defaultdict(list)
        first_seen: dict[str, str] = {}
        for pod in pods:
            for c in pod.get("containers") or []:
                if c.get("type") not in TRACED_CONTAINER_TYPES:
                    continue
                digest = c.get("image_digest")
                waiting = None if digest else (c.get("reason") if c.get("state") == "waiting" else None) or pod.get("phase")
                running[c["name"]].append(RunningPod(pod["pod_name"], pod.get("nodeName"), digest,
                                                     pod.get("startTime"), c.get("image"), waiting))
                # When this digest was first seen running here: the earliest pod version's
                # first_seen (a pod's history starts when the collector first saw it).
                seen = pod.get("startTime") or pod.get("first_seen")
                if digest and seen and (digest not in first_seen or seen < first_seen[digest]):
                    first_seen[digest] = seen
        for name in sorted(set(template) | set(running)):
            pods_running = running.get(name, [])
            image = (template.get(name) or {}).get("image") or next((p.image for p in pods_running if p.image), "")
            containers.append(
                RunningContainer(
                    cluster=first["cluster"],
                    namespace=first["namespace"],
                    workload_kind=first["workload_kind"],
                    workload_name=first["workload_name"],
                    container=name,
                    image=image,
                    pods=pods_running,
                    labels=(workload or {}).get("labels") or {},
                    annotations=(workload or {}).get("annotations") or {},
                    rollout_in_progress=_rollout_in_progress(workload, pods),
                    argocd_app=(workload or {}).get("argocd_app") or (pods[0].get("argocd_app") if pods else None),
                    replicas=(workload or {}).get("replicas"),
                    strategy=(workload or {}).get("strategy"),
                    first_seen=first_seen,
                )
            )
    return containers
