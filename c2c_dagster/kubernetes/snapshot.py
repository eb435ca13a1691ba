"""Join one cluster's slim objects into deployment-metadata documents. No API client, no store:
``snapshot_cluster`` reads through a ``PageLister`` and joins each pod page as it arrives.

Pods are joined to their workload in memory by ``ownerReferences`` (Pod -> ReplicaSet ->
Deployment, Pod -> Job -> CronJob, StatefulSet and DaemonSet direct; a pod with no owner is its
own workload of kind ``Pod``). Two document kinds come out, in Kubernetes' field names:

* ``workload``: one per Deployment, StatefulSet and DaemonSet — replicas, strategy, labels,
  annotations, revision, generation vs observedGeneration, conditions, template images;
* ``pod``: one per pod — node (with zone and instance type), IPs, phase, readiness, the
  ReplicaSet, and every container (init, regular, ephemeral) with its imageID and digest.

Splitting them keeps a rollout's replica counts from rewriting every pod's document, and keeps
the seed's per-pod lookups (by digest, pod, node) one document deep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from c2c_core.images import ImageReference, normalize_image_id, parse_image
from c2c_core.timeutil import iso_utc
from c2c_dagster.argocd.applications import APPLICATIONS, ArgoApps
from c2c_dagster.cluster.pager import DEFAULT_PAGE_SIZE, Collection, PageLister, Slim, collect
from c2c_dagster.documents.base import gc_paused
from c2c_dagster.documents.deployments import (
    POD,
    WORKLOAD,
    Condition,
    NodePlacement,
    PodContainer,
    PodVersion,
    Replicas,
    ReplicaSetRef,
    TemplateContainer,
    WorkloadVersion,
)
from c2c_dagster.kubernetes.collect import (
    DAEMONSETS,
    DEPLOYMENTS,
    JOBS,
    PODS,
    REPLICASETS,
    RESOURCE_TYPES,
    STATEFULSETS,
    slim_pod,
)

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"


@dataclass(frozen=True)
class Scope:
    """What a snapshot covers: everything, some namespaces, some workloads, or one Argo CD app."""

    namespaces: frozenset[str] = frozenset()
    workloads: frozenset[str] = frozenset()  # "Kind/namespace/name"
    argocd_app: str = ""  # "namespace/name"

    @classmethod
    def of(cls, namespaces: Iterable[str] = (), workloads: Iterable[str] = (), argocd_app: str = "") -> Scope:
        return cls(frozenset(namespaces), frozenset(workloads), argocd_app)

    @property
    def list_namespaces(self) -> frozenset[str]:
        """Namespaces to LIST in: the given ones, else those the named workloads live in."""
        if self.namespaces:
            return self.namespaces
        return frozenset(w.split("/", 2)[1] for w in self.workloads if w.count("/") == 2)

    def covers(self, namespace: str | None, workload: str, argocd_app: str | None) -> bool:
        if self.namespaces and namespace not in self.namespaces:
            return False
        if self.workloads and workload not in self.workloads:
            return False
        # An app known only by its tracking name (Applications unreadable) still matches by name.
        if self.argocd_app and argocd_app not in (self.argocd_app, self.argocd_app.split("/", 1)[-1]):
            return False
        return True

    @property
    def everything(self) -> bool:
        return not (self.namespaces or self.workloads or self.argocd_app)


@dataclass
class Snapshot:
    """The versions one snapshot observed (history fields not yet set) and what the join noticed."""

    cluster: str
    snapshot_time: str
    mode: str
    workloads: list[WorkloadVersion] = field(default_factory=list)
    pods: list[PodVersion] = field(default_factory=list)
    # Pods whose owner was not in the LIST results (deleted between the calls, or unreadable).
    orphaned_pods: list[str] = field(default_factory=list)

    @property
    def versions(self) -> list[WorkloadVersion | PodVersion]:
        return [*self.workloads, *self.pods]

    def containers(self) -> list[PodContainer]:
        return [c for pod in self.pods for c in pod.containers]


def workload_key(kind: str, namespace: str | None, name: str | None) -> str:
    return f"{kind}/{namespace}/{name}"


def _str_or_none(value: Any) -> str | None:
    # maxSurge/maxUnavailable are int-or-string ("25%"); one keyword type stores both.
    return None if value is None else str(value)


def _controller(refs: list[Slim]) -> Slim | None:
    return next((r for r in refs if r.get("controller")), refs[0] if refs else None)


@dataclass(frozen=True, slots=True)
class _ImageFields:
    """A spec image as a document reports it: the repository as written, tag, pin and digest; an
    image that is no valid reference (the API server takes any string) keeps its text and no more."""

    repository: str | None
    tag: str | None
    pin: str | None
    digest: str | None

    @classmethod
    def of(cls, text: str | None) -> _ImageFields:
        ref: ImageReference | None = parse_image(text)
        if ref is None:
            return cls(text or None, None, None, None)
        return cls(ref.written, ref.tag, ref.pin, ref.digest)


def _pod_containers(pod: Slim, once: Callable[[str | None], str | None]) -> list[PodContainer]:
    statuses = {(kind, s["name"]): s for kind, items in pod["statuses"].items() for s in items}
    containers = []
    for spec in pod["containers"]:
        image = _ImageFields.of(spec.get("image"))
        status = statuses.get((spec["type"], spec["name"]), {})
        state_name, state = next(iter((status.get("state") or {}).items()), (None, {}))
        last_name, last = next(iter((status.get("lastState") or {}).items()), (None, {}))
        running = normalize_image_id(status.get("imageID"))
        containers.append(PodContainer(
            type=spec["type"],
            name=once(spec["name"]),
            image=once(spec.get("image")),
            image_repository=image.repository,
            image_tag=image.tag,
            image_pin=image.pin,
            imageID=once(status.get("imageID")) or "",
            # The runtime's digest when known; a digest pinned in the spec is what it will pull.
            image_digest=running or image.digest,
            digest_source="imageID" if running else "spec" if image.digest else None,
            ready=bool(status.get("ready")),
            restartCount=int(status.get("restartCount") or 0),
            state=once(state_name),
            reason=(state or {}).get("reason"),
            exitCode=(state or {}).get("exitCode"),
            last_state=last_name,
            last_state_reason=(last or {}).get("reason"),
            last_exitCode=(last or {}).get("exitCode"),
        ))
    return containers


def _template_containers(workload: Slim) -> list[TemplateContainer]:
    containers = []
    for spec in workload.get("template_containers") or []:
        image = _ImageFields.of(spec.get("image"))
        containers.append(TemplateContainer(
            type=spec["type"], name=spec["name"], image=spec.get("image"),
            image_repository=image.repository, image_tag=image.tag, image_pin=image.pin,
            # Only a digest pinned in the spec is known at the workload level; pods carry the rest.
            image_digest=image.digest,
        ))
    return containers


def build_snapshot(
    collection: Collection,
    *,
    cluster: str,
    snapshot_time: datetime,
    mode: str = "scan",
    scope: Scope = Scope(),
    sync_event_id: str = "",
) -> Snapshot:
    """Documents for every workload and pod in ``scope``, joined by ownerReferences, from a
    collection that holds the slim pods (see ``snapshot_cluster`` for the streaming path)."""
    # Thousands of fresh, acyclic dicts: the cyclic GC would only slow the join (see gc_paused).
    with gc_paused():
        join = _Join(collection, cluster, snapshot_time, mode, scope, sync_event_id)
        pods = [v for v in map(join.pod, collection.of(PODS.key)) if v is not None]
        return join.finish(pods)


def snapshot_cluster(
    lister: PageLister,
    *,
    cluster: str,
    snapshot_time: datetime,
    mode: str = "scan",
    scope: Scope = Scope(),
    sync_event_id: str = "",
    server: str = "",
    page_size: int = DEFAULT_PAGE_SIZE,
) -> tuple[Snapshot, Collection]:
    """List the cluster and join it, streaming the pods: owners (nodes, workloads, ReplicaSets,
    Jobs, Applications) are listed and slimmed first, then every pod page is turned into pod
    documents as it arrives, so no slim pod outlives its page. Memory is then the pod documents
    themselves plus one page, not the documents plus a second, dict-shaped copy of every pod."""
    namespaces = scope.list_namespaces
    owners = tuple(t for t in RESOURCE_TYPES if t is not PODS)
    collection = collect(lister, server=server, namespaces=namespaces, page_size=page_size, types=owners)
    join = _Join(collection, cluster, snapshot_time, mode, scope, sync_event_id)
    collect(lister, server=server, namespaces=namespaces, page_size=page_size, types=(PODS,),
            into=collection, reduce=lambda raw: join.pod(slim_pod(raw)))
    pods: list[PodVersion] = collection.items.pop(PODS.key, [])
    with gc_paused():
        return join.finish(pods), collection


class _Join:
    """The owner indexes of one collection, and the pod and workload documents joined from them."""

    def __init__(
        self, collection: Collection, cluster: str, snapshot_time: datetime, mode: str, scope: Scope,
        sync_event_id: str,
    ):
        self.cluster, self.mode, self.scope = cluster, mode, scope
        self.when = iso_utc(snapshot_time)
        self.sync_event_id = sync_event_id or None
        self.apps = ArgoApps(collection.of(APPLICATIONS.key) if APPLICATIONS.key in collection.complete else None)
        self.nodes = {n["name"]: n for n in collection.of("nodes")}
        self.replicasets = {rs["uid"]: rs for rs in collection.of(REPLICASETS.key)}
        self.replicasets_by_name = {(rs["namespace"], rs["name"]): rs for rs in collection.of(REPLICASETS.key)}
        self.jobs = {j["uid"]: j for j in collection.of(JOBS.key)}
        self.workloads: dict[str, Slim] = {}
        for rtype in (DEPLOYMENTS, STATEFULSETS, DAEMONSETS):
            for w in collection.of(rtype.key):
                self.workloads[workload_key(w["kind"], w["namespace"], w["name"])] = w
        self.workload_apps = {
            key: self.apps.app_for(w["kind"], w["namespace"], w["name"], w) for key, w in self.workloads.items()
        }
        # ReplicaSets of each Deployment that still run pods: during a rollout, old and new.
        self.rs_of: dict[str, list[ReplicaSetRef]] = {}
        for rs in self.replicasets.values():
            ref = _controller(rs["ownerReferences"])
            if ref and ref["kind"] == "Deployment":
                self.rs_of.setdefault(workload_key("Deployment", rs["namespace"], ref["name"]), []).append(
                    ReplicaSetRef(rs["name"], rs.get("revision"), rs.get("replicas", 0),
                                  rs["labels"].get(POD_TEMPLATE_HASH))
                )
        # Values that repeat across the pods of a workload or node are kept once.
        self.shared: dict[str, str] = {}

    def _owner_of(self, pod: Slim) -> tuple[str, str, Slim | None, bool]:
        """(kind, name, owning workload object if listed, resolved) for a pod."""
        ref = _controller(pod["ownerReferences"])
        if ref is None:
            return "Pod", pod["name"], None, True
        ns = pod["namespace"]
        workloads = self.workloads
        if ref["kind"] == "ReplicaSet":
            rs = self.replicasets.get(ref["uid"]) or self.replicasets_by_name.get((ns, ref["name"]))
            if rs is not None:
                up = _controller(rs["ownerReferences"])
                if up is None:
                    return "ReplicaSet", rs["name"], None, True
                key = workload_key(up["kind"], ns, up["name"])
                return up["kind"], up["name"], workloads.get(key), key in workloads or up["kind"] != "Deployment"
            # ReplicaSet not listed (deleted meanwhile, or unreadable): a Deployment's RS is
            # named <deployment>-<pod-template-hash>, which the pod carries as a label.
            template_hash = pod["labels"].get(POD_TEMPLATE_HASH)
            if template_hash and ref["name"].endswith(f"-{template_hash}"):
                name = ref["name"][: -len(template_hash) - 1]
                key = workload_key("Deployment", ns, name)
                if key in workloads:
                    return "Deployment", name, workloads[key], True
            return "ReplicaSet", ref["name"], None, False
        if ref["kind"] == "Job":
            job = self.jobs.get(ref["uid"])
            if job is not None:
                up = _controller(job["ownerReferences"])
                if up is not None and up["kind"] == "CronJob":
                    return "CronJob", up["name"], None, True
                return "Job", job["name"], None, True
            return "Job", ref["name"], None, False
        key = workload_key(ref["kind"], ns, ref["name"])
        if ref["kind"] in ("StatefulSet", "DaemonSet"):
            return ref["kind"], ref["name"], workloads.get(key), key in workloads
        # Another controller (an operator's CRD): named as its owner reference says.
        return ref["kind"], ref["name"], None, True

    def _once(self, value: str | None) -> str | None:
        return None if value is None else self.shared.setdefault(value, value)

    def pod(self, pod: Slim) -> PodVersion | None:
        """The pod's document, or None when it lies outside the snapshot's scope. Pure given the
        owner indexes, so a LIST restarted after a 410 can simply drop what it had."""
        kind, name, owner, resolved = self._owner_of(pod)
        once = self._once
        key = once(workload_key(kind, pod["namespace"], name))
        app = self.workload_apps.get(key) if owner is not None else None
        app = app or self.apps.app_for("Pod", pod["namespace"], pod["name"], pod)
        if not self.scope.covers(pod["namespace"], key, app):
            return None
        node = self.nodes.get(pod.get("nodeName") or "")
        ref = _controller(pod["ownerReferences"])
        replicaset = ref["name"] if ref and ref["kind"] == "ReplicaSet" else None
        rs = self.replicasets_by_name.get((pod["namespace"], replicaset)) if replicaset else None
        return PodVersion(
            cluster=self.cluster,
            mode=self.mode,
            sync_event_id=self.sync_event_id,
            doc_type=POD,
            namespace=once(pod["namespace"]),
            workload_kind=kind,
            workload_name=once(name),
            workload=key,
            owner_resolved=resolved,
            replicaset=once(replicaset),
            pod_template_hash=once(pod["labels"].get(POD_TEMPLATE_HASH)),
            revision=rs.get("revision") if rs else None,
            pod_name=pod["name"],
            pod_uid=pod["uid"],
            nodeName=once(pod.get("nodeName")),
            node=NodePlacement(
                name=once(pod.get("nodeName")),
                zone=node.get("zone") if node else None,
                region=node.get("region") if node else None,
                instance_type=node.get("instance_type") if node else None,
            ),
            podIP=pod.get("podIP"),
            hostIP=once(pod.get("hostIP")),
            phase=once(pod.get("phase")),
            phase_reason=pod.get("reason"),
            ready=pod.get("ready", False),
            startTime=pod.get("startTime"),
            # Pods of one ReplicaSet repeat their labels: keys and values are kept once.
            labels={once(k): once(v) for k, v in pod["labels"].items()},
            containers=_pod_containers(pod, once),
            argocd_app=app,
        )

    def finish(self, pods: list[PodVersion]) -> Snapshot:
        """The snapshot of these pods (already joined) and of the workloads in scope."""
        snap = Snapshot(cluster=self.cluster, snapshot_time=self.when, mode=self.mode, pods=pods)
        snap.orphaned_pods = [f"{p.namespace}/{p.pod_name}" for p in pods if not p.owner_resolved]
        pod_counts: dict[str, int] = {}
        for p in pods:
            pod_counts[p.workload or ""] = pod_counts.get(p.workload or "", 0) + 1
        for key, w in self.workloads.items():
            app = self.workload_apps[key]
            if not self.scope.covers(w["namespace"], key, app):
                continue
            snap.workloads.append(self._workload(key, w, app, pod_counts.get(key, 0)))
        return snap

    def _workload(self, key: str, w: Slim, app: str | None, pod_count: int) -> WorkloadVersion:
        replicas = w["replicas"]
        generation, observed = w.get("generation"), w.get("observedGeneration")
        revision = w["annotations"].get(REVISION_ANNOTATION) if w["kind"] == "Deployment" else w.get("updateRevision")
        rollout_done = (
            observed is not None and generation is not None and observed >= generation
            and replicas["updated"] == replicas["desired"] == replicas["available"]
            and replicas["current"] == replicas["desired"]
        )
        return WorkloadVersion(
            cluster=self.cluster,
            mode=self.mode,
            sync_event_id=self.sync_event_id,
            doc_type=WORKLOAD,
            namespace=w["namespace"],
            workload_kind=w["kind"],
            workload_name=w["name"],
            workload=key,
            workload_uid=w["uid"],
            replicas=Replicas(**{k: replicas[k] for k in ("desired", "current", "ready", "available", "updated")}),
            strategy={k: _str_or_none(v) for k, v in w["strategy"].items()},
            paused=w.get("paused", False),
            labels=w["labels"],
            annotations=w["annotations"],
            revision=revision,
            generation=generation,
            observedGeneration=observed,
            rollout_complete=rollout_done,
            conditions=[Condition(c["type"], c["status"], c["reason"], c["message"]) for c in w["conditions"]],
            replicasets=sorted(
                (rs for rs in self.rs_of.get(key, []) if rs.replicas), key=lambda rs: rs.name or ""
            ),
            containers=_template_containers(w),
            pod_count=pod_count,
            argocd_app=app,
        )
