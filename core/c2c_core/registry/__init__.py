"""Container registries over the OCI distribution API: the digest a tag points at, multi-arch indexes, image configs."""

from c2c_core.registry.client import (
    ManifestNotFoundError,
    PlatformDigest,
    RegistryAuthError,
    RegistryClient,
    RegistryError,
    RegistryUnavailableError,
    ResolvedImage,
)

__all__ = [
    "ManifestNotFoundError",
    "PlatformDigest",
    "RegistryAuthError",
    "RegistryClient",
    "RegistryError",
    "RegistryUnavailableError",
    "ResolvedImage",
]
