"""Which images are ours: internal (CI builds them, so each must trace to a build) or external.

Pure rules, tested directly; ``ImagePolicyResource`` reads the settings. An image is
**internal** when its normalised name (``registry/repository``, Docker Hub aliases and ``library/``
resolved by ``c2c_core.images``) equals or lies under one of the internal prefixes, each a
registry host (``registry.example.com:5000``: every repository there) or a registry plus
repository path (``docker.io/acme``: ``acme/*`` on Docker Hub, not ``nginx``). Everything else
is **external**: kept in the records with what is known (digest, tag, registry revision label),
never flagged ``untraceable``.

Where the prefixes come from, first that gives any:

1. ``C2C_INTERNAL_REGISTRIES`` (comma-separated) and the ``internal:`` list of the YAML file
   ``C2C_IMAGE_POLICY_FILE``, together;
2. otherwise the registries ``ci_builds`` has ever pushed to (every ``image_name`` in
   ci-build-metadata): the registry host, except on registries many organisations share
   (Docker Hub, ghcr.io, quay.io, ...) where it is the registry plus the first path component
   (``docker.io/acme``), so pushing ``acme/app`` to Docker Hub does not make ``nginx`` internal;
3. otherwise (no configuration and no build recorded yet) every image is internal: there is no
   basis yet to call anything external.

The same file turns on advice that is off by default (``advise_digest_pinning: true``, or
``C2C_ADVISE_DIGEST_PINNING=true``): the ``not_pinned`` flag on images whose spec names a tag
instead of a digest.

And it says whose build provenance c2c trusts (``c2c_dagster/provenance``): ``trusted_keys``, the
public keys (PEM files, relative to the policy file, or PEM text: ``cosign.pub``) whose signatures
count; ``trusted_builders``, the builder ids (a Jenkins controller URL, or controller and job)
whose provenance counts; ``require_provenance: true`` to warn about internal images without any.
No trusted key: provenance is not looked up at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal


from c2c_dagster.provenance.dsse import TrustedKeyError, load_public_key
from c2c_dagster.provenance.verify import TrustPolicy
from c2c_dagster.settings import Settings, load_settings
from c2c_dagster.settings_file import read_settings_file
from c2c_core.images import DOCKER_HUB_ALIASES, DOCKER_HUB_API_HOST, parse_image, split_domain

ImageClass = Literal["internal", "external"]
INTERNAL: ImageClass = "internal"
EXTERNAL: ImageClass = "external"

INTERNAL_ENV = "C2C_INTERNAL_REGISTRIES"
POLICY_FILE_ENV = "C2C_IMAGE_POLICY_FILE"
PINNING_ENV = "C2C_ADVISE_DIGEST_PINNING"
POLICY_KEYS = ("internal", "advise_digest_pinning", "trusted_keys", "trusted_builders", "require_provenance")

# Registries whose first path component is an organisation of its own: there "ours" is that
# organisation, never the whole registry.
SHARED_REGISTRIES = frozenset(
    {DOCKER_HUB_API_HOST, "ghcr.io", "quay.io", "registry.gitlab.com", "public.ecr.aws", "gcr.io", "docker.pkg.github.com"}
)


class ImagePolicyError(ValueError):
    """A policy setting c2c cannot use; the message names the setting and what is expected."""


def normalise_prefix(text: str) -> str:
    """``registry.example.com``, ``docker.io/acme``, ``acme`` (Docker Hub) -> the form image names
    are compared in: lower-case host (Docker Hub as its API host) plus an optional path."""
    prefix = text.strip().strip("/")
    if "://" in prefix:
        prefix = prefix.split("://", 1)[1].strip("/")
    if not prefix:
        raise ImagePolicyError(f"empty internal registry prefix in {text!r}")
    domain, path = split_domain(prefix)
    if domain is None and "/" not in prefix and ("." in prefix or ":" in prefix or prefix == "localhost"):
        domain, path = prefix, ""  # a bare host
    if domain is None or domain.lower() in DOCKER_HUB_ALIASES:
        domain = DOCKER_HUB_API_HOST
    return f"{domain.lower()}/{path}" if path else domain.lower()


def prefix_of_built_image(image_name: str) -> str | None:
    """The internal prefix one image CI pushed implies (rule 2 of the module docstring)."""
    ref = parse_image(image_name)
    if ref is None:
        return None
    if ref.registry in SHARED_REGISTRIES:
        return f"{ref.registry}/{ref.repository.split('/', 1)[0]}"
    return ref.registry


@dataclass(frozen=True)
class ImagePolicy:
    """The internal prefixes (empty: every image is internal) and the advice that is on."""

    internal: tuple[str, ...] = ()
    source: str = "nothing configured and no build recorded: every image is internal"
    advise_digest_pinning: bool = False
    trust: TrustPolicy = TrustPolicy()

    def classify(self, image: str | None) -> ImageClass:
        if not self.internal:
            return INTERNAL
        ref = parse_image(image)
        if ref is None:
            return INTERNAL  # not a valid reference: no runtime pulled it from anywhere else
        return _classify(self.internal, ref.registry, ref.name)


@lru_cache(maxsize=65536)
def _classify(internal: tuple[str, ...], registry: str, name: str) -> ImageClass:
    for prefix in internal:
        if "/" in prefix:
            if name == prefix or name.startswith(prefix + "/"):
                return INTERNAL
        elif registry.lower() == prefix:
            return INTERNAL
    return EXTERNAL


def _truthy(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise ImagePolicyError(f"{what}={value!r}: want true or false")


def read_policy_file(path: str | Path) -> dict[str, Any]:
    """The YAML policy file: ``internal:`` (a list of prefixes), ``advise_digest_pinning:`` (bool)."""
    file = Path(path).expanduser()  # how the messages below name it
    raw = read_settings_file(path, env=POLICY_FILE_ENV, keys=POLICY_KEYS, error=ImagePolicyError)
    internal = raw.get("internal") or []
    if not isinstance(internal, list) or not all(isinstance(p, str) for p in internal):
        raise ImagePolicyError(f"{file}: 'internal' must be a list of registry hosts or host/repository prefixes")
    return {"internal": internal, "advise_digest_pinning": _truthy(raw.get("advise_digest_pinning", False),
                                                                   f"{file}: advise_digest_pinning"),
            "trust": trust_policy(raw, file)}


def _strings(raw: Mapping[str, Any], key: str, file: Path) -> list[str]:
    value = raw.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ImagePolicyError(f"{file}: {key!r} must be a list of strings")
    return value


def trust_policy(raw: Mapping[str, Any], file: Path) -> TrustPolicy:
    """``trusted_keys`` (PEM text, or a path relative to the policy file), ``trusted_builders``,
    ``require_provenance`` of the policy file."""
    keys = []
    for entry in _strings(raw, "trusted_keys", file):
        pem = entry if "-----BEGIN" in entry else None
        if pem is None:
            path = (file.parent / Path(entry).expanduser()).resolve()
            try:
                pem = path.read_text()
            except OSError as exc:
                raise ImagePolicyError(f"{file}: trusted key {entry!r} cannot be read: {exc}") from exc
        try:
            keys.append(load_public_key(pem))
        except TrustedKeyError as exc:
            raise ImagePolicyError(f"{file}: trusted key {entry[:60]!r}: {exc}") from exc
    return TrustPolicy(keys=tuple(keys), builders=tuple(_strings(raw, "trusted_builders", file)),
                       require=_truthy(raw.get("require_provenance", False), f"{file}: require_provenance"))


def build_policy(
    configured: Iterable[str], *, built_images: Iterable[str] = (), advise_digest_pinning: bool = False,
    configured_from: str = INTERNAL_ENV, trust: TrustPolicy = TrustPolicy(),
) -> ImagePolicy:
    """The policy from configured prefixes, else from the images CI pushed (module docstring)."""
    prefixes = tuple(sorted({normalise_prefix(p) for p in configured}))
    if prefixes:
        return ImagePolicy(prefixes, f"configured ({configured_from})", advise_digest_pinning, trust)
    derived = tuple(sorted({p for p in map(prefix_of_built_image, built_images) if p}))
    if derived:
        return ImagePolicy(derived, "the registries ci_builds pushed to", advise_digest_pinning, trust)
    return ImagePolicy(advise_digest_pinning=advise_digest_pinning, trust=trust)


def policy_settings(settings: Settings) -> dict[str, Any]:
    """The resource's settings (``image_policy_resource_from_env``)."""
    return {
        "internal_registries": list(settings.internal_registries),
        "policy_file": settings.image_policy_file,
        "advise_digest_pinning": settings.advise_digest_pinning,
    }


def env_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """``policy_settings`` of the settings ``environ`` gives."""
    return policy_settings(load_settings(environ))
