"""``DeliveryPolicyResource``: which clusters and namespaces are production, the change-failure window,
the recovery horizon, what a fix release is (``c2c_dagster/delivery/policy.py`` has the rules)."""

from __future__ import annotations

import dagster as dg

from c2c_dagster.delivery.policy import (
    DEFAULT_FAILURE_WINDOW,
    DEFAULT_FIX_BRANCHES,
    DEFAULT_FIX_MESSAGES,
    DEFAULT_RECOVERY_HORIZON,
    DeliveryPolicy,
    build_policy,
    policy_settings,
)
from c2c_dagster.settings import Settings, load_settings


class DeliveryPolicyResource(dg.ConfigurableResource):
    """Production clusters and namespaces (shell patterns; empty: all), the failure window and
    recovery horizon (``30m``, ``1d``), and the fix-release patterns (regular expressions)."""

    production_clusters: list[str] = []
    production_namespaces: list[str] = []
    failure_window: str = DEFAULT_FAILURE_WINDOW
    recovery_horizon: str = DEFAULT_RECOVERY_HORIZON
    fix_branches: str = DEFAULT_FIX_BRANCHES
    fix_messages: str = DEFAULT_FIX_MESSAGES

    def policy(self) -> DeliveryPolicy:
        return build_policy(
            production_clusters=self.production_clusters, production_namespaces=self.production_namespaces,
            failure_window=self.failure_window, recovery_horizon=self.recovery_horizon,
            fix_branches=self.fix_branches, fix_messages=self.fix_messages,
        )


def delivery_policy_resource_from_env(settings: Settings | None = None) -> DeliveryPolicyResource:
    """From ``settings`` (the process's when None): ``C2C_PRODUCTION_CLUSTERS``, ``C2C_PRODUCTION_NAMESPACES``,
    ``C2C_DELIVERY_CONFIG_FILE``, ``C2C_DORA_FAILURE_WINDOW``, ``C2C_DORA_RECOVERY_HORIZON``,
    ``C2C_DORA_FIX_BRANCHES``, ``C2C_DORA_FIX_MESSAGES``."""
    return DeliveryPolicyResource(**policy_settings(settings or load_settings()))
