"""The deployment-metadata documents: one per *version* of a workload or a pod.

Written by ``deployment_snapshots`` when an object's observed state changes (its ``last_seen``
refreshed while it does not), read by ``traceability_records``. Field names are Kubernetes' own
(``nodeName``, ``imageID``, ``restartCount``, ``observedGeneration``) so platform engineers
recognise them; see ``c2c_dagster/kubernetes/history.py`` for the history fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from c2c_dagster.documents.base import (
    KEYWORD,
    Document,
    boolean,
    date,
    flat,
    integer,
    keyword,
    long,
    mapped_dict,
    nested,
    stored,
    text,
)

WORKLOAD = "workload"
POD = "pod"

#: A workload's update strategy as its kind spells it (Deployments surge, StatefulSets partition):
#: kept as given, so a Deployment's document has no ``partition`` key.
STRATEGY_FIELDS = {"type": KEYWORD, "maxSurge": KEYWORD, "maxUnavailable": KEYWORD, "partition": KEYWORD}


@dataclass(slots=True)
class Replicas(Document):
    """Replica counts; DaemonSets' scheduled counts are mapped onto the same names."""

    desired: int | None = integer()
    current: int | None = integer()
    ready: int | None = integer()
    available: int | None = integer()
    updated: int | None = integer()


@dataclass(slots=True)
class Condition(Document):
    type: str | None = keyword()
    status: str | None = keyword()
    reason: str | None = keyword()
    message: str | None = text()


@dataclass(slots=True)
class ReplicaSetRef(Document):
    """A ReplicaSet of a Deployment that still runs pods (old and new ones during a rollout)."""

    name: str | None = keyword()
    revision: str | None = keyword()
    replicas: int | None = integer()
    pod_template_hash: str | None = stored(key="pod-template-hash")


@dataclass(slots=True)
class NodePlacement(Document):
    """The node a pod runs on, with the topology labels of that node."""

    name: str | None = stored()
    zone: str | None = keyword()
    region: str | None = keyword()
    instance_type: str | None = keyword()


@dataclass(slots=True)
class TemplateContainer(Document):
    """A container as a pod template (or a pod spec) asks for it."""

    type: str | None = keyword()  # init, regular, ephemeral
    name: str | None = keyword()
    image: str | None = keyword(lookup=True)  # as written in the spec
    image_repository: str | None = keyword()  # the spec's repository, as written
    image_tag: str | None = keyword(lookup=True)
    image_pin: str | None = keyword()  # digest, tag or latest
    image_digest: str | None = keyword(lookup=True)  # sha256:<hex>; at template level only when pinned


@dataclass(slots=True)
class PodContainer(TemplateContainer):
    """A pod's container with what its runtime reports: the digest it runs, its state, restarts."""

    imageID: str | None = keyword()  # noqa: N815 - Kubernetes' field name
    digest_source: str | None = keyword()  # imageID, or spec when only the spec's pin is known
    ready: bool | None = boolean()
    restartCount: int | None = integer()  # noqa: N815
    state: str | None = keyword()
    reason: str | None = keyword()
    exitCode: int | None = integer()  # noqa: N815
    last_state: str | None = keyword()
    last_state_reason: str | None = keyword()
    last_exitCode: int | None = integer()  # noqa: N815


@dataclass(slots=True)
class Version(Document):
    """What every version carries: whose it is, which run saw it, and its history fields."""

    doc_id: str | None = keyword(lookup=True)  # "<cluster>/<workload|pod>/<object>@<first_seen>"
    doc_type: str | None = keyword(lookup=True)  # "workload" or "pod"
    cluster: str | None = keyword(lookup=True)
    namespace: str | None = keyword(lookup=True)
    workload: str | None = keyword(lookup=True)  # "Kind/namespace/name"
    workload_kind: str | None = keyword()
    workload_name: str | None = keyword(lookup=True)
    revision: str | None = keyword()
    labels: dict[str, str] = flat()
    argocd_app: str | None = keyword(lookup=True)
    mode: str | None = keyword()  # scan or post-sync: the run that wrote this version
    last_mode: str | None = keyword()
    sync_event_id: str | None = keyword(lookup=True)
    last_sync_event_id: str | None = keyword()
    partial: bool | None = boolean()
    state_hash: str | None = keyword(lookup=True)
    snapshot_time: str | None = date()
    first_seen: str | None = date()
    last_seen: str | None = date()
    until: str | None = date()
    gone: bool | None = boolean()
    # Set while the version is open (cluster, cluster/namespace), cleared when closed: the
    # previous state of a cluster is one lookup.
    current: str | None = keyword(lookup=True)
    current_ns: str | None = keyword(lookup=True)

    @property
    def object_key(self) -> str:
        """The object versions belong to: cluster, document type and Kubernetes object."""
        raise NotImplementedError


@dataclass(slots=True)
class WorkloadVersion(Version):
    """A Deployment, StatefulSet or DaemonSet: replicas, strategy, rollout state, template images."""

    workload_uid: str | None = keyword()
    replicas: Replicas | None = nested(Replicas)
    strategy: dict[str, Any] | None = mapped_dict(STRATEGY_FIELDS)
    paused: bool | None = boolean()
    annotations: dict[str, str] = flat()
    generation: int | None = long()
    observedGeneration: int | None = long()  # noqa: N815
    rollout_complete: bool | None = boolean()
    conditions: list[Condition] = nested(Condition, many=True)
    replicasets: list[ReplicaSetRef] = nested(ReplicaSetRef, many=True)
    containers: list[TemplateContainer] = nested(TemplateContainer, many=True)
    pod_count: int | None = integer()

    @property
    def object_key(self) -> str:
        return f"{self.cluster}/workload/{self.workload}"


@dataclass(slots=True)
class PodVersion(Version):
    """A pod: its node, IPs, phase and readiness, its ReplicaSet, and every container's digest."""

    owner_resolved: bool | None = boolean()
    replicaset: str | None = keyword(lookup=True)
    pod_template_hash: str | None = keyword(key="pod-template-hash")
    pod_name: str | None = keyword(lookup=True)
    pod_uid: str | None = keyword()
    nodeName: str | None = keyword(lookup=True)  # noqa: N815
    node: NodePlacement | None = nested(NodePlacement)
    podIP: str | None = keyword()  # noqa: N815
    hostIP: str | None = keyword()  # noqa: N815
    phase: str | None = keyword()
    phase_reason: str | None = keyword()
    ready: bool | None = boolean()
    startTime: str | None = date()  # noqa: N815
    containers: list[PodContainer] = nested(PodContainer, many=True)

    @property
    def object_key(self) -> str:
        return f"{self.cluster}/pod/{self.namespace}/{self.pod_name}"


def version_from_document(doc: dict[str, Any]) -> WorkloadVersion | PodVersion:
    """The model of a deployment-metadata document, by its ``doc_type``."""
    return (PodVersion if doc.get("doc_type") == POD else WorkloadVersion).from_document(doc)


@dataclass(slots=True)
class ScanWatermark(Document):
    """What a full, complete scan of a cluster proved: every version of ``index`` still open after
    it was seen, unchanged, at ``scanned_at``. Unchanged versions are therefore not rewritten by
    such a scan; their ``last_seen`` is read against this (``kubernetes/history.py``)."""

    watermark_id: str = keyword(lookup=True, default="")  # "<cluster>/<index>"
    cluster: str | None = keyword(lookup=True)
    index: str | None = keyword()  # the index whose open documents it covers
    scan_id: str | None = keyword()  # the Dagster run of the scan, else its snapshot time
    scanned_at: str | None = date()
    mode: str | None = keyword()
