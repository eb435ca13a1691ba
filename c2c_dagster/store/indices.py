"""The seed's OpenSearch indices (section 7.2) with explicit mappings, shared by both stores.

Each index names its document-id field, its time field and the keyword fields that can be
looked up; the OpenSearch store turns this into an index template, the embedded store into
lookup keys, so the two answer the same queries the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KEYWORD = {"type": "keyword"}
DATE = {"type": "date"}
LONG = {"type": "long"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
DOUBLE = {"type": "double"}
TEXT = {"type": "text"}
# Labels and annotations carry arbitrary keys; flat_object indexes them without adding a
# mapping field per key (a cluster's labels would otherwise explode the mapping).
FLAT = {"type": "flat_object"}


@dataclass(frozen=True)
class IndexSpec:
    """One index: its name, id and time fields, and the explicit field mapping."""

    name: str
    id_field: str
    time_field: str
    fields: dict[str, dict[str, Any]]
    # Dot paths looked up by ``MetadataStore.find`` (must be keyword fields).
    lookup_fields: tuple[str, ...] = field(default=())

    def mapping(self) -> dict[str, Any]:
        """The OpenSearch ``mappings`` body: dot paths unfolded into nested ``properties``."""
        properties: dict[str, Any] = {}
        for path, spec in sorted(self.fields.items()):
            node = properties
            *parents, leaf = path.split(".")
            for part in parents:
                node = node.setdefault(part, {"properties": {}})["properties"]
            node[leaf] = dict(spec)
        # Unknown fields are kept in _source but not indexed: a new field is a mapping change
        # made on purpose, never an accident from one odd payload.
        return {"dynamic": False, "properties": properties}


CI_BUILD_METADATA = IndexSpec(
    name="ci-build-metadata",
    id_field="build_id",
    time_field="timestamp",
    fields={
        "build_id": KEYWORD,
        "job_name": KEYWORD,
        "build_number": LONG,
        "branch": KEYWORD,
        "image_name": KEYWORD,
        "image_tag": KEYWORD,
        "image_digest": KEYWORD,
        "platform_digests.platform": KEYWORD,
        "platform_digests.digest": KEYWORD,
        "commits.commit_id": KEYWORD,
        "commits.author": KEYWORD,
        "commits.email": KEYWORD,
        "commits.message": TEXT,
        "commits.timestamp": DATE,  # the committer date: where a commit's lead time starts
        "authors": KEYWORD,
        "build_status": KEYWORD,
        "timestamp": DATE,
        "duration_ms": LONG,
        "repo_url": KEYWORD,
        "build_url": KEYWORD,
        "commit_range.from": KEYWORD,
        "commit_range.to": KEYWORD,
        "source_commit": KEYWORD,
        # Which rule chose source_commit among the build's git checkouts (see jenkins/transform.py).
        "source_commit_rule": KEYWORD,
        "digest_missing": BOOLEAN,
        "metadata_source": KEYWORD,
        "ingest_problems": TEXT,
        "ingested_at": DATE,
    },
    lookup_fields=(
        "build_id",
        "job_name",
        "image_name",
        "image_tag",
        "image_digest",
        "platform_digests.digest",
        "commits.commit_id",
        "source_commit",
        "build_status",
    ),
)

# One document per *version* of a workload or a pod (see c2c_dagster/kubernetes/history.py):
# written when the observed state changes, its last_seen refreshed by every unchanged scan.
DEPLOYMENT_METADATA = IndexSpec(
    name="deployment-metadata",
    id_field="doc_id",
    time_field="snapshot_time",
    fields={
        "doc_id": KEYWORD,
        "doc_type": KEYWORD,  # "workload" or "pod"
        "cluster": KEYWORD,
        "namespace": KEYWORD,
        "workload": KEYWORD,  # "Kind/namespace/name"
        "workload_kind": KEYWORD,
        "workload_name": KEYWORD,
        "workload_uid": KEYWORD,
        "owner_resolved": BOOLEAN,
        "replicaset": KEYWORD,
        "pod-template-hash": KEYWORD,
        "revision": KEYWORD,
        "generation": LONG,
        "observedGeneration": LONG,
        "rollout_complete": BOOLEAN,
        "paused": BOOLEAN,
        "pod_name": KEYWORD,
        "pod_uid": KEYWORD,
        "nodeName": KEYWORD,
        "node.zone": KEYWORD,
        "node.region": KEYWORD,
        "node.instance_type": KEYWORD,
        "podIP": KEYWORD,
        "hostIP": KEYWORD,
        "phase": KEYWORD,
        "phase_reason": KEYWORD,
        "ready": BOOLEAN,
        "startTime": DATE,
        "containers.type": KEYWORD,  # init, regular, ephemeral
        "containers.name": KEYWORD,
        "containers.image": KEYWORD,
        "containers.image_repository": KEYWORD,
        "containers.imageID": KEYWORD,
        "containers.image_digest": KEYWORD,
        "containers.digest_source": KEYWORD,
        "containers.image_tag": KEYWORD,
        "containers.image_pin": KEYWORD,  # digest, tag, latest
        "containers.ready": BOOLEAN,
        "containers.restartCount": INTEGER,
        "containers.state": KEYWORD,
        "containers.reason": KEYWORD,
        "containers.exitCode": INTEGER,
        "containers.last_state": KEYWORD,
        "containers.last_state_reason": KEYWORD,
        "containers.last_exitCode": INTEGER,
        "replicas.desired": INTEGER,
        "replicas.current": INTEGER,
        "replicas.ready": INTEGER,
        "replicas.available": INTEGER,
        "replicas.updated": INTEGER,
        "replicasets.name": KEYWORD,
        "replicasets.revision": KEYWORD,
        "replicasets.replicas": INTEGER,
        "strategy.type": KEYWORD,
        "strategy.maxSurge": KEYWORD,
        "strategy.maxUnavailable": KEYWORD,
        "strategy.partition": KEYWORD,
        "conditions.type": KEYWORD,
        "conditions.status": KEYWORD,
        "conditions.reason": KEYWORD,
        "conditions.message": TEXT,
        "pod_count": INTEGER,
        "labels": FLAT,
        "annotations": FLAT,
        "argocd_app": KEYWORD,
        "mode": KEYWORD,  # scan or post-sync: the run that wrote this version
        "last_mode": KEYWORD,
        "sync_event_id": KEYWORD,
        "last_sync_event_id": KEYWORD,
        "partial": BOOLEAN,
        "state_hash": KEYWORD,
        "snapshot_time": DATE,
        "first_seen": DATE,
        "last_seen": DATE,
        "until": DATE,
        "gone": BOOLEAN,
        # Set while the version is open (cluster, cluster/namespace), cleared when closed:
        # the previous state of a cluster is one lookup.
        "current": KEYWORD,
        "current_ns": KEYWORD,
    },
    lookup_fields=(
        "doc_id",
        "doc_type",
        "cluster",
        "namespace",
        "workload",
        "workload_name",
        "pod_name",
        "nodeName",
        "replicaset",
        "containers.image_digest",
        "containers.image_tag",
        "containers.image",
        "argocd_app",
        "sync_event_id",
        "state_hash",
        "current",
        "current_ns",
    ),
)

TRACEABILITY_METADATA = IndexSpec(
    name="traceability-metadata",
    id_field="record_id",
    time_field="updated_at",
    fields={
        "record_id": KEYWORD,
        "cluster": KEYWORD,
        "namespace": KEYWORD,
        "workload_kind": KEYWORD,
        "workload_name": KEYWORD,
        "container_name": KEYWORD,
        "image": KEYWORD,
        "image_tag": KEYWORD,
        "image_digest": KEYWORD,
        "build_id": KEYWORD,
        "job_name": KEYWORD,
        "build_number": LONG,
        "build_status": KEYWORD,
        "build_url": KEYWORD,
        "commit_ids": KEYWORD,
        "authors": KEYWORD,
        "pods.name": KEYWORD,
        "pods.nodeName": KEYWORD,
        "argocd_app": KEYWORD,
        "argocd_revision": KEYWORD,
        "match_key": KEYWORD,
        "match_confidence": KEYWORD,
        "flags": KEYWORD,
        "built_image_tag": KEYWORD,
        "image_class": KEYWORD,  # internal (CI builds it) or external (third-party)
        "digest_state": KEYWORD,  # known, or pending while the runtime has not reported a digest
        "pending_reason": KEYWORD,  # kubelet's waiting reason then (ContainerCreating, ImagePullBackOff, ...)
        "image_revision": KEYWORD,  # the image's org.opencontainers.image.revision label, when asked
        "tag_digests": KEYWORD,  # the images a moved tag was seen pointing at
        "pods.startTime": DATE,
        "replicas.desired": INTEGER,
        "replicas.ready": INTEGER,
        "replicas.available": INTEGER,
        "replicas.updated": INTEGER,
        "strategy.type": KEYWORD,
        # False once the digest no longer runs there: the record stays as history.
        "running": BOOLEAN,
        "first_seen": DATE,
        "last_seen": DATE,
        "updated_at": DATE,
    },
    lookup_fields=(
        "record_id",
        "cluster",
        "namespace",
        "workload_name",
        "image_digest",
        "image_tag",
        "build_id",
        "commit_ids",
        "pods.name",
        "flags",
        "image_class",
        "digest_state",
    ),
)

ARGOCD_SYNC_EVENTS = IndexSpec(
    name="argocd-sync-events",
    id_field="event_id",
    time_field="finished_at",
    fields={
        "event_id": KEYWORD,
        # Where the Application object lives (the event id's cluster) vs. where it deploys to
        # (``cluster``, absent when the destination is not a configured cluster).
        "argocd_cluster": KEYWORD,
        "cluster": KEYWORD,
        "app": KEYWORD,
        "app_namespace": KEYWORD,
        "app_uid": KEYWORD,
        "project": KEYWORD,
        "destination_server": KEYWORD,
        "destination_name": KEYWORD,
        "destination_namespace": KEYWORD,
        # One value for a single-source app, several for a multi-source one.
        "repo_url": KEYWORD,
        "source_paths": KEYWORD,
        "revision": KEYWORD,
        "revisions": KEYWORD,
        "history_id": LONG,
        "phase": KEYWORD,
        "sync_status": KEYWORD,
        "health": KEYWORD,
        "initiated_by": KEYWORD,
        "automated": BOOLEAN,
        "images": KEYWORD,
        "resources.group": KEYWORD,
        "resources.kind": KEYWORD,
        "resources.namespace": KEYWORD,
        "resources.name": KEYWORD,
        "resources.status": KEYWORD,
        "resources.hook_type": KEYWORD,
        "message": TEXT,
        "retry_count": INTEGER,
        "started_at": DATE,
        "finished_at": DATE,
        "deployed_at": DATE,
        "recorded_at": DATE,
        # The post-sync snapshot: the sensor's run key, or the run a PostSync hook launched.
        "snapshot_run_key": KEYWORD,
        "snapshot_run_id": KEYWORD,
        "ingest_problems": TEXT,
    },
    lookup_fields=(
        "event_id",
        "argocd_cluster",
        "cluster",
        "app",
        "repo_url",
        "revision",
        "images",
        "phase",
        "destination_namespace",
    ),
)

RELEASE_EVENTS = IndexSpec(
    name="release-events",
    id_field="event_id",
    time_field="at",
    fields={
        "event_id": KEYWORD,
        "cluster": KEYWORD,
        "namespace": KEYWORD,
        "workload_kind": KEYWORD,
        "workload_name": KEYWORD,
        "container_name": KEYWORD,
        "at": DATE,
        "from_digest": KEYWORD,
        "to_digest": KEYWORD,
        "from_build_id": KEYWORD,
        "to_build_id": KEYWORD,
        "to_commit_ids": KEYWORD,
        "to_build_time": DATE,
        "rollback": BOOLEAN,
        "argocd_app": KEYWORD,
        "argocd_revision": KEYWORD,
        "initiated_by": KEYWORD,
    },
    lookup_fields=("event_id", "cluster", "workload_name", "to_digest", "to_build_id", "to_commit_ids", "argocd_app"),
)

# What an ingestion could not read and had nothing else to record it on: a Jenkins job whose
# builds could not be listed, a folder that did not answer or lies beyond the depth bound. (A
# problem with one build is on that build's ci-build-metadata document, in ingest_problems.)
# One document per problem, upserted each time it is seen; ``open`` turns false once it is gone.
INGEST_PROBLEMS = IndexSpec(
    name="ingest-problems",
    id_field="problem_id",
    time_field="last_seen",
    fields={
        "problem_id": KEYWORD,  # "<source>/<kind>/<subject>"
        "source": KEYWORD,  # "jenkins"
        "kind": KEYWORD,  # job_unreadable, folder_unreadable, folder_beyond_depth, build_entry_invalid
        "subject": KEYWORD,  # the job or folder full name
        "reason": TEXT,
        "url": KEYWORD,
        "open": BOOLEAN,
        "first_seen": DATE,
        "last_seen": DATE,
        "resolved_at": DATE,
    },
    lookup_fields=("problem_id", "source", "kind", "subject"),
)

# DORA's four keys per scope and UTC day (c2c_dagster/delivery/metrics.py has the definitions):
# one document per scope ("cluster_app", "cluster", "app", "all"; "*" stands for every cluster or
# app) and day, id "<scope>/<cluster>/<app>/<day>", so a re-run or a backfill overwrites. The lead
# times and recovery times are kept per commit and per failure (aligned lists), so a period's
# median and p90 are computed exactly, never averaged from daily medians.
DELIVERY_METRICS = IndexSpec(
    name="delivery-metrics",
    id_field="row_id",
    time_field="day",
    fields={
        "row_id": KEYWORD,
        "scope": KEYWORD,
        "cluster": KEYWORD,
        "app": KEYWORD,
        "day": DATE,
        "observed_since": DATE,  # the first scan of the cluster (the earliest, for "*")
        "namespaces": KEYWORD,
        "workloads": KEYWORD,  # namespace/Kind/name of the workloads deployed that day
        "deployments": INTEGER,
        "rollbacks": INTEGER,
        "fix_deployments": INTEGER,
        "untraceable_deployments": INTEGER,
        "external_deployments": INTEGER,
        "failed_deployments": INTEGER,
        "change_failure_rate": DOUBLE,
        "failures.deployment": KEYWORD,
        "failures.signals": KEYWORD,  # rolled_back, fix_release, sync_failed, sync_degraded
        "lead_time_commits": KEYWORD,
        "lead_time_seconds": DOUBLE,  # aligned with lead_time_commits
        "lead_time_count": INTEGER,
        "lead_time_median_seconds": DOUBLE,
        "lead_time_p90_seconds": DOUBLE,
        "commits_without_time": INTEGER,
        "recovered_deployments": KEYWORD,
        "recovery_seconds": DOUBLE,  # aligned with recovered_deployments
        "recovery_count": INTEGER,
        "recovery_median_seconds": DOUBLE,
    },
    lookup_fields=("row_id", "scope", "cluster", "app"),
)

ALL_INDICES: tuple[IndexSpec, ...] = (
    CI_BUILD_METADATA,
    DEPLOYMENT_METADATA,
    TRACEABILITY_METADATA,
    ARGOCD_SYNC_EVENTS,
    RELEASE_EVENTS,
    INGEST_PROBLEMS,
    DELIVERY_METRICS,
)
INDICES_BY_NAME: dict[str, IndexSpec] = {spec.name: spec for spec in ALL_INDICES}


def index_spec(name: str) -> IndexSpec:
    """The spec of a known index; unknown names are a programming error worth a clear message."""
    try:
        return INDICES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown c2c index {name!r}; known: {sorted(INDICES_BY_NAME)}") from None
