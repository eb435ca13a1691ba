"""A period's four keys from the stored per-day rows: what ``c2c dora`` prints.

Pure Python over ``delivery-metrics`` documents of one scope (``metrics.py``): sums stay sums, and
medians and p90s are computed from the per-commit lead times and per-failure recovery times the
rows keep, never averaged from daily medians. A commit listed on two days of one scope (a day
backfilled after a later one was computed) counts once, on the earlier day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def summarize(rows: Iterable[Mapping[str, Any]], period: Period) -> dict[str, Any]:
    """The four keys with their bands over ``rows`` (one scope, days of ``period``)."""
    ordered = sorted(rows, key=lambda r: r["day"])
    totals = {key: sum(int(r.get(key) or 0) for r in ordered) for key in (
        "deployments", "rollbacks", "fix_deployments", "untraceable_deployments", "external_deployments",
        "failed_deployments", "commits_without_time", "failed_sync_attempts")}
    lead: dict[str, float] = {}
    for row in ordered:
        for commit, seconds in zip(row.get("lead_time_commits") or [], row.get("lead_time_seconds") or [], strict=True):
            lead.setdefault(commit, float(seconds))
    recoveries = [float(s) for row in ordered for s in row.get("recovery_seconds") or []]
    failures = [f for row in ordered for f in row.get("failures") or []]
    observed = min((r["observed_since"] for r in ordered if r.get("observed_since")), default=None)
    days = period.observed_days(observed)
    deployments = totals["deployments"]
    per_day = deployments / days if days else None
    rate = totals["failed_deployments"] / deployments if deployments else None
    lead_median = percentile(list(lead.values()), 0.5)
    recovery_median = percentile(recoveries, 0.5)
    return {
        "period": {"first_day": period.first_day.isoformat(), "last_day": period.last_day.isoformat(),
                   "days": period.days, "days_observed": days, "observed_since": observed},
        "deployment_frequency": {
            "deployments": deployments,
            "per_day": per_day,
            "per_week": per_day * 7 if per_day is not None else None,
            "rollbacks": totals["rollbacks"],
            "fix_deployments": totals["fix_deployments"],
            "untraceable_deployments": totals["untraceable_deployments"],
            "external_deployments": totals["external_deployments"],
            "band": frequency_band(per_day),
        },
        "lead_time": {
            "commits": len(lead),
            "median_seconds": lead_median,
            "p90_seconds": percentile(list(lead.values()), 0.9),
            "commits_without_time": totals["commits_without_time"],
            "band": lead_time_band(lead_median),
        },
        "change_failure_rate": {
            "failed_deployments": totals["failed_deployments"],
            "deployments": deployments,
            "rate": rate,
            "band": failure_rate_band(rate),
            "failures": failures,
            # Failed syncs that applied nothing: shown apart, not failed deployments.
            "failed_sync_attempts": totals["failed_sync_attempts"],
        },
        "recovery_time": {
            "recoveries": len(recoveries),
            "median_seconds": recovery_median,
            "p90_seconds": percentile(recoveries, 0.9),
            "band": recovery_band(recovery_median),
        },
    }
