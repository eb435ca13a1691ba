"""The provenance step after the join (pure): one registry look-up per digest, none at all on a
re-scan whose records already hold the evidence under the same trust, a new look-up when the
trust changes or an ``unsigned`` answer has aged, the index digest offered for a platform manifest,
and the evidence judged anew against the attributed commit. The look-up is a counting function
here; the registry and cosign are real in ``c2c_dagster_tests/provenance/test_cosign_registry.py``."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from c2c_dagster.documents.builds import BuildDocument, BuiltPlatform
from c2c_dagster.documents.traceability import TraceabilityRecord
from c2c_dagster.provenance.dsse import load_public_key
from c2c_dagster.provenance.verify import NONE, Evidence, TrustPolicy
from c2c_dagster.traceability.correlate import BuildIndex
from c2c_dagster.traceability.plan import same_content
from c2c_dagster.traceability.provenance import annotate
from c2c_dagster.traceability.render import render_record

D1, D2, INDEX = ("sha256:" + c * 64 for c in "123")
COMMIT, OTHER_COMMIT = "a" * 40, "b" * 40
NOW, LATER, MUCH_LATER = "2026-12-07T01:00:00Z", "2026-12-07T02:00:00Z", "2026-12-07T08:00:00Z"


def trust(builders: tuple[str, ...] = ("https://jenkins.example.com/",)) -> TrustPolicy:
    pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return TrustPolicy(keys=(load_public_key(pem),), builders=builders)


TRUST = trust()


class Lookups:
    def __init__(self, answers: dict[str, Evidence | None]):
        self.answers, self.calls = answers, []

    def __call__(self, image: str, digest: str, index: str | None) -> Evidence | None:
        self.calls.append((image, digest, index))
        return self.answers.get(digest, NONE)


def record(name: str, digest: str, build_id: str | None = "app-1", image_class: str = "internal") -> TraceabilityRecord:
    return TraceabilityRecord(record_id=f"c/ns/Deployment/{name}/app/{digest}", cluster="c", namespace="ns",
                              workload_name=name, image=f"registry.example.com/app@{digest}", image_digest=digest,
                              build_id=build_id, image_class=image_class, digest_state="known")


def index_of(source_commit: str = COMMIT) -> BuildIndex:
    return BuildIndex([
        BuildDocument(build_id="app-1", image_digest=D1, source_commit=source_commit),
        BuildDocument(build_id="multi-1", image_digest=INDEX, source_commit=COMMIT,
                      platform_digests=[BuiltPlatform(platform="linux/arm64", digest=D2)]),
    ])


SIGNED = Evidence("signed", None, TRUST.keys[0].key_id, "https://jenkins.example.com/job/app/", COMMIT, D1)


def run(records, previous, lookups, *, policy=TRUST, now=NOW, index=None):
    return annotate(records, previous=previous, index=index or index_of(), trust=policy, lookup=lookups, now=now)


def test_one_look_up_per_digest_then_none_on_an_unchanged_rescan() -> None:
    lookups = Lookups({D1: SIGNED})
    first = [record("web", D1), record("worker", D1), record("multi", D2, build_id="multi-1")]
    stats = run(first, [], lookups)
    assert stats.lookups == 2 and len(lookups.calls) == 2
    # The platform manifest's look-up is offered its index, where the pipeline attached the attestation.
    assert ("registry.example.com/app@" + D2, D2, INDEX) in lookups.calls
    assert [r.provenance for r in first] == ["verified", "verified", "unsigned"]
    assert first[0].provenance_commit == COMMIT and first[0].provenance_key == TRUST.keys[0].key_id

    again = [record("web", D1), record("worker", D1), record("multi", D2, build_id="multi-1")]
    stats = run(again, first, lookups, now=LATER)
    assert stats.lookups == 0 and stats.cached == 2 and len(lookups.calls) == 2
    # Nothing changed, so nothing is rewritten: the cache time is the examination's, not the run's.
    assert all(same_content(now, then) for now, then in zip(again, first))


def test_a_new_trust_or_an_aged_unsigned_answer_asks_again() -> None:
    lookups = Lookups({D1: SIGNED})
    first = [record("web", D1), record("multi", D2, build_id="multi-1")]
    run(first, [], lookups)
    stats = run([record("web", D1), record("multi", D2, build_id="multi-1")], first, lookups, now=MUCH_LATER)
    assert stats.lookups == 1 and lookups.calls[-1][1] == D2  # only the unsigned one, six hours on
    stats = run([record("web", D1)], first, lookups, policy=trust(("https://other/",)), now=LATER)
    assert stats.lookups == 1


def test_the_evidence_is_judged_against_the_commit_attributed_now() -> None:
    lookups = Lookups({D1: SIGNED})
    first = [record("web", D1)]
    run(first, [], lookups)
    again = [record("web", D1)]
    run(again, first, lookups, index=index_of(source_commit=OTHER_COMMIT))
    assert len(lookups.calls) == 1
    assert again[0].provenance == "invalid" and again[0].provenance_reason.startswith("commit mismatch")


def test_rejected_evidence_is_invalid_inside_and_unsigned_outside() -> None:
    rejected = Evidence("rejected", "bad signature or untrusted key: verifies under none of the 1 trusted key(s)")
    records = [record("web", D1), record("nginx", D2, build_id=None, image_class="external")]
    run(records, [], Lookups({D1: rejected, D2: rejected}))
    assert [(r.provenance, r.provenance_reason) for r in records] == [("invalid", rejected.reason),
                                                                       ("unsigned", rejected.reason)]


def test_an_unanswered_look_up_is_not_cached_and_no_key_means_no_look_up() -> None:
    lookups = Lookups({D1: None})
    first = [record("web", D1)]
    stats = run(first, [], lookups)
    assert stats.errors == [D1] and first[0].provenance is None
    run([record("web", D1)], first, lookups)
    assert len(lookups.calls) == 2
    untrusting = [record("web", D1)]
    assert run(untrusting, [], lookups, policy=TrustPolicy()).lookups == 0 and untrusting[0].provenance is None


def test_trace_output_shows_the_outcome_and_why() -> None:
    records = [record("web", D1), record("api", D1), record("multi", D2, build_id="multi-1")]
    run(records, [], Lookups({D1: SIGNED}))
    run(records[1:2], [], Lookups({D1: SIGNED}), index=index_of(source_commit=OTHER_COMMIT))

    def line(r: TraceabilityRecord) -> str:
        return next(text for text in render_record(r, {}) if text.strip().startswith("provenance"))

    assert line(records[0]).split(None, 1)[1] == (
        f"verified (builder https://jenkins.example.com/job/app/, commit {COMMIT[:12]}, key {SIGNED.key_id[:19]})")
    assert line(records[1]).split(None, 1)[1].startswith("invalid: commit mismatch")
    assert line(records[2]).split(None, 1)[1] == "unsigned"
