"""How stale each asset may get before the UI warns and then fails: one freshness policy per asset,
its windows the settings' ``C2C_FRESHNESS_<ASSET>`` (``WARN/FAIL``, e.g. ``25m/40m``) or the
defaults ``settings.FRESHNESS_DEFAULTS`` gives, with why."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from c2c_dagster import settings as config
from c2c_dagster.settings import DEFAULTS, FRESHNESS_DEFAULTS, Settings

#: (warn, fail) per asset. Dagster judges an asset by its newest materialization of any
#: partition, so these are about the chain as a whole, not about one cluster or one day.
DEFAULT_WINDOWS: dict[str, tuple[str, str]] = {
    asset: tuple(windows.split("/")) for asset, windows in FRESHNESS_DEFAULTS.items()  # type: ignore[misc]
}


class FreshnessSettingError(ValueError):
    """A ``C2C_FRESHNESS_*`` value that cannot be a freshness window; the message shows the form."""


def env_name(asset: str) -> str:
    return f"C2C_FRESHNESS_{asset.upper()}"


def parse_duration(text: str, where: str) -> timedelta:
    try:
        return config.parse_duration(text)
    except ValueError as exc:
        raise FreshnessSettingError(f"{where}: {exc}") from None


def parse_windows(text: str, where: str) -> tuple[timedelta, timedelta]:
    """``WARN/FAIL`` as two timedeltas, checked against Dagster's rules (each >= 1 minute, warn < fail)."""
    try:
        return config.parse_windows(text)
    except ValueError as exc:
        raise FreshnessSettingError(f"{where}: {exc}") from None


def freshness_policy(asset: str, settings: Settings | None = None) -> dg.FreshnessPolicy:
    """The policy for ``asset`` under ``settings`` (the defaults when None: what an asset carries
    until ``build_definitions`` applies the configured windows)."""
    windows = (settings or DEFAULTS).freshness(asset)
    warn, fail = parse_windows(windows, env_name(asset))
    return dg.FreshnessPolicy.time_window(fail_window=fail, warn_window=warn)
