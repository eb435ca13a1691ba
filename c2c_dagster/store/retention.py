"""Retention of history: which documents c2c deletes once they are older than N days, and the
one pass that deletes them. It stands in for an index state-management (ISM) policy, which acts
on whole indices and would drop current state with the past (c2c upserts in place by id)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from c2c_dagster.settings import load_settings
from c2c_dagster.store.base import MetadataStore
from c2c_dagster.store.indices import DEPLOYMENT_METADATA, INGEST_PROBLEMS, TRACEABILITY_METADATA

RETENTION_ENV = "C2C_RETENTION_DAYS"


@dataclass(frozen=True)
class RetentionRule:
    """Documents of ``index`` whose date ``field`` is older than the cutoff and whose fields
    equal ``where`` are history that may go."""

    index: str
    field: str
    what: str
    where: Mapping[str, str | bool] | None = None


# Only the past goes: an open version (no ``until``), a running record and every document other
# indices hold stay. Builds, sync events and release events are one per change, small, and what
# audits and DORA's lead times look back over, so they are kept whatever the retention.
RULES: tuple[RetentionRule, ...] = (
    RetentionRule(DEPLOYMENT_METADATA.name, "until", "workload and pod versions closed before the cutoff"),
    RetentionRule(TRACEABILITY_METADATA.name, "updated_at", "records of images that stopped running before the cutoff",
                  where={"running": False}),
    RetentionRule(INGEST_PROBLEMS.name, "last_seen", "ingest problems last seen before the cutoff"),
)


def retention_days_from_env(env: Mapping[str, str] | None = None) -> int | None:
    """``C2C_RETENTION_DAYS`` of ``env`` (the process's when None) as a whole number of days, or None
    (keep everything) when unset; a bad value raises ``SettingsError``, naming it."""
    return load_settings(env).retention_days


def cutoff_for(days: int, now: datetime) -> datetime:
    """The moment before which history goes: ``days`` whole days before ``now``."""
    if days < 1:
        raise ValueError(f"retention of {days} days: keep at least one day of history")
    return now - timedelta(days=days)


def apply_retention(store: MetadataStore, cutoff: datetime) -> dict[str, int]:
    """Delete every rule's documents older than ``cutoff``; how many went, per index. Idempotent:
    a second pass, or a retry after a failure, deletes only what is left."""
    return {rule.index: store.delete_older(rule.index, rule.field, cutoff, where=rule.where) for rule in RULES}
