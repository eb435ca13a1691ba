"""Image references and digests: the one place c2c parses, normalises and compares them.

Pure: no network. A reference is read the way Docker and the distribution reference grammar read
it (``[host[:port]/]path[:tag][@digest]``); Docker Hub's spellings (``nginx``, ``library/nginx``,
``docker.io/…``, ``index.docker.io/…``) all name ``registry-1.docker.io/library/nginx``. A digest is
``sha256:<64 lower-case hex>`` everywhere c2c stores or joins one; container runtimes report it in
several ``imageID`` forms, which ``normalize_image_id`` reduces to that one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Literal

PinKind = Literal["digest", "tag", "latest"]

#: Where Docker Hub's distribution API lives; ``docker.io`` is only its familiar name.
DOCKER_HUB_API_HOST = "registry-1.docker.io"
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})

#: The one digest rule: what c2c stores, compares and accepts from its own documents.
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
# What a digest may look like on the way in (runtimes and people may write the hex in upper case).
_SHA256_ANY_CASE = re.compile(r"^sha256:([0-9a-fA-F]{64})$")
# Any algorithm the distribution grammar allows: recognised only to say it is not sha256.
_ANY_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[A-Za-z0-9=_-]{32,}$")

# Grammar from the distribution reference package (github.com/distribution/reference).
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# host, host:port, IPv4, or [IPv6]:port
_DOMAIN = re.compile(
    r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)"
    r"(?::[0-9]+)?$"
)
# The distribution reference package caps the whole name (domain + path) at 255 characters.
MAX_NAME_LENGTH = 255


class InvalidReferenceError(ValueError):
    """An image reference that Docker and registries would reject; the message says why."""


# -- digests -------------------------------------------------------------------------------------


def is_digest(value: object) -> bool:
    """Whether ``value`` is a digest in the form c2c stores: ``sha256:<64 lower-case hex>``."""
    return isinstance(value, str) and DIGEST_RE.match(value) is not None


def normalize_digest(value: str | None) -> str | None:
    """``sha256:<hex>`` in lower case from a digest written in any case; None if it is not one."""
    match = _SHA256_ANY_CASE.match((value or "").strip())
    return f"sha256:{match.group(1).lower()}" if match else None


# Cached: every replica of a workload repeats the same imageID, so a snapshot of thousands of
# containers parses a few hundred distinct strings.
@lru_cache(maxsize=8192)
def normalize_image_id(image_id: str | None) -> str | None:
    """The digest of a container's ``status.imageID``, or None when there is none yet.

    Runtimes write ``docker-pullable://repo@sha256:…`` (dockershim), ``docker://sha256:…``,
    ``repo@sha256:…`` and ``repo:tag@sha256:…`` (containerd), or a bare ``sha256:…`` (CRI-O); an
    empty value means the image is still being pulled. No digest is ever guessed.
    """
    if not image_id:
        return None
    text = image_id.strip()
    if "://" in text:  # docker-pullable://, docker://, containerd://, cri-o://
        text = text.split("://", 1)[1]
    return normalize_digest(text.rsplit("@", 1)[1] if "@" in text else text)


# -- references ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageReference:
    """One image reference, normalised: Docker Hub names get their API host and ``library/``.

    ``written`` keeps the name as the reference spelled it (``nginx``, ``docker.io/library/nginx``),
    for documents that report what a spec said; it takes no part in equality.
    """

    registry: str  # API host[:port], e.g. "registry-1.docker.io" or "127.0.0.1:5000"
    repository: str  # path in the registry, e.g. "library/nginx"
    tag: str | None = None
    digest: str | None = None  # sha256:<64 lower-case hex>
    written: str = field(default="", compare=False)

    @property
    def name(self) -> str:
        """Registry plus repository: what two references must share to be the same image repo."""
        return f"{self.registry}/{self.repository}"

    @property
    def manifest_reference(self) -> str:
        """What goes after ``/manifests/``: the digest when pinned, else the tag (``latest`` by default)."""
        return self.digest or self.tag or "latest"

    @property
    def pin(self) -> PinKind:
        """``digest`` when pinned (a tag beside it is decoration: the runtime pulls the digest), else
        ``tag``; no tag or the tag ``latest`` is ``latest``: the image may change under the same spec."""
        if self.digest:
            return "digest"
        if self.tag and self.tag != "latest":
            return "tag"
        return "latest"

    def with_tag(self, tag: str) -> ImageReference:
        if not TAG_RE.match(tag):
            raise InvalidReferenceError(f"invalid tag {tag!r}: want [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}")
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: str) -> ImageReference:
        normalized = normalize_digest(digest)
        if normalized is None:
            raise InvalidReferenceError(f"invalid digest {digest!r}: want sha256:<64 hex>")
        return replace(self, digest=normalized)

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
    text = (text or "").strip()
    if not text:
        raise InvalidReferenceError("empty image reference")
    if "://" in text:
        raise InvalidReferenceError(f"image reference {original!r} must not have a URL scheme")
    name, at, raw_digest = text.partition("@")
    digest: str | None = None
    if at:
        digest = normalize_digest(raw_digest)
        if digest is None:
            why = "only sha256 digests are read" if _ANY_DIGEST.match(raw_digest) else "want sha256:<64 hex>"
            raise InvalidReferenceError(f"image reference {original!r}: invalid digest {raw_digest!r} ({why})")
    # A tag is the part after the last ':' that comes after the last '/' (so a port is not a tag).
    tag: str | None = None
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1 :]
        if not TAG_RE.match(tag):
            raise InvalidReferenceError(
                f"image reference {original!r}: invalid tag {tag!r} (want [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})"
            )
    domain, path = split_domain(name)
    if domain is not None and not _DOMAIN.match(domain):
        raise InvalidReferenceError(f"image reference {original!r}: invalid registry host {domain!r}")
    if not path:
        raise InvalidReferenceError(f"image reference {original!r} has no repository")
    for component in path.split("/"):
        if not _PATH_COMPONENT.match(component):
            why = "has upper case" if component.lower() != component else "has characters outside [a-z0-9._-]"
            raise InvalidReferenceError(
                f"image reference {original!r}: repository component {component!r} {why}"
                if component
                else f"image reference {original!r}: empty repository component"
            )
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidReferenceError(f"image reference {original!r}: name longer than {MAX_NAME_LENGTH} characters")
    written = name
    if domain is None or domain.lower() in DOCKER_HUB_ALIASES:
        domain = DOCKER_HUB_API_HOST
        # Official images live under library/ on Docker Hub; "nginx" is "library/nginx".
        if "/" not in path:
            path = f"library/{path}"
    return ImageReference(registry=domain, repository=path, tag=tag, digest=digest, written=written)


# Cached: a cluster runs the same few thousand images in many containers, and CI pushes to a
# few hundred repositories.
@lru_cache(maxsize=65536)
def parse_image(text: str | None) -> ImageReference | None:
    """The parsed reference, or None when ``text`` is empty or not a valid reference (the API
    server stores any string as a pod's image; the kubelet then reports InvalidImageName)."""
    if not text:
        return None
    try:
        return parse_reference(text)
    except InvalidReferenceError:
        return None
