"""The verifier's rules, called directly: DSSE's PAE (the spec's own example), signature checks
under trusted keys, and each reason provenance is rejected or judged invalid.

Envelopes here are signed in-process with ``cryptography`` (ECDSA P-256/SHA-256, as cosign's
generated keys) to reach every branch; that cosign's own envelopes verify the same way is proved
against the real cosign in ``test_cosign_registry.py``.
"""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from c2c_dagster.provenance.dsse import load_public_key, pae, parse_envelope, signer
from c2c_dagster.provenance.verify import (
    INVALID,
    NONE,
    UNSIGNED,
    VERIFIED,
    TrustPolicy,
    builder_trusted,
    examine,
    judge,
)

RUNNING = "sha256:" + "a" * 64
INDEX = "sha256:" + "b" * 64
OTHER = "sha256:" + "c" * 64
COMMIT = "3606e8f" + "0" * 33
BUILDER = "https://jenkins.example.com/job/app/job/main/"


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def statement(*subjects: str, builder: str = BUILDER, commit: str | None = COMMIT,
              predicate_type: str = "https://slsa.dev/provenance/v1") -> dict:
    deps = [{"uri": "git+https://git.example.com/app.git", "digest": {"gitCommit": commit}}] if commit else []
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "registry.example.com/app", "digest": {"sha256": s.removeprefix("sha256:")}}
                    for s in subjects],
        "predicateType": predicate_type,
        "predicate": {"buildDefinition": {"buildType": "https://c2c.io/build-types/jenkins-image/v1",
                                          "externalParameters": {"job": "app/main"}, "resolvedDependencies": deps},
                      "runDetails": {"builder": {"id": builder}, "metadata": {}}},
    }


def envelope(key: ec.EllipticCurvePrivateKey, body: dict, *, tamper: bool = False) -> bytes:
    payload = json.dumps(body).encode()
    signature = key.sign(pae("application/vnd.in-toto+json", payload), ec.ECDSA(hashes.SHA256()))
    if tamper:
        payload = payload.replace(COMMIT.encode(), b"f" * 40)
    return json.dumps({"payloadType": "application/vnd.in-toto+json",
                       "payload": base64.b64encode(payload).decode(),
                       "signatures": [{"keyid": "", "sig": base64.b64encode(signature).decode()}]}).encode()


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return new_key()


@pytest.fixture(scope="module")
def policy(key) -> TrustPolicy:
    return TrustPolicy(keys=(load_public_key(public_pem(key)),), builders=("https://jenkins.example.com/",))


def test_pae_is_the_dsse_specs_example() -> None:
    # protocol.md of secure-systems-lab/dsse, "Test vector".
    assert pae("http://example.com/HelloWorld", b"hello world") == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"


def test_signed_provenance_of_the_running_digest_is_signed_evidence(key, policy) -> None:
    evidence = examine([envelope(key, statement(RUNNING))], running=RUNNING, index=None, policy=policy, found_at=RUNNING)
    assert (evidence.outcome, evidence.commit, evidence.builder, evidence.found_at) == ("signed", COMMIT, BUILDER, RUNNING)
    assert evidence.key_id == policy.keys[0].key_id
    assert judge(evidence, attributed_commit=COMMIT, external=False) == (VERIFIED, None)


def test_provenance_of_the_index_covers_its_platform_manifest(key, policy) -> None:
    evidence = examine([envelope(key, statement(INDEX))], running=RUNNING, index=INDEX, policy=policy)
    assert evidence.outcome == "signed"
    without_index = examine([envelope(key, statement(INDEX))], running=RUNNING, index=None, policy=policy)
    assert without_index.outcome == "rejected" and without_index.reason.startswith("subject mismatch")


def test_another_key_is_rejected_and_judged_invalid_for_internal_unsigned_for_external(policy) -> None:
    evidence = examine([envelope(new_key(), statement(RUNNING))], running=RUNNING, index=None, policy=policy)
    assert evidence.outcome == "rejected" and "untrusted key" in evidence.reason
    assert judge(evidence, attributed_commit=COMMIT, external=False)[0] == INVALID
    assert judge(evidence, attributed_commit=None, external=True)[0] == UNSIGNED


def test_a_tampered_payload_fails_its_signature(key, policy) -> None:
    raw = envelope(key, statement(RUNNING), tamper=True)
    assert signer(parse_envelope(raw), policy.keys) is None
    assert examine([raw], running=RUNNING, index=None, policy=policy).outcome == "rejected"


def test_another_digest_an_untrusted_builder_and_no_commit_are_rejected(key, policy) -> None:
    def reason(body: dict) -> str:
        evidence = examine([envelope(key, body)], running=RUNNING, index=None, policy=policy)
        assert evidence.outcome == "rejected"
        return evidence.reason

    assert reason(statement(OTHER)).startswith("subject mismatch")
    assert reason(statement(RUNNING, builder="https://ci.attacker.example/job/app/")).startswith("untrusted builder")
    assert "no source commit" in reason(statement(RUNNING, commit=None))


def test_a_commit_other_than_the_attributed_one_is_invalid(key, policy) -> None:
    evidence = examine([envelope(key, statement(RUNNING))], running=RUNNING, index=None, policy=policy)
    state, why = judge(evidence, attributed_commit="e" * 40, external=False)
    assert state == INVALID and why.startswith("commit mismatch") and COMMIT in why


def test_other_attestations_are_not_provenance_and_a_good_one_wins(key, policy) -> None:
    sbom = envelope(key, statement(RUNNING, predicate_type="https://spdx.dev/Document"))
    assert examine([sbom], running=RUNNING, index=None, policy=policy) == NONE
    bad, good = envelope(new_key(), statement(RUNNING)), envelope(key, statement(RUNNING))
    assert examine([bad, sbom, good], running=RUNNING, index=None, policy=policy).outcome == "signed"
    assert judge(NONE, attributed_commit=COMMIT, external=False) == (UNSIGNED, None)


def test_builder_prefixes_end_at_a_path_boundary() -> None:
    assert builder_trusted(BUILDER, ["https://jenkins.example.com"])
    assert builder_trusted(BUILDER, [BUILDER])
    assert not builder_trusted("https://jenkins.example.com.evil/job/x/", ["https://jenkins.example.com"])
    assert not builder_trusted(None, ["https://jenkins.example.com/"])


def test_the_fingerprint_follows_keys_and_builders(key) -> None:
    trusted = load_public_key(public_pem(key))
    one = TrustPolicy(keys=(trusted,), builders=("https://a/",))
    assert one.fingerprint == TrustPolicy(keys=(trusted,), builders=("https://a/",), require=True).fingerprint
    assert one.fingerprint != TrustPolicy(keys=(trusted,), builders=("https://b/",)).fingerprint
    assert not TrustPolicy().enabled
