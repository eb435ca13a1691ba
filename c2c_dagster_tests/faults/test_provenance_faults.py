"""Provenance look-ups when the registry misbehaves, on the real registry (and a closed port for an
unreachable one): an unreachable registry leaves the record unchecked and uncached, never
``unsigned``; an attestation whose envelope is not a DSSE envelope is ``invalid``, and the run goes on."""

from __future__ import annotations

import json

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from c2c_core.registry.client import RegistryClient
from c2c_dagster.documents.traceability import TraceabilityRecord
from c2c_dagster.provenance.dsse import load_public_key
from c2c_dagster.provenance.fetch import DSSE_MEDIA_TYPE, attestation_tag
from c2c_dagster.provenance.verify import TrustPolicy
from c2c_dagster.traceability.correlate import BuildIndex
from c2c_dagster.traceability.provenance import annotate, registry_lookup
from c2c_devstack.services import free_port

pytestmark = pytest.mark.registry

NOW = "2026-12-07T01:00:00Z"


def trust() -> TrustPolicy:
    pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return TrustPolicy(keys=(load_public_key(pem),), builders=("https://jenkins.example.com/",))


def record(image: str, digest: str) -> TraceabilityRecord:
    return TraceabilityRecord(record_id=f"c/ns/Deployment/w/app/{digest}", image=image, image_digest=digest,
                              image_class="internal", digest_state="known")


def test_an_unreachable_registry_leaves_provenance_unchecked_and_uncached(fault_report) -> None:
    host = f"127.0.0.1:{free_port()}"  # nothing listens there
    digest = "sha256:" + "a" * 64
    policy = trust()
    lookup = registry_lookup(lambda _: RegistryClient(insecure=True, retries=1, backoff=0.1), policy)
    records = [record(f"{host}/shop/web@{digest}", digest)]
    stats = annotate(records, previous=[], index=BuildIndex(), trust=policy, lookup=lookup, now=NOW)
    assert stats.errors == [digest] and records[0].provenance is None and records[0].provenance_evidence is None
    again = [record(f"{host}/shop/web@{digest}", digest)]
    next_run = annotate(again, previous=records, index=BuildIndex(), trust=policy, lookup=lookup, now=NOW)
    assert next_run.lookups == 1 and next_run.errors == [digest]
    fault_report(fault="registry unreachable during the provenance look-up (connection refused)",
                 expected="record left unchecked (no provenance), nothing cached, asked again next run",
                 observed=f"provenance={records[0].provenance}, errors={stats.errors}, "
                          f"look-ups on the next run={next_run.lookups}")


def test_a_corrupt_attestation_layer_is_invalid(oci_registry, fault_report) -> None:
    repository = "faults/corrupt-att"
    digest = oci_registry.build_and_push(repository, "v1")
    config = oci_registry.push_blob(repository, b"{}")
    layer = oci_registry.push_blob(repository, b"this is not a DSSE envelope")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
                "layers": [{"mediaType": DSSE_MEDIA_TYPE, "digest": layer, "size": 27}]}
    requests.put(f"{oci_registry.url}/v2/{repository}/manifests/{attestation_tag(digest)}", data=json.dumps(manifest),
                 headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, timeout=10).raise_for_status()
    policy = trust()
    lookup = registry_lookup(lambda host: RegistryClient(insecure=host == oci_registry.host), policy)
    records = [record(f"{oci_registry.host}/{repository}@{digest}", digest)]
    stats = annotate(records, previous=[], index=BuildIndex(), trust=policy, lookup=lookup, now=NOW)
    assert stats.lookups == 1 and not stats.errors
    assert records[0].provenance == "invalid" and records[0].provenance_reason.startswith("malformed attestation")
    fault_report(fault="the image's sha256-<hex>.att layer is not a DSSE envelope",
                 expected="provenance invalid, naming the malformed envelope; the run goes on",
                 observed=f"provenance={records[0].provenance}: {records[0].provenance_reason}")
