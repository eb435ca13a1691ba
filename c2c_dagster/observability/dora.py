"""DORA's four keys as Prometheus gauges: the stored delivery-metrics rows of the last N days (30 by
default), summarized per scope exactly as ``c2c dora --since 30d`` does (``delivery/summary.py``).

Every gauge carries ``cluster`` and ``app`` with the rows' own scope convention: ``*`` stands for
every production cluster or every app, so each series is one of ``c2c dora``'s answers (``cluster="*",
app="*"`` is ``c2c dora``; ``cluster="prod", app="*"`` is ``c2c dora --cluster prod``) and no PromQL
sum is needed, or correct: medians and p90s do not add up. One series per gauge and scope: apps x
clusters they deploy to, plus clusters, plus apps, plus one, for the apps that deployed in the window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from c2c_dagster.delivery.bands import ELITE, HIGH, LOW, MEDIUM
from c2c_dagster.delivery.report import parse_period
from c2c_dagster.delivery.summary import Period, summarize
from c2c_dagster.documents.delivery import DeliveryMetricsRow
from c2c_dagster.store import DELIVERY_METRICS, FIND_ALL, MetadataStore

DEFAULT_WINDOW_DAYS = 30
#: c2c_dora_band's value per band: higher is better, so an alert reads ``<= 1`` for "low".
BAND_VALUES = {ELITE: 4, HIGH: 3, MEDIUM: 2, LOW: 1}
QUANTILES = (("0.5", "median_seconds"), ("0.9", "p90_seconds"))


@dataclass(frozen=True)
class ScopeSummary:
    """One scope's period summary (``summary.summarize``); cluster and app are ``*`` where the
    scope keeps none."""

    scope: str
    cluster: str
    app: str
    summary: dict[str, Any]


def window(days: int, today: datetime | None = None) -> Period:
    """The last ``days`` days, today (UTC) included: ``c2c dora --since <days>d``."""
    return parse_period(f"{days}d", None, today=today.date() if today else None)


def read_summaries(store: MetadataStore, period: Period) -> list[ScopeSummary]:
    """Every scope's summary over ``period`` from the stored rows (one read of the period's rows)."""
    start = datetime(period.first_day.year, period.first_day.month, period.first_day.day, tzinfo=UTC)
    rows = DeliveryMetricsRow.from_documents(
        store.list_range(DELIVERY_METRICS.name, start, start + timedelta(days=period.days), limit=FIND_ALL))
    # The writer sets scope, cluster and app on every row (the model allows None for any field).
    by_scope: dict[tuple[Any, Any, Any], list[DeliveryMetricsRow]] = {}
    for row in rows:
        by_scope.setdefault((row.scope, row.cluster, row.app), []).append(row)
    return [ScopeSummary(scope, cluster, app, summarize(scope_rows, period))
            for (scope, cluster, app), scope_rows in sorted(by_scope.items())]


def dora_families(summaries: Sequence[ScopeSummary], window_days: int) -> list[Metric]:
    """The gauges of every scope's summary (absent where a figure is undefined: no deployment, no
    commit with a time, no recovery)."""
    labels = ["cluster", "app"]
    over = f"over the last {window_days} days (c2c dora --since {window_days}d)"
    gauge = {name: GaugeMetricFamily(f"c2c_dora_{name}", f"{text} {over}.", labels=labels) for name, text in (
        ("days_observed", "Days of the window c2c observed the scope's clusters (the denominator of the daily rate)"),
        ("deployments", "Production deployments (changes of a workload's running digest, rollbacks included)"),
        ("deployments_per_day", "Deployment frequency: deployments per observed day"),
        ("rollbacks", "Deployments that returned to an earlier digest"),
        ("failed_deployments", "Deployments rolled back, replaced by a fix release, or whose own rollout failed "
                               "(a failed or degraded Argo CD sync that changed the cluster) within the failure window"),
        ("failed_sync_attempts", "Argo CD syncs that failed before applying anything (no deployment; not in the rate)"),
        ("change_failure_rate", "Change failure rate: failed deployments / deployments"),
        ("lead_time_commits", "Commits with a commit time released for the first time"),
        ("recoveries", "Failed deployments restored by a later good deployment"),
    )}
    lead = GaugeMetricFamily("c2c_dora_lead_time_seconds", f"Lead time for changes (commit to running in "
                             f"production), median (quantile 0.5) and p90 (0.9), {over}.",
                             labels=[*labels, "quantile"])
    recovery = GaugeMetricFamily("c2c_dora_recovery_time_seconds", f"Failed deployment recovery time, median "
                                 f"(quantile 0.5) and p90 (0.9), {over}.", labels=[*labels, "quantile"])
    band = GaugeMetricFamily("c2c_dora_band", f"The DORA performance band of each key (key: deployment_frequency, "
                             f"lead_time, change_failure_rate, recovery_time): 4 elite, 3 high, 2 medium, 1 low, "
                             f"{over}.", labels=[*labels, "key"])
    for item in summaries:
        s, where = item.summary, [item.cluster, item.app]
        frequency, lead_time = s["deployment_frequency"], s["lead_time"]
        failure, recovery_time = s["change_failure_rate"], s["recovery_time"]
        values: Mapping[str, float | None] = {
            "days_observed": s["period"]["days_observed"],
            "deployments": frequency["deployments"],
            "deployments_per_day": frequency["per_day"],
            "rollbacks": frequency["rollbacks"],
            "failed_deployments": failure["failed_deployments"],
            "failed_sync_attempts": failure.get("failed_sync_attempts"),
            "change_failure_rate": failure["rate"],
            "lead_time_commits": lead_time["commits"],
            "recoveries": recovery_time["recoveries"],
        }
        for name, value in values.items():
            if value is not None:
                gauge[name].add_metric(where, value)
        for quantile, key in QUANTILES:
            if lead_time[key] is not None:
                lead.add_metric([*where, quantile], lead_time[key])
            if recovery_time[key] is not None:
                recovery.add_metric([*where, quantile], recovery_time[key])
        for key in ("deployment_frequency", "lead_time", "change_failure_rate", "recovery_time"):
            if s[key]["band"] is not None:
                band.add_metric([*where, key], BAND_VALUES[s[key]["band"]])
    return [*gauge.values(), lead, recovery, band]
