"""Image digests as Kubernetes reports them, and what the pod spec pinned. Pure: no API calls.

Container runtimes fill ``status.containerStatuses[].imageID`` in several forms (dockershim's
``docker-pullable://``, containerd's ``repo@sha256:``, a bare config digest, or nothing while the
image is still being pulled); traceability joins on one form only: ``sha256:<64 hex>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

PinKind = Literal["digest", "tag", "latest"]

_SHA256 = re.compile(r"sha256:([0-9a-fA-F]{64})")
# A registry host is the first path part when it has a dot or a port, or is localhost
# (Docker's rule); only then may a ':' before the first '/' belong to the host, not a tag.
_TAG_SUFFIX = re.compile(r":([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$")


# Cached: every replica of a workload repeats the same image and imageID, so a snapshot of
# thousands of containers parses a few hundred distinct strings.
@lru_cache(maxsize=8192)
def normalize_image_id(image_id: str | None) -> str | None:
    """``sha256:<hex>`` (lower case) from any ``imageID`` form, or None when there is none yet.

    Handles ``docker-pullable://repo@sha256:…``, ``docker://sha256:…``, ``repo@sha256:…``,
    ``repo:tag@sha256:…`` and bare ``sha256:…``. An empty value (image still pulling) or one
    without a sha256 digest gives None: a digest is never guessed.
    """
    if not image_id:
        return None
    text = image_id.strip()
    # Drop a runtime scheme (docker-pullable://, docker://, containerd://, cri-o://).
    if "://" in text:
        text = text.split("://", 1)[1]
    # The digest is what follows the last '@'; without '@' the whole value may be a bare digest.
    candidate = text.rsplit("@", 1)[1] if "@" in text else text
    match = _SHA256.fullmatch(candidate)
    return f"sha256:{match.group(1).lower()}" if match else None


@dataclass(frozen=True)
class ImageSpec:
    """The image a pod spec asked for, split the way a registry reads it."""

    repository: str  # as written, e.g. "registry.local/app" or "nginx" (no docker.io/library/ added)
    tag: str | None
    digest: str | None  # "sha256:<hex>" when the reference is pinned by digest

    @property
    def pin(self) -> PinKind:
        """``digest`` when pinned (a tag beside it is ignored by the runtime), else ``tag``;
        no tag, or the tag ``latest``, is ``latest``: the image may change under the same spec."""
        if self.digest:
            return "digest"
        if self.tag and self.tag != "latest":
            return "tag"
        return "latest"


@lru_cache(maxsize=8192)
def parse_image(image: str) -> ImageSpec:
    """Split ``[host[:port]/]path[:tag][@sha256:hex]``; lenient, since the API server accepted it."""
    text = (image or "").strip()
    digest: str | None = None
    if "@" in text:
        text, _, raw = text.partition("@")
        digest = normalize_image_id(raw)
    tag: str | None = None
    # A tag is a ':' suffix in the last path component only: "host:5000/app" has no tag.
    last_slash = text.rfind("/")
    match = _TAG_SUFFIX.search(text[last_slash + 1 :])
    if match:
        tag = match.group(1)
        text = text[: len(text) - len(match.group(0))]
    return ImageSpec(repository=text, tag=tag, digest=digest)
