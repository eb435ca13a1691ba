"""delivery_metrics is partitioned by UTC day: a day's rows are its deployments, failures, lead times
and recoveries, recomputed from the stored release events, so any past day can be backfilled.

The first day is ``C2C_DELIVERY_HISTORY_START`` (``YYYY-MM-DD``, default 2020-01-01); days before
c2c first scanned a cluster produce no rows for it, so an early start costs nothing but empty
partitions. ``end_offset=1``: today's partition exists while the day runs, so automation keeps
today's figures current.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta

import dagster as dg

from c2c_dagster.delivery.policy import build_policy, policy_settings
from c2c_dagster.settings import DEFAULTS, Settings, load_settings

HISTORY_START_ENV = "C2C_DELIVERY_HISTORY_START"
DEFAULT_HISTORY_START = DEFAULTS.delivery_history_start.isoformat()


def history_start(environ: Mapping[str, str]) -> str:
    """The first partition day ``environ`` gives; a bad value names the variable and the form."""
    return load_settings(environ).delivery_history_start.isoformat()


def refreshed_days(settings: Settings = DEFAULTS) -> timedelta:
    """How far back a new traceability run changes the figures: today, plus every day whose
    deployments can still be marked failed (the failure window, in whole days)."""
    window = build_policy(**policy_settings(settings)).failure_window
    return timedelta(days=math.ceil(window / timedelta(days=1)) + 1)


def delivery_partitions_for(settings: Settings) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=settings.delivery_history_start.isoformat(), timezone="UTC",
                                        end_offset=1)


# The defaults' partitions; the code location's are ``delivery_partitions_for(its settings)``.
delivery_partitions = delivery_partitions_for(DEFAULTS)
