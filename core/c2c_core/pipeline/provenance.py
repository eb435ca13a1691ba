"""SLSA build provenance for the image a pipeline built: an in-toto Statement v1 whose predicate
is SLSA Provenance v1 (https://slsa.dev/spec/v1.0/provenance), written unsigned by
``c2c-build-metadata --provenance`` and signed by cosign in the pipeline (``cosign attest`` with
the predicate, or ``cosign attest-blob --statement`` then ``cosign attach attestation`` for the
whole statement). Pure: the CLI gathers the values, this module shapes them.

The names here are the contract with c2c's verifier (``c2c_dagster/provenance``): the source
commit is the ``gitCommit`` of the first resolved dependency, the builder is
``runDetails.builder.id`` (the Jenkins job URL: controller and job).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from c2c_core.images import ImageReference
from c2c_core.registry.client import PlatformDigest
from c2c_core.timeutil import iso_utc

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
#: What cosign 2.x writes when it wraps a predicate itself (``cosign attest --predicate``).
STATEMENT_TYPE_V01 = "https://in-toto.io/Statement/v0.1"
SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
#: c2c's build type: a Jenkins job that built and pushed one image (a URI of its own, as SLSA asks;
#: external parameters ``job`` and ``branch``, the application repository as resolved dependency).
JENKINS_BUILD_TYPE = "https://c2c.io/build-types/jenkins-image/v1"


def subjects(image: ImageReference, digest: str, platform_digests: Sequence[PlatformDigest] = ()) -> list[dict]:
    """The image by digest, then each platform manifest of a multi-arch index (a node runs one of
    those, so the statement names them too). Subject names are the repository, as cosign writes."""
    names = [(image.name, digest)] + [(image.name, p.digest) for p in platform_digests if p.digest != digest]
    return [{"name": name, "digest": {"sha256": value.removeprefix("sha256:")}} for name, value in names]


def git_uri(repo_url: str) -> str:
    """SLSA's spelling of a git source (``git+https://…``), without a credential (the caller redacts)."""
    return repo_url if repo_url.startswith("git+") else f"git+{repo_url}"


def job_url_of(build_url: str | None) -> str | None:
    """Jenkins' ``JOB_URL`` from a ``BUILD_URL`` (``…/job/app/job/main/67/`` -> ``…/job/app/job/main/``)."""
    if not build_url:
        return None
    head, _, last = build_url.rstrip("/").rpartition("/")
    return f"{head}/" if last.isdigit() and head else None


def predicate(
    *,
    job_name: str,
    branch: str | None,
    repo_url: str | None,
    source_commit: str,
    builder_id: str,
    build_url: str | None,
    started_on: datetime | None,
    finished_on: datetime,
    build_number: int | None = None,
) -> dict[str, Any]:
    """The SLSA Provenance v1 predicate of one Jenkins build."""
    external: dict[str, Any] = {"job": job_name}
    if branch:
        external["branch"] = branch
    dependency: dict[str, Any] = {"digest": {"gitCommit": source_commit}}
    if repo_url:
        dependency = {"uri": git_uri(repo_url), **dependency}
    metadata: dict[str, Any] = {}
    if build_url:
        metadata["invocationId"] = build_url
    if started_on is not None:
        metadata["startedOn"] = iso_utc(started_on.replace(microsecond=0))
    metadata["finishedOn"] = iso_utc(finished_on.replace(microsecond=0))
    internal = {"buildNumber": build_number} if build_number is not None else None
    definition: dict[str, Any] = {"buildType": JENKINS_BUILD_TYPE, "externalParameters": external}
    if internal:
        definition["internalParameters"] = internal
    definition["resolvedDependencies"] = [dependency]
    return {"buildDefinition": definition, "runDetails": {"builder": {"id": builder_id}, "metadata": metadata}}


def statement(image: ImageReference, digest: str, platform_digests: Sequence[PlatformDigest],
              predicate_body: dict[str, Any]) -> dict[str, Any]:
    """The in-toto Statement v1 naming the image (and its platform manifests) as subjects."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects(image, digest, platform_digests),
        "predicateType": SLSA_PROVENANCE_V1,
        "predicate": predicate_body,
    }
