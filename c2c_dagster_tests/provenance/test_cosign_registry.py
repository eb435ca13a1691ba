"""Signed provenance both ways between c2c and the real cosign (2.6.5, keyed, no transparency log),
on the real OCI registry with images Buildah pushed:

- c2c verifies what ``cosign attest`` attached (cosign's own statement around the predicate
  ``c2c-build-metadata --provenance-predicate`` wrote), found by cosign's ``sha256-<hex>.att`` tag;
- ``cosign verify-attestation --key`` accepts what ``c2c-build-metadata --provenance`` wrote, signed
  as a whole statement (``cosign attest-blob --statement``) and attached (``cosign attach``);
- tampering: another key, another digest, another commit, a re-tagged image (provenance follows the
  digest), a multi-arch index whose platform manifests run on their own pods.

Oracles: cosign itself (its verify-attestation verdict, and the envelopes it wrote, which c2c must
read), the registry's digests, and git's commit ids. Nothing is emulated.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from c2c_core.images import parse_reference
from c2c_core.registry.client import RegistryClient
from c2c_dagster.documents.builds import BuildDocument, BuiltPlatform
from c2c_dagster.documents.traceability import TraceabilityRecord
from c2c_dagster.provenance.dsse import load_public_key
from c2c_dagster.provenance.fetch import attestation_envelopes
from c2c_dagster.provenance.verify import TrustPolicy
from c2c_dagster.traceability.correlate import BuildIndex
from c2c_dagster.traceability.provenance import annotate, registry_lookup
from c2c_dagster_tests.core.pipeline.git_history import History, jenkins_env, make_history
from c2c_dagster_tests.core.pipeline.test_build_metadata_cli import run as build_metadata
from c2c_devstack.services.cosign import Cosign, KeyPair

pytestmark = pytest.mark.registry

JOB_URL = "https://jenkins.example.com/job/Node-JS/job/master/"


@pytest.fixture(scope="module")
def cosign(tmp_path_factory: pytest.TempPathFactory) -> Cosign:
    return Cosign.install(tmp_path_factory.mktemp("cosign-home"))


@pytest.fixture(scope="module")
def keys(cosign: Cosign, tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return cosign.generate_key_pair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def other_keys(cosign: Cosign, tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return cosign.generate_key_pair(tmp_path_factory.mktemp("other-keys"), "other")


@pytest.fixture(scope="module")
def trust(keys: KeyPair) -> TrustPolicy:
    return TrustPolicy(keys=(load_public_key(keys.public.read_bytes()),), builders=("https://jenkins.example.com/",))


@pytest.fixture
def history(tmp_path: Path) -> History:
    return make_history(tmp_path)


@dataclass
class Built:
    repository: str
    reference: str  # host/repository@digest
    digest: str
    metadata: dict
    statement: Path
    predicate: Path


def build_with_provenance(registry, history: History, tmp_path: Path, name: str, *, tag: str = "v1",
                          content: str | None = None) -> Built:
    """Buildah pushes an image; the pipeline tool records it with its provenance, as a Jenkinsfile would."""
    repository = f"prov/{name}"
    digest_file = tmp_path / f"{name}.digest"
    digest = registry.build_and_push(repository, tag, files={"app.txt": (content or name) + "\n"},
                                     digest_file=digest_file)
    out = tmp_path / name
    out.mkdir()
    done = build_metadata(["--image", f"{registry.host}/{repository}", "--tag", tag, "--digest-file", str(digest_file),
                           "--output", str(out / "build-metadata.json"), "--provenance", str(out / "statement.json"),
                           "--provenance-predicate", str(out / "predicate.json")],
                          jenkins_env(history, JOB_URL=JOB_URL), cwd=history.repo.path)
    assert done.returncode == 0, done.stderr
    return Built(repository, f"{registry.host}/{repository}@{digest}", digest,
                 json.loads((out / "build-metadata.json").read_text()), out / "statement.json", out / "predicate.json")


def lookup(registry, trust: TrustPolicy):
    """c2c's registry look-up, plain http as the RegistryResource speaks to a listed insecure registry."""
    return registry_lookup(lambda host: RegistryClient(insecure=host == registry.host), trust)


def record_of(built: Built, digest: str | None = None, build_id: str = "b") -> TraceabilityRecord:
    digest = digest or built.digest
    return TraceabilityRecord(record_id=f"c/ns/Deployment/{built.repository}/app/{digest}", image=built.reference,
                              image_digest=digest, build_id=build_id, image_class="internal", digest_state="known")


def judged(records: list[TraceabilityRecord], builds: list[BuildDocument], registry, trust: TrustPolicy):
    stats = annotate(records, previous=[], index=BuildIndex(builds), trust=trust, lookup=lookup(registry, trust),
                     now="2026-12-07T01:00:00Z")
    return [(r.provenance, r.provenance_reason) for r in records], stats


def build_doc(built: Built, build_id: str = "b", commit: str | None = None, **extra) -> BuildDocument:
    return BuildDocument(build_id=build_id, image_digest=built.digest,
                         source_commit=commit or built.metadata["source_commit"], **extra)


def test_c2c_verifies_what_cosign_attest_attached(oci_registry, cosign, keys, trust, history, tmp_path) -> None:
    built = build_with_provenance(oci_registry, history, tmp_path, "attested")
    cosign.attest(keys, built.reference, built.predicate)
    # cosign's tag scheme, read back over the distribution API: one DSSE layer per attestation.
    envelopes = attestation_envelopes(RegistryClient(insecure=True), parse_reference(built.reference), built.digest)
    assert len(envelopes) == 1
    statement = json.loads(base64.b64decode(json.loads(envelopes[0])["payload"]))
    assert statement["subject"][0]["digest"]["sha256"] == built.digest.removeprefix("sha256:")
    assert cosign.verify_attestation(keys, built.reference).returncode == 0

    records = [record_of(built)]
    assert judged(records, [build_doc(built)], oci_registry, trust)[0] == [("verified", None)]
    assert records[0].provenance_commit == history.merge == built.metadata["source_commit"]
    assert records[0].provenance_builder == JOB_URL and records[0].provenance_found_at == built.digest


def test_cosign_accepts_the_statement_the_pipeline_tool_wrote(oci_registry, cosign, keys, trust, history,
                                                               tmp_path) -> None:
    built = build_with_provenance(oci_registry, history, tmp_path, "statement")
    envelope = cosign.sign_statement(keys, built.statement, tmp_path / "statement.dsse.json")
    cosign.attach(envelope, built.reference)
    verdict = cosign.verify_attestation(keys, built.reference)
    assert verdict.returncode == 0, verdict.stderr
    # What cosign printed is our statement, byte for byte in meaning: subject, builder, commit.
    payload = json.loads(base64.b64decode(json.loads(verdict.stdout.splitlines()[0])["payload"]))
    assert payload == json.loads(built.statement.read_text())
    assert judged([record_of(built)], [build_doc(built)], oci_registry, trust)[0] == [("verified", None)]


def test_another_key_is_refused_by_cosign_and_c2c(oci_registry, cosign, keys, other_keys, trust, history,
                                                  tmp_path) -> None:
    built = build_with_provenance(oci_registry, history, tmp_path, "other-key")
    cosign.attest(other_keys, built.reference, built.predicate)
    assert cosign.verify_attestation(keys, built.reference).returncode != 0
    [(state, reason)], _ = judged([record_of(built)], [build_doc(built)], oci_registry, trust)
    assert state == "invalid" and "untrusted key" in reason
    # The same attestation on an external image: unsigned, never invalid.
    outside = record_of(built)
    outside.image_class = "external"
    annotate([outside], previous=[], index=BuildIndex(), trust=trust, lookup=lookup(oci_registry, trust), now="2026-12-07T01:00:00Z")
    assert outside.provenance == "unsigned"


def test_provenance_for_another_digest_is_a_subject_mismatch(oci_registry, cosign, keys, trust, history,
                                                             tmp_path) -> None:
    first = build_with_provenance(oci_registry, history, tmp_path, "subject-a")
    second = build_with_provenance(oci_registry, history, tmp_path, "subject-b")
    # The first image's statement, validly signed, attached to the second image.
    envelope = cosign.sign_statement(keys, first.statement, tmp_path / "first.dsse.json")
    cosign.attach(envelope, second.reference)
    [(state, reason)], _ = judged([record_of(second)], [build_doc(second)], oci_registry, trust)
    assert state == "invalid" and reason.startswith("subject mismatch") and first.digest in reason


def test_provenance_naming_another_commit_is_invalid(oci_registry, cosign, keys, trust, history, tmp_path) -> None:
    built = build_with_provenance(oci_registry, history, tmp_path, "commit")
    cosign.attest(keys, built.reference, built.predicate)
    # c2c attributed the running digest to a build of another commit than the provenance names.
    [(state, reason)], _ = judged([record_of(built)], [build_doc(built, commit=history.initial)], oci_registry, trust)
    assert state == "invalid" and reason.startswith("commit mismatch")
    assert history.merge in reason and history.initial in reason


def test_provenance_follows_the_digest_not_the_tag(oci_registry, cosign, keys, trust, history, tmp_path) -> None:
    built = build_with_provenance(oci_registry, history, tmp_path, "retag", tag="v1")
    cosign.attest(keys, built.reference, built.predicate)
    # The attested image is promoted to "prod" (the same manifest under another tag), then the tag
    # it was built as moves to another image, pushed by hand.
    oci_registry.buildah("push", "--tls-verify=false", f"{oci_registry.host}/{built.repository}:v1",
                         f"docker://{oci_registry.host}/{built.repository}:prod")
    moved = oci_registry.build_and_push(built.repository, "v1", files={"app.txt": "hand-made\n"})
    assert moved != built.digest
    assert oci_registry.manifest_digest(built.repository, "prod") == built.digest
    promoted = record_of(built)
    promoted.image = f"{oci_registry.host}/{built.repository}:prod"
    by_tag = record_of(built, digest=moved, build_id="none")
    by_tag.image = f"{oci_registry.host}/{built.repository}:v1"
    states, stats = judged([promoted, by_tag], [build_doc(built)], oci_registry, trust)
    assert states == [("verified", None), ("unsigned", None)] and stats.lookups == 2


def test_multi_arch_index_attested_once_covers_each_platforms_pods(oci_registry, cosign, keys, trust, history,
                                                                   tmp_path) -> None:
    repository, tag = "prov/multi", "v1"
    list_name = "prov-multi-list"
    oci_registry.buildah("manifest", "create", list_name)
    for arch in ("amd64", "arm64"):
        image = f"{oci_registry.host}/{repository}:{arch}"
        context = tmp_path / arch
        context.mkdir()
        (context / "app.txt").write_text(arch + "\n")
        (context / "Containerfile").write_text("FROM scratch\nCOPY app.txt /app.txt\n")
        oci_registry.buildah("bud", "--isolation", "chroot", "--arch", arch, "-t", image, str(context))
        oci_registry.buildah("manifest", "add", "--os", "linux", "--arch", arch, list_name, image)
    oci_registry.buildah("manifest", "push", "--all", "--tls-verify=false", list_name,
                         f"docker://{oci_registry.host}/{repository}:{tag}")
    out = tmp_path / "multi"
    out.mkdir()
    done = build_metadata(["--image", f"{oci_registry.host}/{repository}", "--tag", tag, "--resolve-digest",
                           "--insecure-registry", "--output", str(out / "m.json"), "--provenance", str(out / "s.json")],
                          jenkins_env(history, JOB_URL=JOB_URL), cwd=history.repo.path)
    assert done.returncode == 0, done.stderr
    metadata = json.loads((out / "m.json").read_text())
    index, platforms = metadata["image_digest"], {p["platform"]: p["digest"] for p in metadata["platform_digests"]}
    statement = json.loads((out / "s.json").read_text())
    # The statement names the index and both platform manifests.
    assert {s["digest"]["sha256"] for s in statement["subject"]} == {
        d.removeprefix("sha256:") for d in (index, *platforms.values())}
    # Attached once, to the index (as a pipeline signing what it pushed does).
    reference = f"{oci_registry.host}/{repository}@{index}"
    cosign.attach(cosign.sign_statement(keys, out / "s.json", tmp_path / "multi.dsse.json"), reference)
    assert cosign.verify_attestation(keys, reference).returncode == 0

    built = Built(repository, reference, index, metadata, out / "s.json", out / "s.json")
    build = BuildDocument(build_id="multi", image_digest=index, source_commit=metadata["source_commit"],
                          platform_digests=[BuiltPlatform(platform=p, digest=d) for p, d in platforms.items()])
    # One pod per platform, each running its platform manifest by digest.
    pods = [record_of(built, digest=platforms[p], build_id="multi") for p in ("linux/amd64", "linux/arm64")]
    states, stats = judged(pods, [build], oci_registry, trust)
    assert states == [("verified", None)] * 2 and stats.lookups == 2
    assert {r.provenance_found_at for r in pods} == {index}

