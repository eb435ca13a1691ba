"""Every imageID form container runtimes report normalizes to sha256:<hex> (or None), and the spec image's pin is classified."""

from __future__ import annotations

import pytest

from c2c_dagster.kubernetes.digests import ImageSpec, normalize_image_id, parse_image

HEX = "a3f1" * 16
DIGEST = f"sha256:{HEX}"


@pytest.mark.parametrize(
    "image_id",
    [
        f"docker-pullable://narendra115c/node-js@sha256:{HEX}",  # dockershim
        f"docker://sha256:{HEX}",  # docker, image config id
        f"registry.local:5000/team/app@sha256:{HEX}",  # containerd repo digest
        f"docker.io/library/nginx:1.27@sha256:{HEX}",  # tag kept beside the digest
        f"sha256:{HEX}",  # bare (CRI-O, some containerd versions)
        f"SHA256:{HEX.upper()}".replace("SHA256", "sha256"),  # upper-case hex
        f"  cri-o://quay.io/app@sha256:{HEX}  ",
    ],
)
def test_every_runtime_form_normalizes_to_one_digest(image_id: str) -> None:
    assert normalize_image_id(image_id) == DIGEST


@pytest.mark.parametrize("image_id", [None, "", "   ", "docker://", "nginx:1.27", "repo@sha256:short",
                                      f"repo@sha512:{HEX}{HEX}"])
def test_no_digest_is_none_never_a_guess(image_id) -> None:
    assert normalize_image_id(image_id) is None


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("nginx", ImageSpec("nginx", None, None)),
        ("nginx:latest", ImageSpec("nginx", "latest", None)),
        ("nginx:1.27", ImageSpec("nginx", "1.27", None)),
        ("registry.local:5000/team/app", ImageSpec("registry.local:5000/team/app", None, None)),
        ("registry.local:5000/team/app:v2", ImageSpec("registry.local:5000/team/app", "v2", None)),
        (f"registry.local/app@{DIGEST}", ImageSpec("registry.local/app", None, DIGEST)),
        (f"registry.local/app:1.0@{DIGEST}", ImageSpec("registry.local/app", "1.0", DIGEST)),
        ("localhost:5000/app", ImageSpec("localhost:5000/app", None, None)),
    ],
)
def test_spec_images_split_into_repository_tag_digest(image: str, expected: ImageSpec) -> None:
    assert parse_image(image) == expected


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
    assert parse_image(image).pin == pin
