"""The provenance step of ``traceability_records``, after the join: every running record gets
``provenance`` (verified, unsigned, invalid) from its digest's attestations in the registry.

Each digest is looked up at most once per run, and not at all when the cluster's records already
hold its evidence under the same trust (``provenance_policy``): a digest's attestations do not
change under a given policy, so an unchanged re-scan asks the registry nothing. Evidence of *no*
attestation is re-checked after ``UNSIGNED_RECHECK`` (a pipeline may attach one after the image
first ran). The evidence is judged on every run against the commit c2c attributed, which a new
build record can change without any registry news.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from c2c_core.images import InvalidReferenceError, parse_reference
from c2c_core.registry.client import RegistryClient, RegistryError
from c2c_core.timeutil import parse_time
from c2c_dagster.documents.traceability import TraceabilityRecord
from c2c_dagster.provenance.fetch import attestation_envelopes
from c2c_dagster.provenance.verify import NONE, Evidence, TrustPolicy, examine, judge
from c2c_dagster.traceability.correlate import BuildIndex

UNSIGNED_RECHECK = timedelta(hours=6)

#: (image as the spec names it, running digest, its index digest or None) -> the evidence, or
#: None when the registry could not answer (nothing is cached then).
Lookup = Callable[[str, str, str | None], Evidence | None]


@dataclass
class ProvenanceStats:
    lookups: int = 0  # digests asked of the registry this run
    cached: int = 0  # digests answered by the records' cache
    errors: list[str] = field(default_factory=list)


def index_digest_of(record: TraceabilityRecord, index: BuildIndex) -> str | None:
    """The index a running platform manifest belongs to, when its build recorded both."""
    build = index.by_id.get(record.build_id or "")
    if build is None or not build.image_digest or build.image_digest == record.image_digest:
        return None
    return build.image_digest if any(p.digest == record.image_digest for p in build.platform_digests) else None


def attributed_commit(record: TraceabilityRecord, index: BuildIndex) -> str | None:
    """The commit c2c says the running image was built from: its build's source commit."""
    build = index.by_id.get(record.build_id or "")
    return build.source_commit if build is not None else None


def evidence_of(record: TraceabilityRecord) -> Evidence | None:
    if record.provenance_evidence not in ("signed", "none", "rejected"):
        return None
    return Evidence(record.provenance_evidence, record.provenance_reason if record.provenance_evidence == "rejected"
                    else None, record.provenance_key, record.provenance_builder, record.provenance_commit,
                    record.provenance_found_at)


def cached_evidence(previous: Iterable[TraceabilityRecord], trust: TrustPolicy,
                    now: str) -> dict[str, tuple[Evidence, str | None]]:
    """Digest -> (evidence, when examined) from the records, under this trust, still fresh."""
    cache: dict[str, tuple[Evidence, str | None]] = {}
    moment = parse_time(now)
    fingerprint = trust.fingerprint
    for record in previous:
        if record.provenance_policy != fingerprint or not record.image_digest:
            continue
        known = cache.get(record.image_digest)
        if known is not None and (record.provenance_checked_at or "") <= (known[1] or ""):
            continue
        if record.provenance_evidence == "none":
            checked = parse_time(record.provenance_checked_at)
            if checked is None or moment is None or moment - checked > UNSIGNED_RECHECK:
                continue
        evidence = evidence_of(record)
        if evidence is not None:
            cache[record.image_digest] = (evidence, record.provenance_checked_at)
    return cache


def annotate(records: Iterable[TraceabilityRecord], *, previous: Iterable[TraceabilityRecord], index: BuildIndex,
             trust: TrustPolicy, lookup: Lookup, now: str) -> ProvenanceStats:
    """Sets each record's provenance fields (in place); what it cost."""
    stats = ProvenanceStats()
    records = list(records)
    if not trust.enabled:
        for record in records:
            _clear(record)
        return stats
    cache = cached_evidence(previous, trust, now)
    hits: set[str] = set()
    for record in records:
        digest = record.image_digest
        if not digest or record.digest_state == "pending":
            _clear(record)
            continue
        if digest not in cache:
            stats.lookups += 1
            found = lookup(record.image or "", digest, index_digest_of(record, index))
            if found is None:
                stats.errors.append(digest)
                _clear(record)
                continue
            cache[digest] = (found, now)
        elif digest not in hits:
            stats.cached += 1
        hits.add(digest)
        evidence, checked_at = cache[digest]
        state, reason = judge(evidence, attributed_commit=attributed_commit(record, index),
                              external=record.image_class == "external")
        record.provenance, record.provenance_reason = state, reason
        record.provenance_evidence = evidence.outcome
        record.provenance_key, record.provenance_builder = evidence.key_id, evidence.builder
        record.provenance_commit, record.provenance_found_at = evidence.commit, evidence.found_at
        record.provenance_policy, record.provenance_checked_at = trust.fingerprint, checked_at
    return stats


def _clear(record: TraceabilityRecord) -> None:
    record.provenance = record.provenance_reason = record.provenance_evidence = None
    record.provenance_key = record.provenance_builder = record.provenance_commit = None
    record.provenance_found_at = record.provenance_policy = record.provenance_checked_at = None


def registry_lookup(client_for: Callable[[str], RegistryClient], trust: TrustPolicy) -> Lookup:
    """The registry's evidence for a digest: its own attestations first, then its index's. One
    client per registry for the run, so its session and tokens serve every look-up there."""
    clients: dict[str, RegistryClient] = {}

    def lookup(image: str, digest: str, index_digest: str | None) -> Evidence | None:
        try:
            ref = parse_reference(image)
        except InvalidReferenceError:
            return None
        client = clients.get(ref.registry) or clients.setdefault(ref.registry, client_for(ref.registry))
        try:
            for at in filter(None, (digest, index_digest)):
                envelopes = attestation_envelopes(client, ref, at)
                if envelopes:
                    evidence = examine(envelopes, running=digest, index=index_digest, policy=trust, found_at=at)
                    if evidence.outcome != "none":
                        return evidence
        except RegistryError:
            return None
        return NONE

    return lookup
