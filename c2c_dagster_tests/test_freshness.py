"""Every asset of the code location carries a freshness policy; its windows come from
``C2C_FRESHNESS_<ASSET>`` or documented defaults, and a bad value is refused with the form to use."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest

from c2c_dagster.definitions import defs
from c2c_dagster.freshness import DEFAULT_WINDOWS, freshness_policy
from c2c_dagster.settings import Settings, SettingsError


def windows(policy: dg.FreshnessPolicy) -> tuple[timedelta, timedelta]:
    return policy.warn_window.to_timedelta(), policy.fail_window.to_timedelta()


def test_every_asset_has_a_freshness_policy_and_a_default_window() -> None:
    specs = list(defs.resolve_all_asset_specs())
    assert specs
    for spec in specs:
        assert spec.freshness_policy is not None, f"{spec.key} has no freshness policy"
        assert spec.key.to_user_string() in DEFAULT_WINDOWS


def test_defaults_and_the_environment_override() -> None:
    defaults = Settings.from_env({})
    assert windows(freshness_policy("deployment_snapshots", defaults)) == (timedelta(minutes=25), timedelta(minutes=40))
    assert windows(freshness_policy("ci_builds", defaults)) == (timedelta(days=1), timedelta(days=3))
    custom = freshness_policy("traceability_records",
                              Settings.from_env({"C2C_FRESHNESS_TRACEABILITY_RECORDS": "90s/2h"}))
    assert windows(custom) == (timedelta(seconds=90), timedelta(hours=2))


@pytest.mark.parametrize(
    ("value", "message"),
    [("40m", "should read WARN/FAIL"), ("40m/25m", "warn window must be shorter"), ("30s/5m", "at least 1 minute"),
     ("ten/20m", "not a duration like 90s, 25m, 2h or 3d")],
)
def test_a_bad_window_names_the_variable_and_the_form(value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        Settings.from_env({"C2C_FRESHNESS_CI_BUILDS": value})
    assert "C2C_FRESHNESS_CI_BUILDS" in str(caught.value)
