"""The registry client's protocol pieces on their own: auth challenges, and which index entries are runnable images."""

from __future__ import annotations

from c2c_core.registry.client import parse_challenge, platform_manifests

DIGEST = "sha256:a0243d98dd20494f723081c48fa5417bde51458f579718cdccdde03a740725f7"
OTHER = "sha256:" + "b" * 64


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
