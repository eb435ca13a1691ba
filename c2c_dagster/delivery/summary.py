"""A period's four keys from the stored per-day rows: what ``c2c dora`` prints.

Pure Python over ``DeliveryMetricsRow``s of one scope (``metrics.py``): sums stay sums, and
medians and p90s are computed from the per-commit lead times and per-failure recovery times the
rows keep, never averaged from daily medians. A commit listed on two days of one scope (a day
backfilled after a later one was computed) counts once, on the earlier day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from c2c_dagster.delivery.bands import (
    failure_rate_band,
    frequency_band,
    lead_time_band,
    percentile,
    recovery_band,
)
from c2c_dagster.documents.delivery import DeliveryMetricsRow


@dataclass(frozen=True)
class Period:
    first_day: date
    last_day: date  # inclusive

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def observed_days(self, observed_since: str | None) -> int:
        """Days of the period from the day c2c first scanned (the whole period if earlier)."""
        if not observed_since:
            return self.days
        first = max(self.first_day, date.fromisoformat(observed_since[:10]))
        return max(0, (self.last_day - first).days + 1)

    def day_keys(self) -> list[str]:
        return [(self.first_day + timedelta(days=i)).isoformat() for i in range(self.days)]


def _total(counts: Iterable[int | None]) -> int:
    return sum(int(count or 0) for count in counts)


def summarize(rows: Iterable[DeliveryMetricsRow], period: Period) -> dict[str, Any]:
    """The four keys with their bands over ``rows`` (one scope, days of ``period``)."""
    ordered = sorted(rows, key=lambda r: r.day or "")
    deployments = _total(r.deployments for r in ordered)
    failed = _total(r.failed_deployments for r in ordered)
    lead: dict[str, float] = {}
    for row in ordered:
        for commit, seconds in zip(row.lead_time_commits, row.lead_time_seconds, strict=True):
            lead.setdefault(commit, float(seconds))
    recoveries = [float(s) for row in ordered for s in row.recovery_seconds]
    failures = [f.to_document() for row in ordered for f in row.failures]
    observed = min((r.observed_since for r in ordered if r.observed_since), default=None)
    days = period.observed_days(observed)
    per_day = deployments / days if days else None
    rate = failed / deployments if deployments else None
    lead_median = percentile(list(lead.values()), 0.5)
    recovery_median = percentile(recoveries, 0.5)
    return {
        "period": {"first_day": period.first_day.isoformat(), "last_day": period.last_day.isoformat(),
                   "days": period.days, "days_observed": days, "observed_since": observed},
        "deployment_frequency": {
            "deployments": deployments,
            "per_day": per_day,
            "per_week": per_day * 7 if per_day is not None else None,
            "rollbacks": _total(r.rollbacks for r in ordered),
            "fix_deployments": _total(r.fix_deployments for r in ordered),
            "untraceable_deployments": _total(r.untraceable_deployments for r in ordered),
            "external_deployments": _total(r.external_deployments for r in ordered),
            "band": frequency_band(per_day),
        },
        "lead_time": {
            "commits": len(lead),
            "median_seconds": lead_median,
            "p90_seconds": percentile(list(lead.values()), 0.9),
            "commits_without_time": _total(r.commits_without_time for r in ordered),
            "band": lead_time_band(lead_median),
        },
        "change_failure_rate": {
            "failed_deployments": failed,
            "deployments": deployments,
            "rate": rate,
            "band": failure_rate_band(rate),
            "failures": failures,
            # Failed syncs that applied nothing: shown apart, not failed deployments.
            "failed_sync_attempts": _total(r.failed_sync_attempts for r in ordered),
        },
        "recovery_time": {
            "recoveries": len(recoveries),
            "median_seconds": recovery_median,
            "p90_seconds": percentile(recoveries, 0.9),
            "band": recovery_band(recovery_median),
        },
    }
