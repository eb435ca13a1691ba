"""What a running digest's attestations prove, under the image policy's trust: pure functions.

Two steps, so the expensive one can be cached by digest:

1. ``examine``: the DSSE envelopes the registry holds for a digest (or for its index) -> one
   ``Evidence``: ``signed`` (a SLSA v1 provenance signed by a trusted key, whose subject is the
   running digest or its index and whose builder is trusted; with the commit it names), ``none``
   (no SLSA provenance attached), or ``rejected`` with the reason. It depends on the envelopes,
   the digests and the trust policy only, so it is kept per digest under the policy's fingerprint.
2. ``judge``: the evidence against what c2c attributed (the build's source commit) ->
   ``verified``, ``unsigned`` or ``invalid`` with the reason. Cheap; run on every scan.

Not verified here (see README): no transparency log (keyed signing with ``--tlog-upload=false``,
nothing is looked up in Rekor), no keyless (Fulcio certificate) signatures, no signature time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from c2c_dagster.provenance.dsse import IN_TOTO_PAYLOAD_TYPE, EnvelopeError, TrustedKey, parse_envelope, signer

SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
#: cosign 2.x wraps a predicate in a v0.1 statement; c2c-build-metadata writes v1. Same shape.
STATEMENT_TYPES = frozenset({"https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1"})

State = Literal["verified", "unsigned", "invalid"]
VERIFIED: State = "verified"
UNSIGNED: State = "unsigned"
INVALID: State = "invalid"
STATES: tuple[State, ...] = (VERIFIED, UNSIGNED, INVALID)

Outcome = Literal["signed", "none", "rejected"]


@dataclass(frozen=True)
class TrustPolicy:
    """The keys whose signatures count, the builders whose provenance counts (a builder id
    equal to one or under it: ``https://jenkins.example.com/`` trusts every job there), and
    whether an internal image without provenance is worth a warning."""

    keys: tuple[TrustedKey, ...] = ()
    builders: tuple[str, ...] = ()
    require: bool = False

    @property
    def enabled(self) -> bool:
        """No trusted key: nothing can verify, so nothing is looked up."""
        return bool(self.keys)

    @cached_property
    def fingerprint(self) -> str:
        """Names the trust the evidence was examined under: a change of keys or builders re-examines."""
        text = json.dumps([sorted(k.key_id for k in self.keys), sorted(self.builders)])
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(slots=True)  # not frozen: a re-scan makes one per cached digest, and frozen init is slow
class Evidence:
    outcome: Outcome
    reason: str | None = None
    key_id: str | None = None
    builder: str | None = None
    commit: str | None = None
    found_at: str | None = None  # the digest the attestation is attached to (the running one, or its index)


NONE = Evidence("none")


def builder_trusted(builder: str | None, trusted: Iterable[str]) -> bool:
    if not builder:
        return False
    for prefix in trusted:
        if builder == prefix or (builder.startswith(prefix) and (prefix.endswith("/") or builder[len(prefix)] == "/")):
            return True
    return False


def _subject_digests(statement: dict[str, Any]) -> set[str]:
    found = set()
    for subject in statement.get("subject") or []:
        value = (subject.get("digest") or {}).get("sha256") if isinstance(subject, dict) else None
        if isinstance(value, str):
            found.add(f"sha256:{value.lower()}")
    return found


def source_commit(predicate: dict[str, Any]) -> str | None:
    """The ``gitCommit`` of the first resolved dependency that has one (what c2c-build-metadata writes)."""
    definition = predicate.get("buildDefinition") or {}
    for dependency in definition.get("resolvedDependencies") or []:
        commit = (dependency.get("digest") or {}).get("gitCommit") if isinstance(dependency, dict) else None
        if isinstance(commit, str) and commit:
            return commit.lower()
    return None


def builder_id(predicate: dict[str, Any]) -> str | None:
    value = ((predicate.get("runDetails") or {}).get("builder") or {}).get("id")
    return value if isinstance(value, str) else None


def _statement(payload: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def examine_one(raw: bytes, *, running: str, index: str | None, policy: TrustPolicy) -> Evidence | None:
    """One envelope's evidence; None when it is not SLSA v1 provenance (an SBOM, a vuln scan...)."""
    try:
        envelope = parse_envelope(raw)
    except EnvelopeError as exc:
        return Evidence("rejected", f"malformed attestation envelope: {exc}")
    statement = _statement(envelope.payload) if envelope.payload_type == IN_TOTO_PAYLOAD_TYPE else None
    if statement is None or statement.get("predicateType") != SLSA_PROVENANCE_V1:
        return None
    key = signer(envelope, policy.keys)
    if key is None:
        return Evidence("rejected", f"bad signature or untrusted key: verifies under none of the "
                                    f"{len(policy.keys)} trusted key(s)")
    if statement.get("_type") not in STATEMENT_TYPES:
        return Evidence("rejected", f"not an in-toto statement ({statement.get('_type')!r})", key.key_id)
    predicate = statement.get("predicate") if isinstance(statement.get("predicate"), dict) else {}
    builder, commit = builder_id(predicate), source_commit(predicate)
    subjects = _subject_digests(statement)
    if running not in subjects and not (index and index in subjects):
        named = ", ".join(sorted(subjects)) or "nothing"
        return Evidence("rejected", f"subject mismatch: the provenance names {named}, not the running digest",
                        key.key_id, builder, commit)
    if not builder_trusted(builder, policy.builders):
        return Evidence("rejected", f"untrusted builder {builder!r}", key.key_id, builder, commit)
    if commit is None:
        return Evidence("rejected", "the provenance names no source commit (gitCommit)", key.key_id, builder)
    return Evidence("signed", None, key.key_id, builder, commit)


def examine(envelopes: Sequence[bytes], *, running: str, index: str | None, policy: TrustPolicy,
            found_at: str | None = None) -> Evidence:
    """The evidence of every envelope attached at one digest: the first that proves the
    provenance wins; else the most telling rejection (a trusted signature's reason first)."""
    rejected: list[Evidence] = []
    for raw in envelopes:
        evidence = examine_one(raw, running=running, index=index, policy=policy)
        if evidence is None:
            continue
        if evidence.outcome == "signed":
            return _at(evidence, found_at)
        rejected.append(evidence)
    if not rejected:
        return NONE
    return _at(min(rejected, key=lambda e: e.key_id is None), found_at)


def _at(evidence: Evidence, found_at: str | None) -> Evidence:
    return Evidence(evidence.outcome, evidence.reason, evidence.key_id, evidence.builder, evidence.commit, found_at)


def judge(evidence: Evidence, *, attributed_commit: str | None, external: bool) -> tuple[State, str | None]:
    """The record's provenance state and why. An external image is ``verified`` when it carries
    provenance under a trusted key and ``unsigned`` otherwise, never ``invalid``: c2c attributes
    it no commit and its publisher's signing is not ours to fail."""
    if evidence.outcome == "none":
        return UNSIGNED, None
    if evidence.outcome == "rejected":
        return (UNSIGNED, evidence.reason) if external else (INVALID, evidence.reason)
    if not external and attributed_commit and evidence.commit != attributed_commit.lower():
        return INVALID, (f"commit mismatch: the provenance names {evidence.commit}, "
                         f"c2c attributed {attributed_commit.lower()}")
    return VERIFIED, None
