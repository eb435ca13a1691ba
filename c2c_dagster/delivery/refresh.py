"""Recompute and store the delivery-metrics rows of a range of days: read, compute, upsert, prune.

A long range (a backfill of a year) is computed a month at a time, so memory is bounded by a
month's releases. Each month's rows replace whatever the store held for those days: rows are
upserted by their deterministic ids, then rows of those days that the computation no longer
produces (a cluster no longer counted as production, an app renamed) are deleted, so a re-run or
a backfill leaves exactly one current row per scope and day.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from c2c_dagster.delivery.inputs import InputStats, read_inputs
from c2c_dagster.delivery.metrics import delivery_metrics
from c2c_dagster.delivery.policy import DeliveryPolicy
from c2c_dagster.documents.base import to_documents
from c2c_dagster.documents.delivery import DeliveryMetricsRow
from c2c_dagster.store import DELIVERY_METRICS, MetadataStore

CHUNK = timedelta(days=31)


@dataclass
class RefreshResult:
    written: int = 0
    deleted: int = 0
    stats: InputStats = field(default_factory=InputStats)
    # The "all" scope's rows, whole (the headline figures), and per (cluster, app) what the
    # preview table needs: counts summed, lead and recovery times pooled.
    all_rows: list[DeliveryMetricsRow] = field(default_factory=list)
    per_app: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)


def refresh_days(store: MetadataStore, policy: DeliveryPolicy, start: datetime, end: datetime) -> RefreshResult:
    """Recompute and store every row of the UTC days in [start, end)."""
    result = RefreshResult()
    per_app: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"deployments": 0, "failed_deployments": 0, "lead_time_seconds": [], "recovery_seconds": []})
    chunk_start = start
    while chunk_start < end:
        chunk_end = min(chunk_start + CHUNK, end)
        inputs, stats = read_inputs(store, policy, chunk_start, chunk_end)
        computed = delivery_metrics(inputs, chunk_start, chunk_end, policy)
        if computed.rows:
            result.written += store.upsert(DELIVERY_METRICS.name, to_documents(computed.rows)).written
        result.deleted += store.delete_range(DELIVERY_METRICS.name, chunk_start, chunk_end,
                                             keep=[row.row_id for row in computed.rows])
        for name in ("release_events", "builds", "failure_syncs", "commits_ran_before"):
            setattr(result.stats, name, getattr(result.stats, name) + getattr(stats, name))
        for row in computed.rows:
            if row.scope == "all":
                result.all_rows.append(row)
            elif row.scope == "cluster_app":
                app = per_app[(row.cluster, row.app)]
                app["deployments"] += row.deployments
                app["failed_deployments"] += row.failed_deployments
                app["lead_time_seconds"] += row.lead_time_seconds
                app["recovery_seconds"] += row.recovery_seconds
        failed = computed.deployments[computed.deployments["failed"]]
        result.failures += [
            {"deployment": r.deployment_id, "app": r.app, "signals": ", ".join(r.signals),
             "restored_by": r.restored_by if isinstance(r.restored_by, str) else None,
             "recovery_seconds": (pd.Timestamp(r.restored_at) - r.at).total_seconds() if pd.notna(r.restored_at) else None}
            for r in failed.itertuples()
        ]
        chunk_start = chunk_end
    result.per_app = dict(per_app)
    return result


__all__ = ["CHUNK", "RefreshResult", "refresh_days"]
