"""``RegistryResource``: what the registry says about a running image that no build's digest names.

Asked only for those few digests, never for every container: the image config's
``org.opencontainers.image.revision`` label (the commit it was built from), for an index its
platform manifests (CI may have recorded one of them), and what the spec's tag points at now
(one HEAD: a tag that moved away from the running digest is one the traceability flags).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import dagster as dg

from c2c_core.images import InvalidReferenceError, parse_reference
from c2c_core.registry.client import RegistryClient, RegistryError

REVISION_LABEL = "org.opencontainers.image.revision"


@dataclass(frozen=True)
class ImageFacts:
    revision: str | None = None
    platform_digests: tuple[str, ...] = ()
    error: str | None = None  # why the registry could not tell (kept for the run's log)
    # What the image's tag resolves to now (None: the image names no tag, or the registry did not say).
    tag_digest: str | None = None
    tag_platform_digests: tuple[str, ...] = ()


class RegistryResource(dg.ConfigurableResource):
    """Credentials (``EnvVar``s) and which registries speak plain http (local or in-cluster ones)."""

    username: str | None = None
    password: str | None = None
    insecure_registries: list[str] = []

    def facts(self, image: str, digest: str) -> ImageFacts:
        """Revision label and platform digests of ``image`` at ``digest``; errors are returned, not
        raised: an unreadable registry leaves the record less matched, never the run failed."""
        try:
            spec = parse_reference(image)
            ref = spec.with_digest(digest)
        except InvalidReferenceError as exc:
            return ImageFacts(error=str(exc))
        client = RegistryClient(
            username=self.username, password=self.password, insecure=ref.registry in self.insecure_registries
        )
        try:
            resolved = client.resolve(ref)
            config = client.image_config(ref)
        except RegistryError as exc:
            return ImageFacts(error=str(exc))
        labels = (config.get("config") or {}).get("Labels") or {}
        tagged = None
        if spec.digest is None:
            try:
                tagged = client.resolve(spec.with_tag(spec.tag or "latest"))
            except RegistryError:
                tagged = None  # the tag may be gone (deleted, or never pushed here): nothing observed
        return ImageFacts(
            revision=labels.get(REVISION_LABEL),
            platform_digests=tuple(p.digest for p in resolved.platform_digests),
            tag_digest=tagged.digest if tagged else None,
            tag_platform_digests=tuple(p.digest for p in tagged.platform_digests) if tagged else (),
        )


def registry_resource_from_env() -> RegistryResource:
    """``C2C_REGISTRY_USER``/``C2C_REGISTRY_PASSWORD`` (as EnvVars) and ``C2C_INSECURE_REGISTRIES``
    (comma-separated host:port)."""
    return RegistryResource(
        username=dg.EnvVar("C2C_REGISTRY_USER") if os.environ.get("C2C_REGISTRY_USER") else None,
        password=dg.EnvVar("C2C_REGISTRY_PASSWORD") if os.environ.get("C2C_REGISTRY_PASSWORD") else None,
        insecure_registries=[h for h in os.environ.get("C2C_INSECURE_REGISTRIES", "").split(",") if h],
    )
