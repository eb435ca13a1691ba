"""How stale each asset may get before the UI warns and then fails: one freshness policy per asset,
its windows read from ``C2C_FRESHNESS_<ASSET>`` (``WARN/FAIL``, e.g. ``25m/40m``) when the code
location loads."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta

import dagster as dg

#: (warn, fail) per asset, and why. Dagster judges an asset by its newest materialization of any
#: partition, so these are about the chain as a whole, not about one cluster or one day.
DEFAULT_WINDOWS: dict[str, tuple[str, str]] = {
    # Builds land only when Jenkins finishes one: a quiet night is normal, a quiet weekend
    # (Friday evening to Monday morning, ~62 h) should not fail, a quiet week should.
    "ci_builds": ("1d", "3d"),
    # Syncs are recorded only when someone (or Argo CD's automation) deploys: a long weekend
    # without one warns at most; a week without a sync in any cluster fails, since by then the
    # sensor has more likely stopped than every team stopped deploying.
    "argocd_sync_events": ("3d", "7d"),
    # Scans run every 10 minutes (C2C_SCAN_CRON): two missed scans warn, three fail.
    "deployment_snapshots": ("25m", "40m"),
    # Refreshed as soon as a snapshot lands, so the snapshot's windows plus a run's length.
    "traceability_records": ("30m", "45m"),
    # Recomputed whenever traceability_records lands (its windows plus a run), and at midnight.
    "delivery_metrics": ("45m", "1h"),
}

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class FreshnessSettingError(ValueError):
    """A ``C2C_FRESHNESS_*`` value that cannot be a freshness window; the message shows the form."""


def env_name(asset: str) -> str:
    return f"C2C_FRESHNESS_{asset.upper()}"


def parse_duration(text: str, where: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        raise FreshnessSettingError(f"{where}: {text!r} is not a duration like 90s, 25m, 2h or 3d")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def parse_windows(text: str, where: str) -> tuple[timedelta, timedelta]:
    """``WARN/FAIL`` as two timedeltas, checked against Dagster's rules (each >= 1 minute, warn < fail)."""
    warn_text, sep, fail_text = text.partition("/")
    if not sep:
        raise FreshnessSettingError(f"{where}: {text!r} should read WARN/FAIL, e.g. 25m/40m")
    warn, fail = parse_duration(warn_text, where), parse_duration(fail_text, where)
    if warn < timedelta(minutes=1):
        raise FreshnessSettingError(f"{where}: {text!r}: Dagster needs windows of at least 1 minute")
    if warn >= fail:
        raise FreshnessSettingError(f"{where}: {text!r}: the warn window must be shorter than the fail window")
    return warn, fail


def freshness_policy(asset: str, env: Mapping[str, str] | None = None) -> dg.FreshnessPolicy:
    """The policy for ``asset``: ``C2C_FRESHNESS_<ASSET>`` when set, else its default windows."""
    env = os.environ if env is None else env
    name = env_name(asset)
    warn, fail = parse_windows(env.get(name) or "/".join(DEFAULT_WINDOWS[asset]), name)
    return dg.FreshnessPolicy.time_window(fail_window=fail, warn_window=warn)
