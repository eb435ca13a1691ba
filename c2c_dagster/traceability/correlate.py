"""The join of running containers to CI builds, ranked by the seed's correlation keys (6.5).

Pure: no I/O. ``BuildIndex`` is built once from every ci-build-metadata document (dicts keyed by
digest, tag, build id and commit), so each running container is matched with a few dict
lookups instead of a query per container. Keys, strongest first:

1. image digest: the running digest is a build's ``image_digest`` or one of its
   ``platform_digests`` (a node runs one platform's manifest of a multi-arch index); or, the
   other way round, the running digest is an index whose platform manifests CI recorded;
2. image tag: the spec's tag is a tag CI built for the same repository;
3. build id: a ``c2c.io/build-id`` label or annotation on the workload or pod;
4. commit: the image's ``org.opencontainers.image.revision`` label (read from the registry) or a
   ``c2c.io/commit`` annotation. (Owner references, the seed's last secondary key, tie pods to
   their workload in the snapshot; they carry nothing that names a build.)

What each flag means is documented on ``Flag`` (``documents/traceability.py``), how it is decided
in ``flags_for``. Two kinds of record are judged differently:
an **external** image (outside the internal registries, see ``image_policy.py``) is never
``untraceable``; a **pending** container (its runtime has not reported a digest yet, e.g. the
image is still being pulled) gets no flags at all until its digest is known.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from c2c_core.builds import FAILED_RESULTS
from c2c_core.images import ImageReference, parse_image
from c2c_dagster.documents.base import gc_paused
from c2c_dagster.documents.builds import BuildDocument
from c2c_dagster.documents.deployments import Replicas
from c2c_dagster.documents.traceability import Flag, RecordPod, TraceabilityRecord

BUILD_ID_KEYS = ("c2c.io/build-id", "jenkins.io/build-id")
COMMIT_KEYS = ("c2c.io/commit", "org.opencontainers.image.revision")


class MatchKey(StrEnum):
    DIGEST = "image_digest"
    PLATFORM_DIGEST = "platform_digest"
    INDEX_DIGEST = "index_digest"
    TAG = "image_tag"
    BUILD_ID = "build_id"
    COMMIT = "commit_id"
    NONE = "none"


#: How sure a match is, by key: a digest identifies the bytes; a tag can move; a build id or
#: commit names the source but not which image of it runs.
CONFIDENCE = {
    MatchKey.DIGEST: "exact",
    MatchKey.PLATFORM_DIGEST: "exact",
    MatchKey.INDEX_DIGEST: "exact",
    MatchKey.TAG: "tag",
    MatchKey.BUILD_ID: "build_id",
    MatchKey.COMMIT: "commit",
    MatchKey.NONE: "none",
}


@dataclass(frozen=True)
class RunningPod:
    name: str
    node: str | None
    digest: str | None  # normalized running digest of the container in this pod (None while pulling)
    started_at: str | None = None
    # The image this pod's spec asks for; during a rollout old pods still name the old one.
    image: str | None = None
    # Why the container does not run yet (kubelet's waiting reason, e.g. ContainerCreating,
    # ErrImagePull, ImagePullBackOff; or the pod's phase when it has no container status yet).
    waiting_reason: str | None = None


@dataclass
class RunningContainer:
    """One container of one workload, with the pods running it (from deployment_snapshots)."""

    cluster: str
    namespace: str
    workload_kind: str
    workload_name: str
    container: str
    image: str  # as the workload's pod template requests it (pods may differ mid-rollout)
    pods: list[RunningPod]
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    rollout_in_progress: bool = False
    argocd_app: str | None = None
    replicas: Replicas | None = None
    strategy: Mapping[str, Any] | None = None
    first_seen: Mapping[str, str] = field(default_factory=dict)  # digest -> first time seen running


@dataclass(frozen=True)
class SyncInfo:
    """What Argo CD's last sync of the workload's app said (from argocd-sync-events)."""

    app: str
    revision: str | None
    images: tuple[str, ...] = ()
    finished_at: str | None = None
    initiated_by: str | None = None


class BuildIndex:
    """Every build, findable by digest (incl. platform digests), repository+tag, id and commit."""

    def __init__(self, builds: Iterable[BuildDocument] = ()):
        self.by_digest: dict[str, list[BuildDocument]] = defaultdict(list)
        self.by_platform_digest: dict[str, list[BuildDocument]] = defaultdict(list)
        self.by_tag: dict[tuple[str, str], list[BuildDocument]] = defaultdict(list)
        self.by_id: dict[str, BuildDocument] = {}
        self.by_commit: dict[str, list[BuildDocument]] = defaultdict(list)
        self.add(builds)

    @classmethod
    def of_documents(cls, docs: Iterable[Mapping[str, Any]]) -> BuildIndex:
        """The index of ci-build-metadata documents as the store returns them."""
        return cls(BuildDocument.from_documents(docs))

    def add(self, builds: Iterable[BuildDocument]) -> None:
        """Index more builds; one already indexed (same id) is left as it is."""
        with gc_paused():  # ~10^5 list entries and no cycles: see gc_paused
            self._add(builds)

    def _add(self, builds: Iterable[BuildDocument]) -> None:
        # Runs once per build of the whole history (10^5): the dicts are bound to locals and each
        # key is looked at only when the build has one.
        by_id, by_digest, by_platform = self.by_id, self.by_digest, self.by_platform_digest
        by_tag, by_commit = self.by_tag, self.by_commit
        for build in builds:
            if build.build_id in by_id:
                continue
            by_id[build.build_id] = build
            if build.image_digest:
                by_digest[build.image_digest].append(build)
            for platform in build.platform_digests:
                if platform.digest:
                    by_platform[platform.digest].append(build)
            if build.image_tag:
                ref = parse_image(build.image_name)
                if ref is not None:
                    by_tag[(ref.name, build.image_tag)].append(build)
            commits = [c.commit_id for c in build.commits if c.commit_id]
            if build.source_commit and build.source_commit not in commits:
                commits.append(build.source_commit)
            for commit in commits:
                by_commit[commit].append(build)

    def __len__(self) -> int:
        return len(self.by_id)


@dataclass
class Match:
    build: BuildDocument | None
    key: MatchKey

    @property
    def confidence(self) -> str:
        return CONFIDENCE[self.key]


def _pick(builds: Sequence[BuildDocument], spec_tag: str | None) -> BuildDocument:
    """Among builds sharing a key: the one CI tagged as the spec asks, then a SUCCESS one (the
    cleanest result, ahead of an UNSTABLE one too), then the earliest (a retag re-pushes the same
    digest; the first build produced it)."""
    if len(builds) == 1:  # the common case: one build per digest
        return builds[0]
    return min(
        builds,
        key=lambda b: (b.image_tag != spec_tag, b.build_status != "SUCCESS", b.timestamp or "", b.build_id),
    )


def match_build(
    container: RunningContainer,
    digest: str | None,
    index: BuildIndex,
    *,
    image: str | None = None,
    index_members: Mapping[str, Sequence[str]] | None = None,
    revision_of: Callable[[str], str | None] | None = None,
) -> Match:
    """The build behind ``digest`` running in ``container`` (pods asking for ``image``, by
    default the template's), by the strongest key that matches."""
    spec = parse_image(image or container.image)
    spec_tag = spec.tag if spec else None
    if digest:
        if index.by_digest.get(digest):
            return Match(_pick(index.by_digest[digest], spec_tag), MatchKey.DIGEST)
        if index.by_platform_digest.get(digest):
            return Match(_pick(index.by_platform_digest[digest], spec_tag), MatchKey.PLATFORM_DIGEST)
        members = [b for m in (index_members or {}).get(digest, ()) for b in index.by_digest.get(m, ())]
        if members:
            return Match(_pick(members, spec_tag), MatchKey.INDEX_DIGEST)
    if spec is not None and spec_tag and index.by_tag.get((spec.name, spec_tag)):
        return Match(_pick(index.by_tag[(spec.name, spec_tag)], spec_tag), MatchKey.TAG)
    for key in BUILD_ID_KEYS:
        build_id = container.labels.get(key) or container.annotations.get(key)
        if build_id and build_id in index.by_id:
            return Match(index.by_id[build_id], MatchKey.BUILD_ID)
    commits = [container.annotations.get(k) for k in COMMIT_KEYS]
    if digest and revision_of is not None:
        commits.insert(0, revision_of(digest))
    for commit in filter(None, commits):
        if index.by_commit.get(commit):
            return Match(_pick(index.by_commit[commit], spec_tag), MatchKey.COMMIT)
    return Match(None, MatchKey.NONE)


def _declared(sync: SyncInfo) -> tuple[set[tuple[str, str]], set[str]]:
    """(repository, tag) pairs and digests the sync declared."""
    tags: set[tuple[str, str]] = set()
    digests: set[str] = set()
    for image in sync.images:
        ref = parse_image(image)
        if ref is None:
            continue
        if ref.digest:
            digests.add(ref.digest)
        tags.add((ref.name, ref.tag or "latest"))
    return tags, digests


@dataclass(frozen=True)
class Judgement:
    """What the flags need beyond the match: the image's class, the tags seen moving, the advice on."""

    image_class: str = "internal"
    moved: Mapping[tuple[str, str], Sequence[str]] = field(default_factory=dict)
    advise_digest_pinning: bool = False


def flags_for(
    container: RunningContainer,
    digest: str | None,
    match: Match,
    index: BuildIndex,
    distinct_digests: int,
    sync: SyncInfo | None,
    image: str | None = None,
    judgement: Judgement | None = None,
) -> list[str]:
    if digest is None:
        return []  # pending: judged once the runtime reports what it runs
    judgement = judgement or Judgement()
    spec = parse_image(image or container.image)
    flags: list[str] = []
    if judgement.image_class == "internal" and match.key not in (
        MatchKey.DIGEST, MatchKey.PLATFORM_DIGEST, MatchKey.INDEX_DIGEST
    ):
        flags.append(Flag.UNTRACEABLE)
    if spec is not None and spec.tag:
        tagged = [b.image_digest for b in index.by_tag.get((spec.name, spec.tag), ()) if b.image_digest]
        platform = {p.digest for b in index.by_tag.get((spec.name, spec.tag), ()) for p in b.platform_digests}
        if tagged and digest not in tagged and digest not in platform:
            flags.append(Flag.DIGEST_MISMATCH)
    if distinct_digests > 1 and not container.rollout_in_progress:
        flags.append(Flag.MIXED_VERSIONS)
    if spec is not None and spec.digest is None and (spec.name, spec.tag or "latest") in judgement.moved:
        flags.append(Flag.TAG_MOVED)
    if judgement.advise_digest_pinning and (spec is None or spec.digest is None):
        flags.append(Flag.NOT_PINNED)
    # The failed-build rule's own set, not its function: this runs for every record of the join.
    if match.build is not None and match.build.build_status in FAILED_RESULTS:
        flags.append(Flag.FAILED_BUILD_DEPLOYED)
    if sync is not None and sync.images and spec is not None:
        tags, digests = _declared(sync)
        if (spec.name, spec.tag or "latest") not in tags and digest not in digests and spec.digest not in digests:
            flags.append(Flag.DRIFT)
    return [str(f) for f in flags]


def record_id(container: RunningContainer, digest: str | None) -> str:
    """Deterministic: cluster/namespace/workload kind and name/container/digest."""
    return "/".join(
        [container.cluster, container.namespace, container.workload_kind, container.workload_name,
         container.container, digest or "unknown"]
    )


def correlate(
    containers: Iterable[RunningContainer],
    index: BuildIndex,
    *,
    syncs: Mapping[str, SyncInfo] | None = None,
    index_members: Mapping[str, Sequence[str]] | None = None,
    revision_of: Callable[[str], str | None] | None = None,
    updated_at: str,
    classify: Callable[[str], str] | None = None,
    moved: Mapping[tuple[str, str], Sequence[str]] | None = None,
    advise_digest_pinning: bool = False,
) -> list[TraceabilityRecord]:
    """traceability-metadata records: one per workload container and running digest (all of
    its pods whose digest is not known yet in one ``pending`` record).

    ``classify`` names an image ``internal`` or ``external`` (default: all internal); ``moved``
    holds the tags seen pointing at more than one image (``tags.moved_tags``).
    """
    join = _Join(index, syncs or {}, index_members, revision_of, updated_at, classify, moved or {},
                 advise_digest_pinning)
    records: list[TraceabilityRecord] = []
    with gc_paused():  # one record, its pods and flags per container: many objects, no cycles
        for container in containers:
            sync = join.syncs.get(container.argocd_app or "")
            groups, known = _digest_groups(container)
            for digest, pods in groups:
                records.append(join.record(container, digest, pods, known, sync))
    return records


@dataclass(slots=True)
class _Join:
    """One run of the join: what every container is matched to and judged against."""

    index: BuildIndex
    syncs: Mapping[str, SyncInfo]
    index_members: Mapping[str, Sequence[str]] | None
    revision_of: Callable[[str], str | None] | None
    updated_at: str
    classify: Callable[[str], str] | None
    moved: Mapping[tuple[str, str], Sequence[str]]
    advise_digest_pinning: bool
    # One judgement per image class, not per record: they differ only by the class.
    judgements: dict[str, Judgement] = field(default_factory=dict)
    no_build: BuildDocument = field(default_factory=BuildDocument)  # what an unmatched record reads

    def record(
        self, container: RunningContainer, digest: str | None, pods: list[RunningPod], known: int,
        sync: SyncInfo | None,
    ) -> TraceabilityRecord:
        """The record of the container's ``pods`` running ``digest``: the build behind it, how it
        matched, and its flags (``known``: how many digests the container's pods run)."""
        # The image these pods ask for: mid-rollout, old pods still name the old tag.
        image = _most_common([p.image for p in pods if p.image]) or container.image
        spec = parse_image(image)
        match = match_build(container, digest, self.index, image=image, index_members=self.index_members,
                            revision_of=self.revision_of)
        build = match.build or self.no_build
        image_class = self.classify(image) if self.classify else "internal"
        judgement = self.judgements.get(image_class) or self._judgement(image_class)
        return TraceabilityRecord(
            record_id=record_id(container, digest),
            cluster=container.cluster,
            namespace=container.namespace,
            workload_kind=container.workload_kind,
            workload_name=container.workload_name,
            container_name=container.container,
            image=image,
            image_tag=spec.tag if spec else None,
            image_digest=digest,
            pods=[RecordPod(p.name, p.node, p.started_at) for p in pods],
            replicas=replace(container.replicas) if container.replicas else None,
            strategy=dict(container.strategy) if container.strategy else None,
            build_id=build.build_id or None,
            job_name=build.job_name,
            build_number=build.build_number,
            build_status=build.build_status,
            build_url=build.build_url,
            built_image_tag=build.image_tag,
            commit_ids=build.commit_ids,
            authors=list(build.authors),
            argocd_app=container.argocd_app,
            # The config repo's revision Argo CD synced: never the app commit.
            argocd_revision=sync.revision if sync else None,
            match_key=str(match.key),
            match_confidence=match.confidence,
            first_seen=_first_seen(container, digest, pods),
            image_class=image_class,
            # pending: no runtime has reported a digest for these pods yet (still pulling).
            digest_state="known" if digest else "pending",
            pending_reason=None if digest else _most_common([p.waiting_reason for p in pods if p.waiting_reason]),
            # The image's org.opencontainers.image.revision label, when the registry was asked.
            image_revision=self.revision_of(digest) if digest and self.revision_of else None,
            tag_digests=_moved_tag_digests(spec, self.moved) if self.moved else None,
            flags=flags_for(container, digest, match, self.index, known, sync, image, judgement),
            updated_at=self.updated_at,
        )

    def _judgement(self, image_class: str) -> Judgement:
        """The judgement of the first record of an image class; the next ones reuse it."""
        judgement = self.judgements[image_class] = Judgement(image_class, self.moved, self.advise_digest_pinning)
        return judgement


def _digest_groups(container: RunningContainer) -> tuple[Iterable[tuple[str | None, list[RunningPod]]], int]:
    """The container's pods by the digest they run (None: not reported yet), in digest order, and
    how many known digests they run (what ``mixed_versions`` counts)."""
    pods_by_digest: dict[str | None, list[RunningPod]] = {}
    for pod in container.pods:
        pods_by_digest.setdefault(pod.digest, []).append(pod)
    if len(pods_by_digest) == 1:  # the common case: every pod runs one digest, nothing to sort
        return pods_by_digest.items(), 1 if next(iter(pods_by_digest)) else 0
    return sorted(pods_by_digest.items(), key=lambda item: item[0] or ""), sum(1 for d in pods_by_digest if d)


def _first_seen(container: RunningContainer, digest: str | None, pods: list[RunningPod]) -> str | None:
    """When ``digest`` started running in the container (the release time): as the snapshots first
    saw it, else its pods' earliest start."""
    if container.first_seen:
        seen = container.first_seen.get(digest or "")
        if seen:
            return seen
    starts = [p.started_at for p in pods if p.started_at]  # a list: min over a generator costs twice as much
    return min(starts) if starts else None


def _moved_tag_digests(spec: ImageReference | None, moved: Mapping[tuple[str, str], Sequence[str]]) -> list[str] | None:
    """The images the spec's tag was seen pointing at, when it names a tag that moved."""
    tag = (spec.name, spec.tag or "latest") if spec is not None and spec.digest is None else None
    return list(moved[tag]) if tag in moved else None


def _most_common(values: list[str]) -> str | None:
    """The most frequent value, ties to the smallest; None for none. (Most pods of a group agree:
    that case skips the Counter, which costs more than the rest of a record.)"""
    if not values:
        return None
    first = values[0]
    if all(v == first for v in values):
        return first
    counts = Counter(values)
    return min(counts, key=lambda v: (-counts[v], v))
