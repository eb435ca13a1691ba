"""deployment-metadata versions (the current ones) -> ``RunningContainer``s for the join. Pure.

deployment_snapshots writes one version per workload (replicas, strategy, rollout state,
template images) and one per pod (node, containers with their running digests); here the pods
are grouped back under their workload, one ``RunningContainer`` per container name. The split
is the store's (a rollout's replica counts must not rewrite every pod's document, a pod is one
document deep for lookups by digest, pod or node); the join needs the workload whole again. Init
containers count (a migration image runs too); ephemeral debug containers do not.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from c2c_dagster.documents.deployments import PodVersion, WorkloadVersion
from c2c_dagster.traceability.correlate import RunningContainer, RunningPod

TRACED_CONTAINER_TYPES = ("regular", "init")


def _rollout_in_progress(workload: WorkloadVersion | None, pods: list[PodVersion]) -> bool:
    """A Deployment/StatefulSet/DaemonSet whose snapshot says the rollout is not complete, or
    pods of one Deployment in more than one ReplicaSet that still runs pods."""
    if workload is None:
        return False
    if workload.rollout_complete is False:
        return True
    return len({p.replicaset for p in pods if p.replicaset}) > 1


def running_containers(versions: Iterable[WorkloadVersion | PodVersion]) -> list[RunningContainer]:
    workloads: dict[str, WorkloadVersion] = {}
    pods_of: dict[str, list[PodVersion]] = defaultdict(list)
    for version in versions:
        if isinstance(version, WorkloadVersion):
            workloads[version.workload or ""] = version
        else:
            pods_of[version.workload or ""].append(version)

    containers: list[RunningContainer] = []
    for key in sorted(set(workloads) | set(pods_of)):
        workload = workloads.get(key)
        pods = sorted(pods_of.get(key, []), key=lambda p: p.pod_name or "")
        first = workload or pods[0]
        template = {c.name: c for c in workload.containers if c.type in TRACED_CONTAINER_TYPES} if workload else {}
        running: dict[str, list[RunningPod]] = defaultdict(list)
        first_seen: dict[str, str] = {}
        for pod in pods:
            for c in pod.containers:
                if c.type not in TRACED_CONTAINER_TYPES:
                    continue
                digest = c.image_digest
                waiting = None if digest else (c.reason if c.state == "waiting" else None) or pod.phase
                running[c.name or ""].append(RunningPod(pod.pod_name or "", pod.nodeName, digest, pod.startTime,
                                                        c.image, waiting))
                # When this digest was first seen running here: the earliest pod version's
                # first_seen (a pod's history starts when the collector first saw it).
                seen = pod.startTime or pod.first_seen
                if digest and seen and (digest not in first_seen or seen < first_seen[digest]):
                    first_seen[digest] = seen
        for name in sorted(set(template) | set(running)):
            pods_running = running.get(name, [])
            spec = template.get(name)
            image = (spec.image if spec else None) or next((p.image for p in pods_running if p.image), "")
            containers.append(
                RunningContainer(
                    cluster=first.cluster or "",
                    namespace=first.namespace or "",
                    workload_kind=first.workload_kind or "",
                    workload_name=first.workload_name or "",
                    container=name,
                    image=image,
                    pods=pods_running,
                    labels=workload.labels if workload else {},
                    annotations=workload.annotations if workload else {},
                    rollout_in_progress=_rollout_in_progress(workload, pods),
                    argocd_app=(workload.argocd_app if workload else None) or (pods[0].argocd_app if pods else None),
                    replicas=workload.replicas if workload else None,
                    strategy=workload.strategy if workload else None,
                    first_seen=first_seen,
                )
            )
    return containers
