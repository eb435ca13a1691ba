"""Image references (``registry/repo:tag@digest``) parsed the way Docker and the OCI distribution spec do.

Pure: no network. The client needs the API host and repository path; the build-metadata tool
needs to know that ``narendra115c/node-js`` and Kaniko's ``index.docker.io/narendra115c/node-js``
name the same repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

#: Where Docker Hub's distribution API lives; ``docker.io`` is only its familiar name.
DOCKER_HUB_API_HOST = "registry-1.docker.io"
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})

# Grammar from the distribution reference package (github.com/distribution/reference).
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
PATH_COMPONENT_RE = re.compile(rf"^{_PATH_COMPONENT}$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[A-Za-z0-9=_-]{32,}$")
SHA256_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
# host, host:port, IPv4, or [IPv6]:port
DOMAIN_RE = re.compile(
    r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)"
    r"(?::[0-9]+)?$"
)
# The distribution reference package caps the whole name (domain + path) at 255 characters.
MAX_NAME_LENGTH = 255


class InvalidReferenceError(ValueError):
    """An image reference that Docker and registries would reject; the message says why."""


@dataclass(frozen=True)
class ImageReference:
    """One image reference, normalised: Docker Hub names get their API host and ``library/``."""

    registry: str  # API host[:port], e.g. "registry-1.docker.io" or "127.0.0.1:5000"
    repository: str  # path in the registry, e.g. "library/nginx"
    tag: str | None = None
    digest: str | None = None

    @property
    def is_docker_hub(self) -> bool:
        return self.registry == DOCKER_HUB_API_HOST

    @property
    def name(self) -> str:
        """Registry plus repository: what two references must share to be the same image repo."""
        return f"{self.registry}/{self.repository}"

    @property
    def manifest_reference(self) -> str:
        """What goes after ``/manifests/``: the digest when pinned, else the tag (``latest`` by default)."""
        return self.digest or self.tag or "latest"

    def with_tag(self, tag: str) -> ImageReference:
        if not TAG_RE.match(tag):
            raise InvalidReferenceError(f"invalid tag {tag!r}: want [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}")
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: str) -> ImageReference:
        if not DIGEST_RE.match(digest):
            raise InvalidReferenceError(f"invalid digest {digest!r}: want <algorithm>:<hex>")
        return replace(self, digest=digest)

    def same_repository(self, other: ImageReference) -> bool:
        return self.name == other.name

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def split_domain(name: str) -> tuple[str | None, str]:
    """``(domain, path)``; the first component is a domain if it has ``.`` or ``:``, is
    ``localhost``, or has upper case (repository paths are lower case, so it cannot be one)."""
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        return first, rest
    return None, name


def parse_reference(text: str) -> ImageReference:
    """Parse ``[registry/]repo[:tag][@digest]``; raise :class:`InvalidReferenceError` naming the fault."""
    original = text
    text = text.strip()
    if not text:
        raise InvalidReferenceError("empty image reference")
    if "://" in text:
        raise InvalidReferenceError(f"image reference {original!r} must not have a URL scheme")
    name, at, digest = text.partition("@")
    if at and not DIGEST_RE.match(digest):
        raise InvalidReferenceError(f"image reference {original!r}: invalid digest {digest!r}")
    # A tag is the part after the last ':' that comes after the last '/' (so a port is not a tag).
    tag: str | None = None
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not TAG_RE.match(tag):
            raise InvalidReferenceError(
                f"image reference {original!r}: invalid tag {tag!r} (want [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})"
            )
    domain, path = split_domain(name)
    if domain is not None and not DOMAIN_RE.match(domain):
        raise InvalidReferenceError(f"image reference {original!r}: invalid registry host {domain!r}")
    if not path:
        raise InvalidReferenceError(f"image reference {original!r} has no repository")
    for component in path.split("/"):
        if not PATH_COMPONENT_RE.match(component):
            why = "has upper case" if component.lower() != component else "has characters outside [a-z0-9._-]"
            raise InvalidReferenceError(
                f"image reference {original!r}: repository component {component!r} {why}"
                if component
                else f"image reference {original!r}: empty repository component"
            )
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidReferenceError(f"image reference {original!r}: name longer than {MAX_NAME_LENGTH} characters")
    if domain is None or domain.lower() in DOCKER_HUB_ALIASES:
        domain = DOCKER_HUB_API_HOST
        # Official images live under library/ on Docker Hub; "nginx" is "library/nginx".
        if "/" not in path:
            path = f"library/{path}"
    return ImageReference(registry=domain, repository=path, tag=tag, digest=digest or None)
