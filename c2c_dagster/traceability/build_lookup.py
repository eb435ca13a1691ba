"""Fetching just the builds a cluster's containers can match, instead of every build ever made.

The keys a container offers (running digests, the tags its spec names, build-id labels, commit
annotations) become a handful of ``terms`` lookups, each a single store query whatever the
number of containers. ``relevant_documents`` applies the same keys to documents already in memory:
a semi-join that types and indexes only the builds a join can use (a year of history is ~10^5
builds, a cluster runs a few thousand images).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from c2c_core.images import parse_image
from c2c_dagster.documents.builds import BuildDocument
from c2c_dagster.store import CI_BUILD_METADATA, MetadataStore
from c2c_dagster.traceability.correlate import BUILD_ID_KEYS, COMMIT_KEYS, RunningContainer

# A terms query takes at most 65,536 values; stay well below per request.
TERMS_CHUNK = 10_000
MAX_MATCHES = 1_000_000


@dataclass
class BuildKeys:
    """What a build is looked up by: digests (its own or a platform's), tags, ids and commits."""

    digests: set[str] = field(default_factory=set)
    tags: set[str] = field(default_factory=set)
    build_ids: set[str] = field(default_factory=set)
    commits: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, containers: Iterable[RunningContainer], extra_digests: Iterable[str] = ()) -> BuildKeys:
        keys = cls(digests=set(extra_digests))
        for c in containers:
            keys.digests.update(p.digest for p in c.pods if p.digest)
            for image in {c.image, *(p.image for p in c.pods if p.image)}:
                ref = parse_image(image)
                if ref is not None and ref.tag:
                    keys.tags.add(ref.tag)
            # As correlate.match_build reads them: build ids from labels or annotations, commits
            # from annotations only.
            keys.build_ids.update(v for k in BUILD_ID_KEYS for v in (c.labels.get(k), c.annotations.get(k)) if v)
            keys.commits.update(c.annotations[k] for k in COMMIT_KEYS if c.annotations.get(k))
        return keys

    def __bool__(self) -> bool:
        return bool(self.digests or self.tags or self.build_ids or self.commits)


def find_builds(store: MetadataStore, keys: BuildKeys) -> list[BuildDocument]:
    """Every build any key names, each once."""
    # Keyed by id as found, typed once at the end: a build is often found by its digest, its tag
    # and its commits alike, and would otherwise be read as a model once per lookup.
    builds: dict[str, dict] = {}
    for lookup, values in (
        ("image_digest", keys.digests),
        ("platform_digests.digest", keys.digests),
        ("image_tag", keys.tags),
        ("build_id", keys.build_ids),
        ("commits.commit_id", keys.commits),
        ("source_commit", keys.commits),  # BuildIndex.by_commit holds it too
    ):
        ordered = sorted(values)
        for i in range(0, len(ordered), TERMS_CHUNK):
            for build in store.find(CI_BUILD_METADATA.name, lookup, ordered[i : i + TERMS_CHUNK], limit=MAX_MATCHES):
                builds[build["build_id"]] = build
    return BuildDocument.from_documents(builds.values())


def _holds(values: Any, wanted: set[str], key: str) -> bool:
    """Whether a list of objects (platform digests, commits) has one whose ``key`` is wanted."""
    return isinstance(values, list) and any(isinstance(v, Mapping) and v.get(key) in wanted for v in values)


def relevant_documents(docs: Iterable[Mapping[str, Any]], keys: BuildKeys) -> list[Mapping[str, Any]]:
    """The ci-build-metadata documents ``find_builds`` would fetch for ``keys``, from documents in
    memory: one pass of a few set look-ups per build, the same fields as ``find_builds``."""
    digests, tags, ids, commits = keys.digests, keys.tags, keys.build_ids, keys.commits
    return [
        doc
        for doc in docs
        if doc.get("image_digest") in digests
        or doc.get("build_id") in ids
        or doc.get("image_tag") in tags
        or doc.get("source_commit") in commits
        or (doc.get("platform_digests") and _holds(doc["platform_digests"], digests, "digest"))
        or (doc.get("commits") and _holds(doc["commits"], commits, "commit_id"))
    ]
