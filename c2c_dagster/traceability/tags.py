"""Tags that moved: a ``repository:tag`` observed pointing at more than one image. Pure.

Observations, each a (repository, tag) -> digest pair:

* builds: the digest CI recorded for the tag it pushed (every build with that tag);
* pods: the digest a pod runs for the tag its spec names (``repo:tag@digest`` counts too: the
  tag was that digest when pinned);
* earlier records of the cluster: what pods ran for the tag before (history, stopped ones too);
* registry answers: what the tag points at now, asked for the digests no build names.

A multi-arch index and its platform manifests are one image: a node running the arm64 manifest
of the index CI recorded is not a second digest. A spec without a tag means ``latest``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from c2c_core.images import parse_image
from c2c_dagster.documents.traceability import TraceabilityRecord
from c2c_dagster.traceability.correlate import BuildIndex, RunningContainer

TagKey = tuple[str, str]  # ("registry/repository", tag)


def tag_key(image: str | None) -> TagKey | None:
    """``(registry/repository, tag)`` of an image reference, Docker Hub aliases normalised."""
    ref = parse_image(image)
    return None if ref is None else (ref.name, ref.tag or "latest")


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
