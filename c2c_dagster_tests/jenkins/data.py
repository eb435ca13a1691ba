"""Build data for the Jenkins emulator: build-metadata artifacts shaped as c2c-build-metadata writes them."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from c2c_devstack.emulators.jenkins import EmulatedBuild, JenkinsEmulator


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp() * 1000)


def fake_sha(seed: str) -> str:
    """A well-formed commit id for tests that do not need a real repository."""
    return hashlib.sha1(seed.encode()).hexdigest()


def metadata_artifact(job: str, number: int, digest: str, *, at: str, commit: str | None = None) -> dict:
    commit = commit or fake_sha(f"{job}-{number}")
    return {
        "build_id": f"{job}-{number}",
        "job_name": job,
        "build_number": number,
        "branch": "master",
        "image_name": "registry.local/app",
        "image_tag": f"app-{number}-{commit[:7]}",
        "image_digest": digest,
        "commits": [{"commit_id": commit, "author": "Ada Lovelace", "email": "ada@example.com", "message": f"change {number}"}],
        "authors": ["Ada Lovelace <ada@example.com>"],
        "build_status": "SUCCESS",
        "timestamp": at,
    }


def add_build(
    emulator: JenkinsEmulator,
    job: str,
    number: int,
    *,
    at: str,
    result: str | None = "SUCCESS",
    artifact: dict | bytes | None = None,
) -> EmulatedBuild:
    """A build started at ``at``; ``artifact`` is archived as build-metadata.json (dict -> JSON)."""
    artifacts = {}
    if artifact is not None:
        artifacts["build-metadata.json"] = artifact if isinstance(artifact, bytes) else json.dumps(artifact).encode()
    return emulator.add_build(job, EmulatedBuild(number, result, ms(at), artifacts=artifacts))


def digest_of(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()
