"""The build-metadata rules on their own: every digest source's format, the git-log record parser,
and that an assembled document passes the schema in the seed's key order."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from c2c_core.builds import Commit
from c2c_core.images import parse_reference
from c2c_core.pipeline.build_metadata import (
    FIELD_ORDER,
    CommitCollection,
    DigestResult,
    DigestSourceError,
    GitError,
    MalformedDigestError,
    assemble_document,
    parse_buildx_metadata,
    parse_digest_file,
    parse_git_log,
    parse_image_name_with_digest,
    parse_kaniko_log,
    redact_url,
    write_json_atomic,
)
from c2c_core.pipeline.schema import schema_errors
from c2c_core.registry.client import PlatformDigest

COMMIT = "3606e8f26e051e93d8784ae87879c77845029b33"
DIGEST = "sha256:a0243d98dd20494f723081c48fa5417bde51458f579718cdccdde03a740725f7"
OTHER = "sha256:" + "b" * 64
IMAGE = parse_reference("narendra115c/node-js")

def test_urls_lose_their_credentials() -> None:
    assert redact_url("https://user:ghp_secret@github.com/a/b.git") == "https://github.com/a/b.git"
    assert redact_url("git@github.com:a/b.git") == "git@github.com:a/b.git"  # scp form: a user, no secret


# -- digest sources -------------------------------------------------------------------------------


def test_digest_file_kaniko_and_buildah() -> None:
    assert parse_digest_file(DIGEST, "d") == DIGEST  # Kaniko writes no newline
    assert parse_digest_file(DIGEST + "\n", "d") == DIGEST  # a hand-written one may have one


@pytest.mark.parametrize(
    "text",
    ["sha256:abc", "sha256:" + "A" * 64, "sha512:" + "a" * 128, "registry/x@" + DIGEST, "a0243d98" * 8],
)
def test_malformed_digest_file_is_a_named_error(text: str) -> None:
    with pytest.raises(MalformedDigestError, match=r"^build/digest: .*sha256:<64 lower-case hex>"):
        parse_digest_file(text, "build/digest")


def test_empty_digest_file_says_the_push_may_have_failed() -> None:
    with pytest.raises(DigestSourceError, match="empty"):
        parse_digest_file("", "d")


def test_image_name_with_digest_picks_the_line_for_the_image() -> None:
    text = (
        f"index.docker.io/other/app@{OTHER}\n"
        f"index.docker.io/narendra115c/node-js:node-js-master-67-3606e8f@{DIGEST}\n"
        f"docker.io/narendra115c/node-js:latest@{DIGEST}\n"
    )
    assert parse_image_name_with_digest(text, IMAGE, "f") == DIGEST
    # A local registry name matches only itself.
    local = parse_reference("127.0.0.1:5000/c2c/app")
    assert parse_image_name_with_digest(f"127.0.0.1:5000/c2c/app@{OTHER}", local, "f") == OTHER


def test_image_name_with_digest_failures_name_the_cause() -> None:
    with pytest.raises(DigestSourceError, match=r"no line for registry-1.docker.io/narendra115c/node-js.*other/app"):
        parse_image_name_with_digest(f"index.docker.io/other/app@{OTHER}\n", IMAGE, "f")
    with pytest.raises(DigestSourceError, match="several digests"):
        parse_image_name_with_digest(f"narendra115c/node-js:a@{DIGEST}\nnarendra115c/node-js:b@{OTHER}", IMAGE, "f")
    with pytest.raises(MalformedDigestError, match="line 1 .*has no @sha256"):
        parse_image_name_with_digest("narendra115c/node-js:tag\n", IMAGE, "f")
    with pytest.raises(MalformedDigestError, match="f line 2"):
        parse_image_name_with_digest(f"x/y@{DIGEST}\nnarendra115c/node-js@sha256:123\n", IMAGE, "f")


KANIKO_LOG = f"""\
INFO[0000] Retrieving image manifest node:18-alpine
INFO[0003] Built cross stage deps: map[]
INFO[0011] Taking snapshot of full filesystem...
INFO[0012] Pushing image to narendra115c/node-js:node-js-master-67-3606e8f
\x1b[36mINFO\x1b[0m[0014] Pushed index.docker.io/narendra115c/node-js@{DIGEST}
"""


def test_kaniko_log_pushed_line() -> None:
    assert parse_kaniko_log(KANIKO_LOG, IMAGE, "kaniko.log") == DIGEST


def test_kaniko_log_failures_name_the_cause() -> None:
    with pytest.raises(DigestSourceError, match="no 'Pushed <image>@sha256:<digest>' line"):
        parse_kaniko_log("INFO[0012] error pushing image: 401 Unauthorized\n", IMAGE, "kaniko.log")
    with pytest.raises(DigestSourceError, match="repositories found: registry-1.docker.io/someone/else"):
        parse_kaniko_log(f"Pushed index.docker.io/someone/else@{DIGEST}\n", IMAGE, "kaniko.log")
    with pytest.raises(MalformedDigestError, match="kaniko.log 'Pushed' line"):
        parse_kaniko_log("Pushed index.docker.io/narendra115c/node-js@sha256:deadbeef\n", IMAGE, "kaniko.log")


def test_buildx_metadata_single_and_multi_platform() -> None:
    single = {"containerimage.digest": DIGEST, "image.name": "docker.io/narendra115c/node-js:t"}
    assert parse_buildx_metadata(json.dumps(single), IMAGE, "m").digest == DIGEST
    multi = {
        "containerimage.descriptor": {
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": DIGEST,
            "size": 856,
        },
        "containerimage.digest": DIGEST,
        "image.name": "docker.io/narendra115c/node-js:t",
    }
    result = parse_buildx_metadata(json.dumps(multi), IMAGE, "m")
    assert (result.digest, result.media_type) == (DIGEST, "application/vnd.oci.image.index.v1+json")
    # Only the descriptor: its digest is the image's.
    only_descriptor = {"containerimage.descriptor": {"mediaType": "x", "digest": OTHER}}
    assert parse_buildx_metadata(json.dumps(only_descriptor), IMAGE, "m").digest == OTHER


def test_buildx_bake_metadata_picks_the_target_for_the_image() -> None:
    bake = {
        "api": {"containerimage.digest": OTHER, "image.name": "docker.io/acme/api:1"},
        "web": {"containerimage.digest": DIGEST, "image.name": "acme/other:1,narendra115c/node-js:1"},
    }
    assert parse_buildx_metadata(json.dumps(bake), IMAGE, "m").digest == DIGEST


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        ("{not json", MalformedDigestError, "not JSON"),
        ("[]", MalformedDigestError, "expected a JSON object"),
        ('{"buildx.build.ref": "x"}', DigestSourceError, "no containerimage.digest"),
        (
            json.dumps({"containerimage.digest": DIGEST, "image.name": "docker.io/acme/other:1"}),
            DigestSourceError,
            r"no image.name is registry-1.docker.io/narendra115c/node-js \(found: docker.io/acme/other:1\)",
        ),
        ('{"containerimage.digest": "sha256:zz"}', MalformedDigestError, "containerimage.digest"),
        (
            json.dumps({"containerimage.digest": DIGEST, "containerimage.descriptor": {"digest": OTHER}}),
            MalformedDigestError,
            "differs",
        ),
    ],
)
def test_buildx_metadata_failures(content: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        parse_buildx_metadata(content, IMAGE, "m")


# -- commits and the document ---------------------------------------------------------------------


def test_git_log_records_survive_newlines_and_pipes_and_keep_the_commit_time_in_utc() -> None:
    message = "Fix | pipes\n\nBody line one\nBody line two | more"
    output = (f"{COMMIT}\x00Ann\x00ann@x\x002026-01-31T07:45:18+02:00\x00{message}\n\x00"
              f"{'1' * 40}\x00Bob\x00bob@x\x002026-01-30T23:00:00Z\x00Second\n\x00")
    assert parse_git_log(output) == [
        Commit(COMMIT, "Ann", "ann@x", message, "2026-01-31T05:45:18Z"),
        Commit("1" * 40, "Bob", "bob@x", "Second", "2026-01-30T23:00:00Z"),
    ]
    assert parse_git_log("") == []
    with pytest.raises(GitError, match="not ISO 8601"):
        parse_git_log(f"{COMMIT}\x00Ann\x00ann@x\x00yesterday\x00m\x00")


def test_a_commit_time_is_optional_but_checked_when_present() -> None:
    doc = _document((Commit(COMMIT, "Ann", "ann@x", "m", "2026-01-31T05:45:18Z"),))
    assert schema_errors(doc) == [] and doc["commits"][0]["timestamp"] == "2026-01-31T05:45:18Z"
    older = _document((Commit(COMMIT, "Ann", "ann@x", "m"),))  # written before commit times were
    assert schema_errors(older) == [] and "timestamp" not in older["commits"][0]
    older["commits"][0]["timestamp"] = "last week"
    assert schema_errors(older) == ["commits[0].timestamp 'last week' is not an ISO 8601 time"]


def _document(commits: tuple[Commit, ...]) -> dict:
    return assemble_document(
        job_name="Node-JS/master", build_number=67, image_name="narendra115c/node-js",
        image_tag="node-js-master-67-3606e8f", digest=DigestResult(DIGEST, "test"),
        collection=CommitCollection(commits, head=COMMIT, previous=None), build_status="SUCCESS",
        timestamp=datetime(2026, 1, 31, 5, 45, 18, tzinfo=UTC), branch="master", repo_url=None,
    )


def test_assembled_document_passes_the_schema_in_seed_order(tmp_path: Path) -> None:
    commits = (Commit(COMMIT, "Narendra Sivangula", "narendrakumarsivangula@gmail.com", "Update index.js"),)
    doc = assemble_document(
        job_name="Node-JS/master",
        build_number=67,
        image_name="narendra115c/node-js",
        image_tag="node-js-master-67-3606e8f",
        digest=DigestResult(DIGEST, "test", platform_digests=(PlatformDigest("linux/amd64", OTHER),)),
        collection=CommitCollection(commits, head=COMMIT, previous=None),
        build_status="SUCCESS",
        timestamp=datetime(2026, 1, 31, 5, 45, 18, 123456, tzinfo=UTC),
        branch="master",
        repo_url="https://x:y@github.com/n/node-js.git",
    )
    assert schema_errors(doc) == []
    assert tuple(doc) == FIELD_ORDER
    # The seed's example, field for field.
    assert doc["build_id"] == "Node-JS/master-67"
    assert doc["timestamp"] == "2026-01-31T05:45:18Z"
    assert doc["authors"] == ["Narendra Sivangula <narendrakumarsivangula@gmail.com>"]
    assert doc["commit_range"] == {"from": None, "to": COMMIT}
    assert doc["platform_digests"] == [{"platform": "linux/amd64", "digest": OTHER}]
    assert doc["repo_url"] == "https://github.com/n/node-js.git"

    out = tmp_path / "build-metadata.json"
    out.write_text("old")
    write_json_atomic(out, doc)
    assert json.loads(out.read_text()) == doc
    assert list(json.loads(out.read_text())) == list(FIELD_ORDER)  # order survives the file
    assert [p.name for p in tmp_path.iterdir()] == ["build-metadata.json"]  # no temp file left
