"""Production scope, windows and fix releases from the environment or a YAML file; bad values named."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from c2c_dagster.delivery.policy import (
    DeliveryPolicyError,
    ProductionScope,
    build_policy,
    env_settings,
)
from c2c_dagster.settings import SettingsError


def test_production_scope_by_cluster_and_namespace_patterns() -> None:
    every = ProductionScope()
    assert every.covers("anything", "anywhere")
    scope = ProductionScope(clusters=("prod-*",), namespaces=("shop", "pay-*", "shared/team-a"))
    assert scope.covers("prod-eu", "shop") and scope.covers("prod-us", "pay-api")
    assert not scope.covers("staging", "shop")
    assert not scope.covers("prod-eu", "sandbox")
    # A pattern with a slash names the cluster too.
    assert not scope.covers("prod-eu", "team-a")
    assert ProductionScope(namespaces=("shared/team-a",)).covers("shared", "team-a")


def test_fix_releases_by_branch_or_revert_commit() -> None:
    policy = build_policy()
    assert policy.is_fix("hotfix/payment", [])
    assert policy.is_fix("fix-1.2.3", ["anything"])
    assert policy.is_fix("main", ['feat: x', 'Revert "feat: y"\n\nThis reverts commit abc.'])
    assert not policy.is_fix("main", ["fix: typo in the README"])  # a bug fix is not a fix release
    assert not policy.is_fix("fixtures", [])


def test_settings_from_a_file_and_the_environment_which_wins(tmp_path: Path) -> None:
    file = tmp_path / "delivery.yaml"
    file.write_text("production_clusters: [prod-*]\nproduction_namespaces: [shop]\nfailure_window: 2d\n")
    settings = env_settings({"C2C_DELIVERY_CONFIG_FILE": str(file), "C2C_PRODUCTION_NAMESPACES": "shop, pay",
                             "C2C_DORA_RECOVERY_HORIZON": "14d"})
    assert settings == {"production_clusters": ["prod-*"], "production_namespaces": ["shop", "pay"],
                        "failure_window": "2d", "recovery_horizon": "14d"}
    policy = build_policy(**settings)
    assert (policy.failure_window, policy.recovery_horizon) == (timedelta(days=2), timedelta(days=14))
    assert env_settings({}) == {}  # nothing configured: every cluster and namespace, default windows


@pytest.mark.parametrize(("environ", "message"), [
    ({"C2C_DORA_FAILURE_WINDOW": "soon"}, "C2C_DORA_FAILURE_WINDOW"),
    ({"C2C_DORA_FIX_BRANCHES": "hotfix/(["}, "C2C_DORA_FIX_BRANCHES='hotfix/\\(\\[': not a regular expression"),
    ({"C2C_DELIVERY_CONFIG_FILE": "/nonexistent/delivery.yaml"}, "cannot be read"),
])
def test_bad_settings_name_what_to_fix(environ: dict[str, str], message: str) -> None:
    # A bad variable is refused by the settings (SettingsError), a bad file by the policy (DeliveryPolicyError).
    with pytest.raises((SettingsError, DeliveryPolicyError), match=message):
        env_settings(environ)


def test_a_file_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "delivery.yaml"
    file.write_text("production: [prod]\n")
    with pytest.raises(DeliveryPolicyError, match="unknown key"):
        env_settings({"C2C_DELIVERY_CONFIG_FILE": str(file)})
