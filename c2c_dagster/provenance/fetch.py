"""Where cosign keeps an image's attestations, read over the OCI distribution API.

cosign 2.x (``cosign attest`` and ``cosign attach attestation``, without ``--new-bundle-format``)
pushes them as an OCI manifest tagged ``sha256-<hex>.att`` in the image's repository, one layer
per attestation, each a DSSE envelope (media type ``application/vnd.dsse.envelope.v1+json``).
The registry c2c's tests run (CNCF distribution 2.8) has no referrers API, and cosign 2.6.5 writes
the referrers form only with ``--new-bundle-format``; this module reads the tag scheme only.
"""

from __future__ import annotations

from c2c_core.images import ImageReference
from c2c_core.registry.client import ManifestNotFoundError, RegistryClient

DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"


def attestation_tag(digest: str) -> str:
    """``sha256:abc…`` -> ``sha256-abc….att`` (cosign's tag for a digest's attestations)."""
    algorithm, _, hex_part = digest.partition(":")
    return f"{algorithm}-{hex_part}.att"


def attestation_envelopes(client: RegistryClient, image: ImageReference, digest: str) -> list[bytes]:
    """Every DSSE envelope attached to ``image``'s repository at ``digest``; [] when none is.
    Other registry errors propagate: the caller decides whether an unreadable registry is news."""
    try:
        manifest = client.manifest(image.with_tag(attestation_tag(digest)))
    except ManifestNotFoundError:
        return []
    layers = manifest.json().get("layers") or []
    return [client.blob(image, layer["digest"]) for layer in layers
            if isinstance(layer, dict) and layer.get("mediaType") == DSSE_MEDIA_TYPE and layer.get("digest")]
