"""Container registries: image references, and reading digests and configs over the OCI distribution API."""

from c2c_dagster.registry.client import (
    ManifestNotFoundError,
    PlatformDigest,
    RegistryAuthError,
    RegistryClient,
    RegistryError,
    RegistryUnavailableError,
    ResolvedImage,
)
from c2c_dagster.registry.reference import ImageReference, InvalidReferenceError, parse_reference

__all__ = [
    "ImageReference",
    "InvalidReferenceError",
    "ManifestNotFoundError",
    "PlatformDigest",
    "RegistryAuthError",
    "RegistryClient",
    "RegistryError",
    "RegistryUnavailableError",
    "ResolvedImage",
    "parse_reference",
]
