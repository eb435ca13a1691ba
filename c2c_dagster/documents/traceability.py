"""The traceability-metadata record (what runs, joined to the build that made it), the flags it
carries (``Flag``) and the release-events document (every change of the digest a workload
container runs).

Written by ``traceability_records``; read by ``c2c trace``, the exporter and the dashboards.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from c2c_dagster.documents.base import Document, boolean, date, keyword, long, mapped_dict, nested
from c2c_dagster.documents.deployments import STRATEGY_FIELDS, Replicas

#: What makes a workload container one: its records (one per running digest) share it.
CONTAINER_KEY = ("cluster", "namespace", "workload_kind", "workload_name", "container_name")


class Flag(StrEnum):
    """What cannot be trusted about a record (its ``flags``): each value's meaning.
    ``traceability/correlate.py:flags_for`` decides which a record carries."""

    #: No build produced the running digest (none of the digest keys matched), e.g. an image
    #: pushed by hand. A record can still name a build found by tag, build id or commit.
    UNTRACEABLE = "untraceable"
    #: The spec's tag is one CI built for this repository, but CI recorded another digest for it
    #: than the one running: the tag moved, or the node pulled something else.
    DIGEST_MISMATCH = "digest_mismatch"
    #: Pods of one workload container run more than one digest while no rollout is in progress
    #: (a Deployment's rollout is in progress while observedGeneration lags generation or
    #: updated/available replicas lag desired; the snapshot decides and passes it in).
    MIXED_VERSIONS = "mixed_versions"
    #: The spec names a tag (no digest) that was observed pointing at more than one image: across
    #: builds, pods (now or earlier) and registry answers (rules in ``tags.py``). The tag did move,
    #: so which bytes a new pod gets depends on when it pulls.
    TAG_MOVED = "tag_moved"
    #: Advice, off by default (``advise_digest_pinning``): the spec names a tag (or nothing, i.e.
    #: ``latest``) instead of a digest.
    NOT_PINNED = "not_pinned"
    #: The matched build is a failed build: its result is FAILURE, NOT_BUILT or ABORTED
    #: (``c2c_core.builds.is_failed_build``; UNSTABLE, tests failed in a build that ran to its
    #: end, is not one).
    FAILED_BUILD_DEPLOYED = "failed_build_deployed"
    #: The Argo CD app's last sync declared images, and neither the spec image nor the running
    #: digest is among them.
    DRIFT = "drift"


@dataclass(slots=True)
class RecordPod(Document):
    """A pod running the record's digest, and where."""

    name: str | None = keyword(lookup=True)
    nodeName: str | None = keyword()  # noqa: N815 - Kubernetes' field name
    startTime: str | None = date()  # noqa: N815


@dataclass(slots=True)
class TraceabilityRecord(Document):
    """One container of one workload running one digest (or, ``pending``, not known yet):
    the build and commits behind it, how they were matched, since when it runs, the Argo CD
    sync that rolled it out, and what cannot be trusted (``flags``)."""

    record_id: str = keyword(lookup=True, default="")  # cluster/namespace/kind/name/container/digest
    cluster: str | None = keyword(lookup=True)
    namespace: str | None = keyword(lookup=True)
    workload_kind: str | None = keyword()
    workload_name: str | None = keyword(lookup=True)
    container_name: str | None = keyword()
    image: str | None = keyword()  # what the pods' spec asks for
    image_tag: str | None = keyword(lookup=True)
    image_digest: str | None = keyword(lookup=True)
    pods: list[RecordPod] = nested(RecordPod, many=True)
    replicas: Replicas | None = nested(Replicas)
    strategy: dict[str, Any] | None = mapped_dict(STRATEGY_FIELDS)
    build_id: str | None = keyword(lookup=True)
    job_name: str | None = keyword()
    build_number: int | None = long()
    build_status: str | None = keyword()
    build_url: str | None = keyword()
    built_image_tag: str | None = keyword()
    commit_ids: list[str] = keyword(lookup=True, factory=list)
    authors: list[str] = keyword(factory=list)
    argocd_app: str | None = keyword()
    argocd_revision: str | None = keyword()  # the config repo's revision Argo CD synced, never the app commit
    match_key: str | None = keyword()
    match_confidence: str | None = keyword()
    first_seen: str | None = date()  # when this digest started running there (the release time)
    image_class: str | None = keyword(lookup=True)  # internal (CI builds it) or external (third-party)
    digest_state: str | None = keyword(lookup=True)  # known, or pending while no runtime reported a digest
    pending_reason: str | None = keyword()  # kubelet's waiting reason then (ContainerCreating, ...)
    image_revision: str | None = keyword()  # the image's org.opencontainers.image.revision label, when asked
    tag_digests: list[str] | None = keyword()  # the images a moved tag was seen pointing at
    flags: list[str] = keyword(lookup=True, factory=list)
    # Signed build provenance (c2c_dagster/provenance): verified, unsigned or invalid, and why;
    # None when the image policy trusts no key (nothing looked up).
    provenance: str | None = keyword(lookup=True)
    provenance_reason: str | None = keyword()
    # What the digest's attestations proved before the commit was compared (signed, none or
    # rejected), by which key and builder, naming which commit, attached at which digest, under
    # which trust (a fingerprint), when: the per-digest cache a re-scan reads instead of the registry.
    provenance_evidence: str | None = keyword()
    provenance_key: str | None = keyword()
    provenance_builder: str | None = keyword()
    provenance_commit: str | None = keyword()
    provenance_found_at: str | None = keyword()
    provenance_policy: str | None = keyword()
    provenance_checked_at: str | None = date()
    updated_at: str | None = date()
    # False once the digest no longer runs there: the record stays as history.
    running: bool | None = boolean()
    last_seen: str | None = date()

    @property
    def container_key(self) -> tuple[str | None, ...]:
        return tuple(getattr(self, name) for name in CONTAINER_KEY)

    @property
    def is_running(self) -> bool:
        """Records written before ``running`` existed count as running."""
        return self.running is not False


@dataclass(slots=True)
class ReleaseEvent(Document):
    """A workload container started running another digest: the builds on both sides, whether it
    went back to a digest that ran there before, and the Argo CD sync behind it."""

    event_id: str = keyword(lookup=True, default="")
    cluster: str | None = keyword(lookup=True)
    namespace: str | None = keyword()
    workload_kind: str | None = keyword()
    workload_name: str | None = keyword(lookup=True)
    container_name: str | None = keyword()
    at: str | None = date()
    from_digest: str | None = keyword()
    to_digest: str | None = keyword(lookup=True)
    from_build_id: str | None = keyword()
    to_build_id: str | None = keyword(lookup=True)
    to_commit_ids: list[str] = keyword(lookup=True, factory=list)
    to_build_time: str | None = date()
    rollback: bool | None = boolean()
    argocd_app: str | None = keyword(lookup=True)
    argocd_revision: str | None = keyword()
    initiated_by: str | None = keyword()
