"""``RegistryResource``: what the registry says about running images, for ``traceability_records``.

Two questions, each asked once per run:

* ``facts``: for a digest no build names (only those, never every container), the image config's
  ``org.opencontainers.image.revision`` label (the commit it was built from) and, for an index,
  its platform manifests (CI may have recorded one of them);
* ``resolve_tags``: what each distinct ``repository:tag`` points at now, one HEAD per tag (plus a
  GET for an index whose platform manifests nothing else told): a tag that moved away from the
  running digest is one the traceability flags. Refusals and timeouts are answers too (with the
  reason), never a failed run; once a registry is unreachable its remaining tags are not asked.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass, field

import dagster as dg

from c2c_core.images import InvalidReferenceError, parse_reference
from c2c_core.registry.client import RegistryClient, RegistryError, RegistryUnavailableError
from c2c_dagster.settings import Settings, load_settings

REVISION_LABEL = "org.opencontainers.image.revision"


@dataclass(frozen=True)
class ImageFacts:
    revision: str | None = None
    platform_digests: tuple[str, ...] = ()
    error: str | None = None  # why the registry could not tell (kept for the run's log)


@dataclass(frozen=True)
class TagAnswer:
    """What a tag resolves to now (an index with its platform manifests when they were read), or
    why the registry did not say (refused, timed out, no such tag)."""

    digest: str | None = None
    platform_digests: tuple[str, ...] = ()
    error: str | None = None


@dataclass
class TagLookups:
    """The answers of one run by image reference asked (``registry/repository:tag``), and how many
    requests they cost (token requests included)."""

    answers: dict[str, TagAnswer] = field(default_factory=dict)
    requests: int = 0

    @property
    def errors(self) -> dict[str, str]:
        return {image: answer.error for image, answer in sorted(self.answers.items()) if answer.error}


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
        client = self.client(ref.registry)
        try:
            resolved = client.resolve(ref)
            config = client.image_config(ref)
        except RegistryError as exc:
            return ImageFacts(error=str(exc))
        labels = (config.get("config") or {}).get("Labels") or {}
        return ImageFacts(
            revision=labels.get(REVISION_LABEL),
            platform_digests=tuple(p.digest for p in resolved.platform_digests),
        )

    def client(self, registry: str) -> RegistryClient:
        return RegistryClient(
            username=self.username, password=self.password, insecure=registry in self.insecure_registries
        )

    def resolve_tags(self, images: Iterable[str], known_indexes: Container[str] = frozenset()) -> TagLookups:
        """What each ``registry/repository:tag`` of ``images`` points at now: one HEAD each, plus a GET
        of an index not in ``known_indexes`` (an index whose platform manifests CI or ``facts``
        already told needs no second request). One client per registry, so a token is fetched once
        per repository, not per tag."""
        lookups = TagLookups()
        clients: dict[str, RegistryClient] = {}
        unreachable: dict[str, str] = {}
        for image in sorted(set(images)):
            try:
                ref = parse_reference(image)
            except InvalidReferenceError as exc:
                lookups.answers[image] = TagAnswer(error=str(exc))
                continue
            if ref.registry in unreachable:
                # Every tag of a registry that is down would wait out the same timeouts again.
                lookups.answers[image] = TagAnswer(error=f"not asked, registry unreachable: {unreachable[ref.registry]}")
                continue
            client = clients.setdefault(ref.registry, self.client(ref.registry))
            try:
                resolved = client.head(ref)
                if resolved.is_index and resolved.digest not in known_indexes:
                    resolved = client.platforms(ref, resolved.digest)
            except RegistryUnavailableError as exc:
                unreachable[ref.registry] = str(exc)
                lookups.answers[image] = TagAnswer(error=str(exc))
            except RegistryError as exc:  # refused, or the tag is gone: nothing observed
                lookups.answers[image] = TagAnswer(error=str(exc))
            else:
                lookups.answers[image] = TagAnswer(
                    digest=resolved.digest, platform_digests=tuple(p.digest for p in resolved.platform_digests))
        lookups.requests = sum(client.requests_sent for client in clients.values())
        return lookups


def registry_resource_from_env(settings: Settings | None = None) -> RegistryResource:
    """From ``settings`` (the process's when None): ``C2C_REGISTRY_USER``/``C2C_REGISTRY_PASSWORD`` (as
    EnvVars) and ``C2C_INSECURE_REGISTRIES`` (comma-separated host:port)."""
    settings = settings or load_settings()
    return RegistryResource(
        username=dg.EnvVar("C2C_REGISTRY_USER") if settings.registry_user else None,
        password=dg.EnvVar("C2C_REGISTRY_PASSWORD") if settings.registry_password else None,
        insecure_registries=list(settings.insecure_registries),
    )
