"""Percentiles and DORA performance bands: one definition for the asset, ``c2c dora`` and the tests.

Pure Python (``c2c dora`` imports no pandas). Percentiles interpolate linearly between the two
nearest ranks (Hyndman and Fan's type 7, numpy's default): the median of 1, 2, 3, 10 is 2.5 and its
p90 7.9. ``metrics.grouped_percentiles`` computes the same numbers for many groups at once.

The bands are thresholds c2c puts between the clusters DORA's State of DevOps research describes
(Accelerate State of DevOps 2024 for throughput and recovery; 2023 for the change failure rate,
since 2024's clusters are not ordered by it: high 20 %, medium 10 %):

| key | elite | high | medium | low |
|---|---|---|---|---|
| deployment frequency (deployments a day, per app) | at least 1 a day ("on demand") | at least 1 a week | at least 1 a month | less |
| lead time for changes (median) | under 1 day | under 1 week | under 1 month (30 days) | longer |
| change failure rate | at most 5 % | at most 10 % | at most 15 % | more |
| failed deployment recovery time (median) | under 1 hour | under 1 day | under 1 week | longer |
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 30 * DAY

ELITE, HIGH, MEDIUM, LOW = "elite", "high", "medium", "low"


def quantile_fraction(q: float) -> tuple[int, int]:
    """``q`` as numerator and denominator (0.9 -> 9/10): ranks are then found in whole numbers, and
    the interpolation is exact for whole-second values (no 241919.99999999997 for 67.2 hours)."""
    fraction = Fraction(q).limit_denominator(1000)
    if not 0 <= fraction <= 1:
        raise ValueError(f"quantile {q} is not between 0 and 1")
    return fraction.numerator, fraction.denominator


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    num, den = quantile_fraction(q)
    rank = (len(ordered) - 1) * num
    lower, rest = divmod(rank, den)
    upper = min(lower + 1, len(ordered) - 1)
    return (ordered[lower] * (den - rest) + ordered[upper] * rest) / den


def frequency_band(per_day: float | None) -> str | None:
    if per_day is None:
        return None
    if per_day >= 1:
        return ELITE
    if per_day >= 1 / 7:
        return HIGH
    if per_day >= 1 / 30:
        return MEDIUM
    return LOW


def lead_time_band(median_seconds: float | None) -> str | None:
    if median_seconds is None:
        return None
    if median_seconds < DAY:
        return ELITE
    if median_seconds < WEEK:
        return HIGH
    if median_seconds < MONTH:
        return MEDIUM
    return LOW


def failure_rate_band(rate: float | None) -> str | None:
    if rate is None:
        return None
    if rate <= 0.05:
        return ELITE
    if rate <= 0.10:
        return HIGH
    if rate <= 0.15:
        return MEDIUM
    return LOW


def recovery_band(median_seconds: float | None) -> str | None:
    if median_seconds is None:
        return None
    if median_seconds < HOUR:
        return ELITE
    if median_seconds < DAY:
        return HIGH
    if median_seconds < WEEK:
        return MEDIUM
    return LOW
