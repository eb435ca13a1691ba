"""What the Dagster UI shows beside a delivery_metrics materialization: the headline figures of the
days it computed (the four keys with their DORA bands, every production cluster and app), a table
per app, and the failed deployments with their signals and recovery. Numbers are metadata values
of their own, so the UI plots them across materializations."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import dagster as dg

from c2c_dagster.dagster_ui import DELIVERY, PREVIEW_ROWS, dashboard_link, table
from c2c_dagster.delivery.bands import percentile
from c2c_dagster.delivery.policy import DeliveryPolicy
from c2c_dagster.delivery.summary import Period, summarize

if TYPE_CHECKING:
    from c2c_dagster.delivery.refresh import RefreshResult

HOUR = 3600.0


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / HOUR, 2)


def _number(value: float | int | None) -> dg.MetadataValue:
    if value is None:
        return dg.MetadataValue.null()
    return dg.MetadataValue.int(value) if isinstance(value, int) else dg.MetadataValue.float(float(value))


def delivery_preview(result: RefreshResult, start: datetime, end: datetime, policy: DeliveryPolicy) -> dict[str, Any]:
    period = Period(start.date(), (end - timedelta(days=1)).date())
    headline = summarize(result.all_rows, period)
    frequency, lead, failure, recovery = (headline[k] for k in (
        "deployment_frequency", "lead_time", "change_failure_rate", "recovery_time"))
    apps = sorted(result.per_app.items(), key=lambda item: (-item[1]["deployments"], item[0]))
    return {
        "first_day": period.first_day.isoformat(),
        "last_day": period.last_day.isoformat(),
        "production": policy.production.describe(),
        "deployments": frequency["deployments"],
        "deployments_per_day": _number(frequency["per_day"]),
        "lead_time_median_hours": _number(_hours(lead["median_seconds"])),
        "lead_time_p90_hours": _number(_hours(lead["p90_seconds"])),
        "change_failure_rate": _number(failure["rate"]),
        "recovery_median_hours": _number(_hours(recovery["median_seconds"])),
        "dora_bands": dg.MetadataValue.json({key: headline[key]["band"] for key in (
            "deployment_frequency", "lead_time", "change_failure_rate", "recovery_time")}),
        "per_app": table(
            [("cluster", "string"), ("app", "string"), ("deployments", "int"), ("failed", "int"),
             ("change_failure_rate", "float"), ("lead_time_median_hours", "float"), ("recovery_median_hours", "float")],
            ({"cluster": cluster, "app": app, "deployments": figures["deployments"],
              "failed": figures["failed_deployments"],
              "change_failure_rate": figures["failed_deployments"] / figures["deployments"] if figures["deployments"] else None,
              # Pooled within one (cluster, app): each commit is there once, at its first release.
              "lead_time_median_hours": _hours(percentile(figures["lead_time_seconds"], 0.5)),
              "recovery_median_hours": _hours(percentile(figures["recovery_seconds"], 0.5))}
             for (cluster, app), figures in apps[:PREVIEW_ROWS])),
        "failed_deployments": table(
            [("deployment", "string"), ("app", "string"), ("signals", "string"), ("restored_by", "string"),
             ("recovery_hours", "float")],
            ({**failure_row, "recovery_hours": _hours(failure_row["recovery_seconds"])}
             for failure_row in sorted(result.failures, key=lambda f: f["deployment"], reverse=True)[:PREVIEW_ROWS])),
        "rows_written": result.written,
        "rows_deleted": result.deleted,
        "release_events_read": result.stats.release_events,
        **dashboard_link("dashboard", DELIVERY),
    }
