"""Answers to the seed's questions (section 1.2) from the store: what runs where, and from what.

Pure over a ``MetadataStore``: the ``c2c trace`` command and any other reader share it. A
traceability record with ``running`` false is history: that digest ran there before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from c2c_core.builds import is_commit_prefix
from c2c_core.cliargs import shown
from c2c_core.images import normalize_digest
from c2c_dagster.documents.builds import BuildDocument
from c2c_dagster.documents.traceability import TraceabilityRecord
from c2c_dagster.store import CI_BUILD_METADATA, TRACEABILITY_METADATA, MetadataStore
from c2c_dagster.store.watermarks import resolve_last_seen_against_watermarks


class TraceQueryError(ValueError):
    """A query that cannot be asked as written; the message shows the expected form."""


# OpenSearch's limit on a document id (a build id is one), and Kubernetes' on a name.
MAX_BUILD_ID_BYTES = 512
MAX_NAME_LENGTH = 253
_BUILD_ID_RE = re.compile(r"^[^\x00-\x1f\x7f]+-[0-9]+$")


def _names(option: str, target: str, parts: list[str], form: str) -> None:
    """Each part of a workload or pod query is a Kubernetes-sized name without control characters."""
    if not all(parts) or any(len(p) > MAX_NAME_LENGTH or not p.isprintable() for p in parts):
        raise TraceQueryError(f"{option} {shown(target)}: expected {form}, each name 1 to {MAX_NAME_LENGTH} "
                              "printable characters")


@dataclass
class TraceAnswer:
    query: dict[str, str]
    running: list[TraceabilityRecord] = field(default_factory=list)
    previously: list[TraceabilityRecord] = field(default_factory=list)
    builds: list[BuildDocument] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.running or self.previously or self.builds)

    def as_json(self) -> dict[str, Any]:
        """The answer with each record and build as the store holds it."""
        return {
            "query": self.query,
            "running": [r.to_document() for r in self.running],
            "previously": [r.to_document() for r in self.previously],
            "builds": [b.to_document() for b in self.builds],
        }


def _records(store: MetadataStore, docs: Iterable[dict[str, Any]]) -> list[TraceabilityRecord]:
    """Records as stored, a running record's ``last_seen`` read against its cluster's watermark
    (a run does not rewrite records it found unchanged)."""
    return TraceabilityRecord.from_documents(resolve_last_seen_against_watermarks(
        store, TRACEABILITY_METADATA.name, docs, lambda doc: doc.get("running") is not False))


def _builds(docs: Iterable[dict[str, Any]]) -> list[BuildDocument]:
    return BuildDocument.from_documents(docs)


def _split(records: Iterable[TraceabilityRecord]) -> tuple[list[TraceabilityRecord], list[TraceabilityRecord]]:
    running, before = [], []
    for record in sorted(records, key=lambda r: (r.first_seen or "", r.record_id)):
        if record.is_running:
            running.append(record)
        elif record.digest_state != "pending":
            # Pods that were pulling and then ran (or went away) ran nothing of their own before.
            before.append(record)
    return running, before


def _builds_of(store: MetadataStore, records: Iterable[TraceabilityRecord]) -> list[BuildDocument]:
    ids = sorted({r.build_id for r in records if r.build_id})
    return _builds(store.find(CI_BUILD_METADATA.name, "build_id", ids)) if ids else []


def trace_workload(store: MetadataStore, target: str) -> TraceAnswer:
    """``[CLUSTER/]NAMESPACE/NAME``: what each container of that workload runs."""
    parts = target.split("/")
    if len(parts) not in (2, 3):
        raise TraceQueryError(f"--workload {shown(target)}: expected [CLUSTER/]NAMESPACE/NAME")
    _names("--workload", target, parts, "[CLUSTER/]NAMESPACE/NAME")
    cluster, namespace, name = parts if len(parts) == 3 else (None, *parts)
    records = [
        r
        for r in _records(store, store.find(TRACEABILITY_METADATA.name, "workload_name", name))
        if r.namespace == namespace and (cluster is None or r.cluster == cluster)
    ]
    running, before = _split(records)
    return TraceAnswer({"workload": target}, running, before, _builds_of(store, records))


def trace_pod(store: MetadataStore, target: str) -> TraceAnswer:
    """``NAMESPACE/POD``: the records of the workload containers that pod runs."""
    namespace, _, pod = target.partition("/")
    if not namespace or not pod or "/" in pod:
        raise TraceQueryError(f"--pod {shown(target)}: expected NAMESPACE/POD")
    _names("--pod", target, [namespace, pod], "NAMESPACE/POD")
    records = [r for r in _records(store, store.find(TRACEABILITY_METADATA.name, "pods.name", pod))
               if r.namespace == namespace]
    running, before = _split(records)
    return TraceAnswer({"pod": target}, running, before, _builds_of(store, records))


def _trace_builds(store: MetadataStore, query: dict[str, str], builds: list[BuildDocument]) -> TraceAnswer:
    ids = [b.build_id for b in builds]
    records = _records(store, store.find(TRACEABILITY_METADATA.name, "build_id", ids)) if ids else []
    running, before = _split(records)
    return TraceAnswer(query, running, before, builds)


def trace_commit(store: MetadataStore, sha: str) -> TraceAnswer:
    """A commit (a prefix of 7+ characters will do): every build that took it, and where those run."""
    sha = sha.lower()
    if not is_commit_prefix(sha):
        raise TraceQueryError(f"--commit {shown(sha)}: expected a hexadecimal commit id or prefix (4 to 64 characters)")
    builds = _builds(store.find(CI_BUILD_METADATA.name, "commits.commit_id", sha, prefix=True))
    return _trace_builds(store, {"commit": sha}, builds)


def trace_build(store: MetadataStore, build_id: str) -> TraceAnswer:
    """``JOB_NAME-BUILD_NUMBER`` (``Node-JS/master-67``): that build, and where its image runs."""
    if not _BUILD_ID_RE.match(build_id) or len(build_id.encode()) > MAX_BUILD_ID_BYTES:
        raise TraceQueryError(f"--build {shown(build_id)}: expected JOB_NAME-BUILD_NUMBER (e.g. Node-JS/master-67), "
                              f"at most {MAX_BUILD_ID_BYTES} bytes, no control characters")
    build = store.get(CI_BUILD_METADATA.name, build_id)
    return _trace_builds(store, {"build": build_id}, [BuildDocument.from_document(build)] if build else [])


def trace_digest(store: MetadataStore, digest: str) -> TraceAnswer:
    """An image digest: the build(s) that produced it (as image or platform manifest) and where it runs."""
    normalized = normalize_digest(digest)
    if normalized is None:
        raise TraceQueryError(f"--digest {shown(digest)}: expected sha256:<64 hex>")
    digest = normalized
    builds = store.find(CI_BUILD_METADATA.name, "image_digest", digest) or store.find(
        CI_BUILD_METADATA.name, "platform_digests.digest", digest
    )
    running, before = _split(_records(store, store.find(TRACEABILITY_METADATA.name, "image_digest", digest)))
    return TraceAnswer({"digest": digest}, running, before, _builds(builds))
