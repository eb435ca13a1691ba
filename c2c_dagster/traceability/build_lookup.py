"""Fetching just the builds a cluster's containers can match, instead of every build ever made.

A handful of ``terms`` lookups (digests, platform digests, tags, build ids, commits), each a
single store query whatever the number of containers, then one ``BuildIndex`` over the union.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from c2c_core.images import parse_image
from c2c_dagster.store import CI_BUILD_METADATA, MetadataStore
from c2c_dagster.traceability.correlate import BUILD_ID_KEYS, COMMIT_KEYS, BuildIndex, RunningContainer

# A terms query takes at most 65,536 values; stay well below per request.
TERMS_CHUNK = 10_000
MAX_MATCHES = 1_000_000


def _find_all(store: MetadataStore, field: str, values: Iterable[str]) -> list[Mapping]:
    values = sorted(set(values))
    found: list[Mapping] = []
    for i in range(0, len(values), TERMS_CHUNK):
        found.extend(store.find(CI_BUILD_METADATA.name, field, values[i : i + TERMS_CHUNK], limit=MAX_MATCHES))
    return found


def relevant_builds(
    store: MetadataStore, containers: list[RunningContainer], extra_digests: Iterable[str] = (), commits: Iterable[str] = ()
) -> BuildIndex:
    digests = {p.digest for c in containers for p in c.pods if p.digest} | set(extra_digests)
    tags = set()
    for c in containers:
        for image in {c.image, *(p.image for p in c.pods if p.image)}:
            ref = parse_image(image)
            if ref is not None and ref.tag:
                tags.add(ref.tag)
    build_ids = {v for c in containers for k in BUILD_ID_KEYS for v in (c.labels.get(k), c.annotations.get(k)) if v}
    commit_ids = {c.annotations[k] for c in containers for k in COMMIT_KEYS if c.annotations.get(k)} | set(commits)
    builds: dict[str, Mapping] = {}
    for field, values in (
        ("image_digest", digests),
        ("platform_digests.digest", digests),
        ("image_tag", tags),
        ("build_id", build_ids),
        ("commits.commit_id", commit_ids),
    ):
        for build in _find_all(store, field, values):
            builds[build["build_id"]] = build
    return BuildIndex.of_documents(builds.values())
