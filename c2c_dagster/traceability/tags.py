"""Tags that moved: a ``repository:tag`` observed pointing at more than one image. Pure.

Observations, each a (repository, tag) -> digest pair:

* builds: the digest CI recorded for the tag it pushed (every build with that tag);
* pods: the digest a pod runs for the tag its spec names (``repo:tag@digest`` counts too: the
  tag was that digest when pinned);
* earlier records of the cluster: what pods ran for the tag before (history, stopped ones too);
* registry answers: what the tag points at now, asked once per distinct tag (``tags_to_ask``)
  for every internal image a pod runs by a tag, and for any image whose digest no build names.

A multi-arch index and its platform manifests are one image: a node running the arm64 manifest
of the index CI recorded is not a second digest. A spec without a tag means ``latest``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

from c2c_core.images import parse_image
from c2c_dagster.documents.traceability import TraceabilityRecord
from c2c_dagster.traceability.correlate import BuildIndex, RunningContainer

TagKey = tuple[str, str]  # ("registry/repository", tag)


def tag_key(image: str | None) -> TagKey | None:
    """``(registry/repository, tag)`` of an image reference, Docker Hub aliases normalised."""
    ref = parse_image(image)
    return None if ref is None else (ref.name, ref.tag or "latest")


def tags_to_ask(
    containers: Iterable[RunningContainer],
    *,
    classify: Callable[[str], str] | None = None,
    unknown_digests: Iterable[str] = (),
) -> dict[TagKey, str]:
    """The distinct tags a run asks the registry about, each as the reference to ask
    (``registry/repository:tag``): every tag a pod of an *internal* image runs by (a spec pinned by
    digest runs what it pins, whatever the tag says; a pod still pulling runs nothing yet), and the
    tag of any running digest in ``unknown_digests`` (no build names it), internal or not. Many
    workloads on one tag are one question."""
    unknown = set(unknown_digests)
    asked: dict[TagKey, str] = {}
    for container in containers:
        for pod in container.pods:
            image = pod.image or container.image
            ref = parse_image(image)
            if ref is None or ref.digest is not None or not pod.digest:
                continue
            if pod.digest in unknown or classify is None or classify(image) == "internal":
                key = (ref.name, ref.tag or "latest")
                asked.setdefault(key, f"{key[0]}:{key[1]}")
    return asked


def image_of(index: BuildIndex, members: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Platform manifest digest -> the index digest it belongs to (from builds and the registry)."""
    owner: dict[str, str] = {}
    for platform_digest, builds in index.by_platform_digest.items():
        for build in builds:
            if build.image_digest:
                owner[platform_digest] = build.image_digest
    for index_digest, platform_digests in members.items():
        for platform_digest in platform_digests:
            owner.setdefault(platform_digest, index_digest)
    return owner


def observed_digests(
    containers: Iterable[RunningContainer],
    index: BuildIndex,
    *,
    earlier_records: Iterable[TraceabilityRecord] = (),
    registry_tags: Mapping[TagKey, str] | None = None,
    members: Mapping[str, Sequence[str]] | None = None,
) -> dict[TagKey, set[str]]:
    """Every digest each tag was seen pointing at, platform manifests folded into their index."""
    owner = image_of(index, members or {})
    seen: dict[TagKey, set[str]] = defaultdict(set)

    def observe(image: str | None, digest: str | None) -> None:
        key = tag_key(image)
        if key is not None and digest:
            seen[key].add(owner.get(digest, digest))

    for (name, tag), builds in index.by_tag.items():
        for build in builds:
            if build.image_digest:
                seen[(name, tag)].add(build.image_digest)
    for container in containers:
        for pod in container.pods:
            observe(pod.image or container.image, pod.digest)
    for record in earlier_records:
        observe(record.image, record.image_digest)
    for key, digest in (registry_tags or {}).items():
        seen[key].add(owner.get(digest, digest))
    return dict(seen)


def moved_tags(observed: Mapping[TagKey, set[str]]) -> dict[TagKey, list[str]]:
    """The tags seen pointing at more than one image, with those images' digests."""
    return {key: sorted(digests) for key, digests in observed.items() if len(digests) > 1}
