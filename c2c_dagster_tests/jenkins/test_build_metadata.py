"""The build-metadata rules on their own: tag naming, every digest source's format, image references,
the git-log record parser, and that an assembled document passes the schema in the seed's key order."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from c2c_dagster.jenkins.build_metadata import (
    FIELD_ORDER,
    Commit,
    CommitCollection,
    DigestResult,
    DigestSourceError,
    MalformedDigestError,
    assemble_document,
    authors_of,
    branch_name,
    build_id,
    is_null_commit,
    parse_buildx_metadata,
    parse_digest_file,
    parse_git_log,
    parse_image_name_with_digest,
    parse_kaniko_log,
    redact_url,
    safe_tag,
    write_json_atomic,
)
from c2c_dagster.jenkins.schema import schema_errors
from c2c_dagster.registry.client import PlatformDigest, parse_challenge, platform_manifests
from c2c_dagster.registry.reference import InvalidReferenceError, parse_reference

COMMIT = "3606e8f26e051e93d8784ae87879c77845029b33"
DIGEST = "sha256:a0243d98dd20494f723081c48fa5417bde51458f579718cdccdde03a740725f7"
OTHER = "sha256:" + "b" * 64
IMAGE = parse_reference("narendra115c/node-js")

# -- tag ------------------------------------------------------------------------------------------


def test_tag_is_the_seeds_example() -> None:
    assert safe_tag("Node-JS/master", 67, COMMIT) == "node-js-master-67-3606e8f"
    assert build_id("Node-JS/master", 67) == "Node-JS/master-67"


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        ("Team Apps » api/feature%2Fx", "team-apps-api-feature-2fx-5-3606e8f"),  # folders, spaces, encoded branch
        ("a//b__c..d", "a-b__c..d-5-3606e8f"),  # runs of replaced chars collapse; _ and . are kept
        (".hidden", "hidden-5-3606e8f"),  # a tag must not start with '.'
        ("-dash-", "dash-5-3606e8f"),  # ... or '-'
        ("///", "5-3606e8f"),  # nothing usable left of the job name: number and commit remain
        ("ÄPFEL/Ünit", "pfel-nit-5-3606e8f"),  # non-ASCII is outside [a-z0-9_.-]
    ],
)
def test_tag_sanitises_the_job_name(job: str, expected: str) -> None:
    assert safe_tag(job, 5, COMMIT) == expected


def test_long_job_name_is_truncated_never_the_number_or_commit() -> None:
    tag = safe_tag("x" * 300, 123456, COMMIT.upper())
    assert len(tag) == 128
    assert tag.endswith("-123456-3606e8f")
    # Truncation that would end the job part in a separator drops the separator too.
    # 128 - len("-1-3606e8f") leaves 118 characters: the cut falls right after the '-'.
    tag = safe_tag("a" * 117 + "-" + "b" * 50, 1, COMMIT)
    assert tag == "a" * 117 + "-1-3606e8f"


@pytest.mark.parametrize(("number", "commit"), [(-1, COMMIT), (True, COMMIT), (1, "xyz"), (1, "abc")])
def test_tag_rejects_bad_number_or_commit(number: int, commit: str) -> None:
    with pytest.raises(ValueError):
        safe_tag("job", number, commit)


def test_branch_url_and_null_commit_helpers() -> None:
    assert branch_name("origin/master") == "master"
    assert branch_name("origin/feature/x") == "feature/x"
    assert branch_name("refs/heads/main") == "main"
    assert branch_name("main") == "main"
    assert branch_name(None) is None
    assert redact_url("https://user:ghp_secret@github.com/a/b.git") == "https://github.com/a/b.git"
    assert redact_url("git@github.com:a/b.git") == "git@github.com:a/b.git"  # scp form: a user, no secret
    assert is_null_commit("0" * 40) and not is_null_commit(COMMIT) and not is_null_commit(None)


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


# -- image references -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("nginx", "registry-1.docker.io", "library/nginx", None, None),
        ("narendra115c/node-js", "registry-1.docker.io", "narendra115c/node-js", None, None),
        ("docker.io/narendra115c/node-js:t1", "registry-1.docker.io", "narendra115c/node-js", "t1", None),
        ("index.docker.io/library/nginx", "registry-1.docker.io", "library/nginx", None, None),
        ("localhost/app", "localhost", "app", None, None),
        ("localhost:5000/team/app:v1", "localhost:5000", "team/app", "v1", None),
        ("127.0.0.1:5000/c2c/app@" + DIGEST, "127.0.0.1:5000", "c2c/app", None, DIGEST),
        ("ghcr.io/org/sub/app:1.0@" + DIGEST, "ghcr.io", "org/sub/app", "1.0", DIGEST),
        ("Registry/app", "Registry", "app", None, None),  # upper case cannot be a path: a host
        ("team/app:latest", "registry-1.docker.io", "team/app", "latest", None),
        ("[::1]:5000/app", "[::1]:5000", "app", None, None),
    ],
)
def test_reference_parsing(text: str, registry: str, repository: str, tag: str | None, digest: str | None) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)


def test_reference_identity_and_rendering() -> None:
    assert parse_reference("narendra115c/node-js").same_repository(
        parse_reference("index.docker.io/narendra115c/node-js:x")
    )
    assert not parse_reference("a/b").same_repository(parse_reference("ghcr.io/a/b"))
    ref = parse_reference("127.0.0.1:5000/c2c/app").with_tag("v1")
    assert str(ref) == "127.0.0.1:5000/c2c/app:v1" and ref.manifest_reference == "v1"
    assert parse_reference("app").manifest_reference == "latest"
    assert str(ref.with_digest(DIGEST)) == f"127.0.0.1:5000/c2c/app:v1@{DIGEST}"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("Narendra/Node", "upper case"),
        ("app:bad tag", "invalid tag"),
        ("app:.dot", "invalid tag"),
        ("app@sha256:xyz", "invalid digest"),
        ("a//b", "empty repository component"),
        ("https://ghcr.io/a/b", "URL scheme"),
        ("ghcr.io/", "no repository"),
        ("my_host.io/a-/b", "a-"),
    ],
)
def test_invalid_references_say_why(text: str, why: str) -> None:
    with pytest.raises(InvalidReferenceError, match=why):
        parse_reference(text)


# -- registry protocol pieces ---------------------------------------------------------------------


def test_parse_bearer_and_basic_challenges() -> None:
    header = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push"'
    assert parse_challenge(header) == (
        "bearer",
        {"realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:a/b:pull,push"},
    )
    assert parse_challenge('Basic realm="Registry Realm"') == ("basic", {"realm": "Registry Realm"})
    assert parse_challenge('bearer realm=http://h/t, error="insufficient_scope"') == (
        "bearer",
        {"realm": "http://h/t", "error": "insufficient_scope"},
    )
    assert parse_challenge(None) is None and parse_challenge("") is None


def test_platform_manifests_skip_attestations() -> None:
    index = {
        "manifests": [
            {"mediaType": "m", "digest": DIGEST, "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": "m", "digest": OTHER, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {
                "mediaType": "m",
                "digest": "sha256:" + "c" * 64,
                "platform": {"os": "unknown", "architecture": "unknown"},
                "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
            },
        ]
    }
    assert [p.as_dict() for p in platform_manifests(index)] == [
        {"platform": "linux/amd64", "digest": DIGEST},
        {"platform": "linux/arm64/v8", "digest": OTHER},
    ]


# -- commits and the document ---------------------------------------------------------------------


def test_git_log_records_survive_newlines_and_pipes() -> None:
    message = "Fix | pipes\n\nBody line one\nBody line two | more"
    output = f"{COMMIT}\x00Ann\x00ann@x\x00{message}\n\x00{'1' * 40}\x00Bob\x00bob@x\x00Second\n\x00"
    assert parse_git_log(output) == [
        Commit(COMMIT, "Ann", "ann@x", message),
        Commit("1" * 40, "Bob", "bob@x", "Second"),
    ]
    assert parse_git_log("") == []


def test_authors_are_deduplicated_in_order_of_first_appearance() -> None:
    commits = [
        Commit("1" * 40, "Bob", "bob@x", "m"),
        Commit("2" * 40, "Ann", "ann@x", "m"),
        Commit("3" * 40, "Bob", "bob@x", "m"),
        Commit("4" * 40, "Bob", "bob@work", "m"),  # same name, other email: another identity
    ]
    assert authors_of(commits) == ["Bob <bob@x>", "Ann <ann@x>", "Bob <bob@work>"]


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
