"""``store_retention_job`` and its daily schedule: deletes history older than
``C2C_RETENTION_DAYS`` (off while unset) with ``apply_retention``.

No ``from __future__ import annotations``: Dagster reads the config and resource types from the
op's signature at definition time.
"""

import dagster as dg

from c2c_core.timeutil import iso_utc, utc_now
from c2c_dagster.settings import DEFAULTS, Settings
from c2c_dagster.store.resource import MetadataStoreResource
from c2c_dagster.store.retention import RETENTION_ENV, RULES, apply_retention, cutoff_for, retention_days_from_env

RETENTION_CRON = "17 3 * * *"  # daily, off the hour most schedules pile onto


class RetentionConfig(dg.Config):
    days: int | None = None  # history to keep; unset → C2C_RETENTION_DAYS; neither → nothing deleted


@dg.op(description="Deletes closed versions, stopped records and old ingest problems older than the retention.")
def prune_history(context: dg.OpExecutionContext, config: RetentionConfig,
                  store: MetadataStoreResource) -> dg.Output[dict[str, int]]:
    days = config.days or retention_days_from_env()
    if days is None:
        context.log.info(f"{RETENTION_ENV} is unset and the run gave no days: all history is kept")
        return dg.Output({}, metadata={"retention_days": None, "deleted": 0})
    cutoff = cutoff_for(days, utc_now())
    deleted = apply_retention(store.get_store(), cutoff)
    for rule in RULES:
        context.log.info(f"{rule.index}: {deleted[rule.index]} deleted ({rule.what})")
    return dg.Output(deleted, metadata={
        "retention_days": days, "cutoff": iso_utc(cutoff), "deleted": sum(deleted.values()),
        **{f"deleted {index}": count for index, count in deleted.items()},
    })


@dg.job(description="Retention of c2c's history (see README: retention).", tags={"c2c/trigger": "retention"})
def store_retention_job() -> None:
    prune_history()


def retention_request(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(run_key=f"retention:{context.scheduled_execution_time.strftime('%Y-%m-%d')}")


def build_store_retention_schedule(settings: Settings) -> dg.ScheduleDefinition:
    return dg.schedule(
        name="store_retention_schedule",
        cron_schedule=RETENTION_CRON,
        job=store_retention_job,
        execution_timezone="UTC",
        # Running by default only where a retention is configured: deleting history is opt-in.
        default_status=(dg.DefaultScheduleStatus.RUNNING if settings.retention_days is not None
                        else dg.DefaultScheduleStatus.STOPPED),
        description=f"Deletes history older than {RETENTION_ENV} days, daily.",
    )(retention_request)


# The defaults' schedule (stopped); the code location's is ``build_store_retention_schedule(its settings)``.
store_retention_schedule = build_store_retention_schedule(DEFAULTS)
