"""Provenance through the real ``traceability_records`` asset, on the real services: images pushed
to the real registry, attested by the real cosign with a key the image policy file trusts, builds
through the Jenkins emulator, pods on the real control plane (kwok as the runtime). An attested
image is ``verified``, one whose provenance names another commit than its build is ``invalid`` and
fails the blocking check, a hand-pushed internal image is ``unsigned`` and warned about (the policy
requires provenance); a second run where nothing changed asks the registry nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from c2c_core.images import parse_reference
from c2c_core.pipeline.provenance import predicate
from c2c_core.timeutil import utc_now
from c2c_dagster.traceability.resources import ImagePolicyResource
from c2c_dagster_tests.traceability.pipeline import Pipeline, sha
from c2c_devstack.services.cosign import Cosign

JOB_URL = "https://jenkins.example.com/job/shop/job/web/job/main/"


def attest(cosign: Cosign, keys, pipeline: Pipeline, reference: str, commit: str, tmp_path: Path) -> None:
    """What the Jenkinsfile's Provenance stage does: cosign attest the tool's predicate."""
    body = predicate(job_name=pipeline.job, branch="main", repo_url="https://git.example.com/shop/web.git",
                     source_commit=commit, builder_id=JOB_URL, build_url=f"{JOB_URL}1/", started_on=None,
                     finished_on=utc_now())
    path = tmp_path / f"{parse_reference(reference).digest.removeprefix('sha256:')[:12]}.predicate.json"
    path.write_text(json.dumps(body))
    cosign.attest(keys, reference, path)


@pytest.mark.registry
@pytest.mark.kubernetes
def test_verified_invalid_and_unsigned_records_and_a_cached_rescan(pipeline: Pipeline, tmp_path: Path) -> None:
    cosign = Cosign.install(tmp_path / "cosign-home")
    keys = cosign.generate_key_pair(tmp_path / "keys")
    policy = tmp_path / "image-policy.yaml"
    policy.write_text(f"internal: [{pipeline.registry.host}]\ntrusted_keys: [keys/cosign.pub]\n"
                      f"trusted_builders: ['https://jenkins.example.com/']\nrequire_provenance: true\n")
    pipeline.image_policy = ImagePolicyResource(policy_file=str(policy))

    good, other = sha("provenance good"), sha("provenance other")
    web = pipeline.push("web", "v1", "signed", revision=good)
    api = pipeline.push("api", "v1", "signed, wrong commit", revision=good)
    tool = pipeline.push("tool", "v1", "hand-pushed", revision=good)
    pipeline.ci_build(1, "web", "v1", web, commit=good)
    pipeline.ci_build(2, "api", "v1", api, commit=good)
    attest(cosign, keys, pipeline, pipeline.ref("web", web), good, tmp_path)
    attest(cosign, keys, pipeline, pipeline.ref("api", api), other, tmp_path)  # names another commit
    for name, digest in (("web", web), ("api", api), ("tool", tool)):
        pipeline.deploy(name, pipeline.ref(name, digest), replicas=1)
    for name in ("web", "api", "tool"):
        pipeline.wait_running(name, 1)

    records = {r["workload_name"]: r for r in pipeline.run(checks_may_block=True)}
    assert records["web"]["provenance"] == "verified" and records["web"]["provenance_commit"] == good
    assert records["web"]["provenance_builder"] == JOB_URL
    assert records["api"]["provenance"] == "invalid"
    assert records["api"]["provenance_reason"].startswith("commit mismatch") and other in records["api"]["provenance_reason"]
    assert (records["tool"]["provenance"], records["tool"]["image_class"]) == ("unsigned", "internal")
    flagged = pipeline.flagged()
    assert flagged["no_invalid_provenance"] == [records["api"]["record_id"]]
    assert flagged["internal_images_have_provenance"] == [records["tool"]["record_id"]]
    blocking = {e.check_name: e for e in pipeline.last_run.get_asset_check_evaluations()}
    assert blocking["no_invalid_provenance"].severity.value == "ERROR" and not blocking["no_invalid_provenance"].passed
    assert not pipeline.last_run.success  # blocking: what depends on the records waits

    # Nothing changed: the records hold each digest's evidence under the same trust.
    again = {r["workload_name"]: r for r in pipeline.run(checks_may_block=True)}
    [materialization] = pipeline.last_run.asset_materializations_for_node("traceability_records")
    assert materialization.metadata["provenance_lookups"].value == 0
    assert {n: r["provenance"] for n, r in again.items()} == {"web": "verified", "api": "invalid", "tool": "unsigned"}
