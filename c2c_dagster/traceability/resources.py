"""``ImagePolicyResource``: which registries and repositories CI builds for, and the advice turned on."""

from __future__ import annotations

import dagster as dg

from c2c_dagster.provenance.verify import TrustPolicy
from c2c_dagster.store import CI_BUILD_METADATA, MetadataStore
from c2c_dagster.traceability.image_policy import (
    INTERNAL_ENV,
    POLICY_FILE_ENV,
    ImagePolicy,
    build_policy,
    policy_settings,
    read_policy_file,
)
from c2c_dagster.settings import Settings, load_settings


class ImagePolicyResource(dg.ConfigurableResource):
    """Internal registries / repository prefixes (``C2C_INTERNAL_REGISTRIES``), a YAML policy file
    (``C2C_IMAGE_POLICY_FILE``) adding to them, and ``advise_digest_pinning`` (off by default).
    With no prefix configured, the registries ci_builds pushed to are internal
    (``c2c_dagster/traceability/image_policy.py`` has the whole rule)."""

    internal_registries: list[str] = []
    policy_file: str | None = None
    advise_digest_pinning: bool = False

    def policy(self, store: MetadataStore) -> ImagePolicy:
        from_file = read_policy_file(self.policy_file) if self.policy_file else {
            "internal": [], "advise_digest_pinning": False, "trust": TrustPolicy()}
        configured = [*self.internal_registries, *from_file["internal"]]
        sources = [name for name, given in ((INTERNAL_ENV, self.internal_registries),
                                            (f"{POLICY_FILE_ENV}={self.policy_file}", from_file["internal"])) if given]
        return build_policy(
            configured,
            # Read only when nothing is configured: one aggregation, not a scan of the builds.
            built_images=() if configured else store.distinct(CI_BUILD_METADATA.name, "image_name"),
            advise_digest_pinning=self.advise_digest_pinning or from_file["advise_digest_pinning"],
            configured_from=", ".join(sources),
            trust=from_file["trust"],
        )


def image_policy_resource_from_env(settings: Settings | None = None) -> ImagePolicyResource:
    """From ``settings`` (the process's when None): ``C2C_INTERNAL_REGISTRIES``, ``C2C_IMAGE_POLICY_FILE``,
    ``C2C_ADVISE_DIGEST_PINNING``."""
    return ImagePolicyResource(**policy_settings(settings or load_settings()))
