"""The delivery-metrics row: DORA's four keys for one scope and one UTC day.

Written by ``delivery_metrics`` (``c2c_dagster/delivery/``, where the scopes, the id and every
figure are defined), read by ``c2c dora`` and the dashboards. The lead times and recovery times
are kept per commit and per failure (aligned lists), so a period's median and p90 are computed
exactly, never averaged from daily medians.
"""

from __future__ import annotations

from dataclasses import dataclass

from c2c_dagster.documents.base import Document, date, double, integer, keyword, nested


@dataclass(slots=True)
class DeploymentFailure(Document):
    deployment: str | None = keyword()
    signals: list[str] = keyword(factory=list)  # rolled_back, fix_release, sync_failed, sync_degraded


@dataclass(slots=True)
class DeliveryMetricsRow(Document):
    """One scope's figures for one day; id ``<scope>/<cluster>/<app>/<day>``, so a re-run overwrites."""

    row_id: str = keyword(lookup=True, default="")
    scope: str | None = keyword(lookup=True)  # cluster_app, cluster, app or all
    cluster: str | None = keyword(lookup=True)  # "*": every cluster
    app: str | None = keyword(lookup=True)  # "*": every app
    day: str | None = date()
    observed_since: str | None = date()  # the first scan of the cluster (the earliest, for "*")
    namespaces: list[str] = keyword(factory=list)
    workloads: list[str] = keyword(factory=list)  # namespace/Kind/name of the workloads deployed that day
    deployments: int | None = integer()
    rollbacks: int | None = integer()
    fix_deployments: int | None = integer()
    untraceable_deployments: int | None = integer()
    external_deployments: int | None = integer()
    failed_deployments: int | None = integer()
    change_failure_rate: float | None = double()
    failures: list[DeploymentFailure] = nested(DeploymentFailure, many=True)
    # Failed syncs that applied nothing: attempts, not deployments, never in the rate.
    failed_sync_attempts: int | None = integer()
    lead_time_commits: list[str] = keyword(factory=list)
    lead_time_seconds: list[float] = double(factory=list)  # aligned with lead_time_commits
    lead_time_count: int | None = integer()
    lead_time_median_seconds: float | None = double()
    lead_time_p90_seconds: float | None = double()
    commits_without_time: int | None = integer()
    recovered_deployments: list[str] = keyword(factory=list)
    recovery_seconds: list[float] = double(factory=list)  # aligned with recovered_deployments
    recovery_count: int | None = integer()
    recovery_median_seconds: float | None = double()
