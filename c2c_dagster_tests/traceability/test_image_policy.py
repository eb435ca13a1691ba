"""Which images are internal: configured prefixes (environment and YAML), else the registries CI pushed
to, Docker Hub's aliases normalised as the registry reference parser does; the trusted keys and
builders of provenance (pure rules)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from c2c_dagster.traceability.image_policy import (
    ImagePolicyError,
    build_policy,
    env_settings,
    normalise_prefix,
    prefix_of_built_image,
    read_policy_file,
)
from c2c_dagster.provenance.verify import TrustPolicy
from c2c_dagster.settings import SettingsError


def test_prefixes_normalise_like_image_names_docker_hub_aliases_included() -> None:
    assert normalise_prefix("Registry.Example.com:5000") == "registry.example.com:5000"
    assert normalise_prefix("https://registry.example.com/") == "registry.example.com"
    assert normalise_prefix("docker.io/acme") == normalise_prefix("index.docker.io/acme") == normalise_prefix("acme")
    assert normalise_prefix("acme") == "registry-1.docker.io/acme"
    assert normalise_prefix("registry.example.com/team/payments") == "registry.example.com/team/payments"
    with pytest.raises(ImagePolicyError, match="empty"):
        normalise_prefix(" / ")


def test_configured_prefixes_decide_and_every_docker_hub_spelling_of_nginx_is_external() -> None:
    policy = build_policy(["registry.example.com", "docker.io/acme"], built_images=["elsewhere.io/x/y"])
    assert policy.source == "configured (C2C_INTERNAL_REGISTRIES)"
    for image in ("nginx", "nginx:1.27", "docker.io/library/nginx", "index.docker.io/library/nginx:latest",
                  "registry-1.docker.io/library/nginx@sha256:" + "a" * 64, "docker.io/acmecorp/api:1",
                  "elsewhere.io/x/y:1"):
        assert policy.classify(image) == "external", image
    for image in ("registry.example.com/team/api:1", "acme/api:1", "docker.io/acme/api", "index.docker.io/acme/tools/x"):
        assert policy.classify(image) == "internal", image
    assert policy.classify("Not A Reference!") == "internal"  # nothing pulled it from elsewhere


def test_without_configuration_the_registries_ci_pushed_to_are_internal() -> None:
    built = ["127.0.0.1:5000/shop/web", "narendra115c/node-js", "ghcr.io/acme/tool", "registry.example.com/a/b"]
    assert [prefix_of_built_image(i) for i in built] == [
        "127.0.0.1:5000", "registry-1.docker.io/narendra115c", "ghcr.io/acme", "registry.example.com"]
    policy = build_policy([], built_images=built)
    assert policy.source == "the registries ci_builds pushed to"
    # CI pushes to Docker Hub under its own organisation: nginx there is still not ours.
    assert policy.classify("nginx:1.27") == "external"
    assert policy.classify("docker.io/narendra115c/node-js:67") == "internal"
    assert policy.classify("127.0.0.1:5000/legacy/cron:latest") == "internal"
    assert policy.classify("ghcr.io/other/tool") == "external"
    # Nothing configured and no build recorded: no basis to call anything external.
    assert build_policy([]).classify("nginx") == "internal" and build_policy([]).internal == ()


def test_the_policy_file_and_the_environment(tmp_path) -> None:
    file = tmp_path / "policy.yaml"
    file.write_text("internal:\n  - registry.example.com\n  - docker.io/acme\nadvise_digest_pinning: true\n")
    assert read_policy_file(file) == {"internal": ["registry.example.com", "docker.io/acme"], "advise_digest_pinning": True,
                                      "trust": TrustPolicy()}
    file.write_text("internals: [x]\n")
    with pytest.raises(ImagePolicyError, match=r"unknown key\(s\) \['internals'\]; known: internal, advise_digest_pinning"):
        read_policy_file(file)
    file.write_text("internal: registry.example.com\n")
    with pytest.raises(ImagePolicyError, match="'internal' must be a list"):
        read_policy_file(file)
    with pytest.raises(ImagePolicyError, match="C2C_IMAGE_POLICY_FILE=.*cannot be read"):
        read_policy_file(tmp_path / "missing.yaml")
    assert env_settings({"C2C_INTERNAL_REGISTRIES": "registry.example.com, docker.io/acme,",
                         "C2C_ADVISE_DIGEST_PINNING": "true", "C2C_IMAGE_POLICY_FILE": str(file)}) == {
        "internal_registries": ["registry.example.com", "docker.io/acme"], "policy_file": str(file),
        "advise_digest_pinning": True}
    with pytest.raises(SettingsError, match="C2C_ADVISE_DIGEST_PINNING='maybe': want true or false"):
        env_settings({"C2C_ADVISE_DIGEST_PINNING": "maybe"})


def test_trusted_keys_by_path_or_pem_builders_and_requirement(tmp_path) -> None:
    pems = [ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode() for _ in range(2)]
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "cosign.pub").write_text(pems[0])
    file = tmp_path / "policy.yaml"
    inline = "\n".join("      " + line for line in pems[1].splitlines())
    file.write_text("trusted_keys:\n  - keys/cosign.pub\n  - |\n" + inline + "\n"
                    "trusted_builders: [https://jenkins.example.com/]\nrequire_provenance: true\n")
    trust = read_policy_file(file)["trust"]
    assert len(trust.keys) == 2 and all(k.key_id.startswith("sha256:") for k in trust.keys)
    assert trust.builders == ("https://jenkins.example.com/",) and trust.require and trust.enabled
    file.write_text("trusted_keys: [missing.pub]\n")
    with pytest.raises(ImagePolicyError, match="missing.pub.*cannot be read"):
        read_policy_file(file)
    file.write_text("trusted_keys: ['-----BEGIN PUBLIC KEY-----\\nnope\\n-----END PUBLIC KEY-----']\n")
    with pytest.raises(ImagePolicyError, match="not a PEM public key"):
        read_policy_file(file)
