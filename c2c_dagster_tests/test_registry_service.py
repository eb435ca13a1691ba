"""The OCI registry and Buildah are real: a built image's pushed digest is what the registry serves."""

from __future__ import annotations

import re

import requests


def test_buildah_push_digest_matches_the_registry_manifest(oci_registry) -> None:
    revision = "3606e8f26e051e93d8784ae87879c77845029b33"
    digest = oci_registry.build_and_push(
        "c2c/smoke", "smoke-1-3606e8f", labels={"org.opencontainers.image.revision": revision}
    )
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    # The registry computed the same digest over the manifest it stores.
    assert oci_registry.manifest_digest("c2c/smoke", "smoke-1-3606e8f") == digest
    # Fetching by digest serves the same manifest: content addressing, not a name lookup.
    assert oci_registry.manifest_digest("c2c/smoke", digest) == digest
    config = oci_registry.image_config("c2c/smoke", digest)
    assert config["config"]["Labels"]["org.opencontainers.image.revision"] == revision
    tags = requests.get(f"{oci_registry.url}/v2/c2c/smoke/tags/list", timeout=10).json()
    assert tags == {"name": "c2c/smoke", "tags": ["smoke-1-3606e8f"]}


def test_a_rebuild_with_other_content_gets_another_digest(oci_registry) -> None:
    first = oci_registry.build_and_push("c2c/rebuild", "v1", files={"a.txt": "one\n"})
    second = oci_registry.build_and_push("c2c/rebuild", "v1", files={"a.txt": "two\n"})
    assert first != second
    # The tag moved: the registry now serves the second digest for it.
    assert oci_registry.manifest_digest("c2c/rebuild", "v1") == second
