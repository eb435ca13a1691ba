"""Image references and digests as they appear in the wild parse to one normalised form: Docker
Hub's spellings, registry hosts with ports, localhost and IPv6, tag and digest together, every
runtime ``imageID`` form; invalid ones are refused saying why, and no digest is ever guessed."""

from __future__ import annotations

import pytest

from c2c_core.images import (
    InvalidReferenceError,
    is_digest,
    normalize_digest,
    normalize_image_id,
    parse_image,
    parse_reference,
)

HEX = "a3f1" * 16
DIGEST = f"sha256:{HEX}"


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest", "written"),
    [
        ("nginx", "registry-1.docker.io", "library/nginx", None, None, "nginx"),
        ("nginx:1.25", "registry-1.docker.io", "library/nginx", "1.25", None, "nginx"),
        ("library/nginx", "registry-1.docker.io", "library/nginx", None, None, "library/nginx"),
        ("docker.io/library/nginx:1.25", "registry-1.docker.io", "library/nginx", "1.25", None, "docker.io/library/nginx"),
        ("index.docker.io/nginx", "registry-1.docker.io", "library/nginx", None, None, "index.docker.io/nginx"),
        ("registry-1.docker.io/narendra115c/node-js", "registry-1.docker.io", "narendra115c/node-js", None, None,
         "registry-1.docker.io/narendra115c/node-js"),
        ("narendra115c/node-js", "registry-1.docker.io", "narendra115c/node-js", None, None, "narendra115c/node-js"),
        ("docker.io/narendra115c/node-js:t1", "registry-1.docker.io", "narendra115c/node-js", "t1", None,
         "docker.io/narendra115c/node-js"),
        ("localhost/app", "localhost", "app", None, None, "localhost/app"),
        ("localhost:5000/team/app:v1", "localhost:5000", "team/app", "v1", None, "localhost:5000/team/app"),
        ("registry.local:5000/team/app", "registry.local:5000", "team/app", None, None, "registry.local:5000/team/app"),
        (f"127.0.0.1:5000/c2c/app@{DIGEST}", "127.0.0.1:5000", "c2c/app", None, DIGEST, "127.0.0.1:5000/c2c/app"),
        (f"ghcr.io/org/sub/app:1.0@{DIGEST}", "ghcr.io", "org/sub/app", "1.0", DIGEST, "ghcr.io/org/sub/app"),
        (f"nginx:latest@{DIGEST.upper().replace('SHA256', 'sha256')}", "registry-1.docker.io", "library/nginx",
         "latest", DIGEST, "nginx"),
        ("Registry/app", "Registry", "app", None, None, "Registry/app"),  # upper case cannot be a path: a host
        ("[::1]:5000/app:v2", "[::1]:5000", "app", "v2", None, "[::1]:5000/app"),
        ("[fd00::1]/team/app", "[fd00::1]", "team/app", None, None, "[fd00::1]/team/app"),
    ],
)
def test_references_in_the_wild(text: str, registry: str, repository: str, tag: str | None, digest: str | None,
                                written: str) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest, ref.written) == (registry, repository, tag, digest, written)
    assert parse_image(text) == ref


def test_every_docker_hub_spelling_is_one_repository() -> None:
    spellings = ["nginx", "library/nginx", "docker.io/nginx", "docker.io/library/nginx", "index.docker.io/nginx",
                 "registry-1.docker.io/library/nginx:1.25", "registry.hub.docker.com/library/nginx"]
    assert {parse_reference(s).name for s in spellings} == {"registry-1.docker.io/library/nginx"}
    assert not parse_reference("a/b").same_repository(parse_reference("ghcr.io/a/b"))


def test_rendering_and_manifest_reference() -> None:
    ref = parse_reference("127.0.0.1:5000/c2c/app").with_tag("v1")
    assert str(ref) == "127.0.0.1:5000/c2c/app:v1" and ref.manifest_reference == "v1"
    assert parse_reference("app").manifest_reference == "latest"
    assert str(ref.with_digest(DIGEST)) == f"127.0.0.1:5000/c2c/app:v1@{DIGEST}"
    assert ref.with_digest(DIGEST).manifest_reference == DIGEST


@pytest.mark.parametrize(
    ("image", "pin"),
    [
        ("nginx", "latest"),  # no tag means latest
        ("nginx:latest", "latest"),
        ("registry.local:5000/app", "latest"),  # the port is not a tag
        ("nginx:1.27", "tag"),
        (f"nginx@{DIGEST}", "digest"),
        (f"nginx:latest@{DIGEST}", "digest"),  # the runtime pulls the digest, the tag is decoration
    ],
)
def test_pin_kind(image: str, pin: str) -> None:
    assert parse_reference(image).pin == pin


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("Narendra/Node", "upper case"),
        ("app:bad tag", "invalid tag"),
        ("app:.dot", "invalid tag"),
        ("app@sha256:xyz", "invalid digest"),
        (f"app@sha512:{HEX}{HEX}", "only sha256 digests"),
        ("a//b", "empty repository component"),
        ("https://ghcr.io/a/b", "URL scheme"),
        ("ghcr.io/", "no repository"),
        ("my_host.io/a-/b", "a-"),
    ],
)
def test_invalid_references_say_why_and_parse_image_gives_none(text: str, why: str) -> None:
    with pytest.raises(InvalidReferenceError, match=why):
        parse_reference(text)
    assert parse_image(text) is None


@pytest.mark.parametrize(
    "image_id",
    [
        f"docker-pullable://narendra115c/node-js@sha256:{HEX}",  # dockershim
        f"docker-pullable://docker.io/library/nginx@sha256:{HEX}",
        f"docker://sha256:{HEX}",  # docker, image config id
        f"registry.local:5000/team/app@sha256:{HEX}",  # containerd repo digest, port in the host
        f"docker.io/library/nginx:1.27@sha256:{HEX}",  # tag kept beside the digest
        f"[::1]:5000/app@sha256:{HEX}",
        f"sha256:{HEX}",  # bare (CRI-O, some containerd versions)
        f"sha256:{HEX.upper()}",  # upper-case hex
        f"  cri-o://quay.io/app@sha256:{HEX}  ",
    ],
)
def test_every_runtime_image_id_form_normalizes_to_one_digest(image_id: str) -> None:
    assert normalize_image_id(image_id) == DIGEST


@pytest.mark.parametrize("image_id", [None, "", "   ", "docker://", "nginx:1.27", "repo@sha256:short",
                                      f"repo@sha512:{HEX}{HEX}"])
def test_no_digest_is_none_never_a_guess(image_id: str | None) -> None:
    assert normalize_image_id(image_id) is None


def test_one_digest_rule() -> None:
    assert is_digest(DIGEST)
    for not_stored_form in (DIGEST.upper(), f"sha256:{HEX[:-1]}", HEX, f"sha512:{HEX}{HEX}", None, 7):
        assert not is_digest(not_stored_form)
    assert normalize_digest(f" sha256:{HEX.upper()} ") == DIGEST
    assert normalize_digest("latest") is None
