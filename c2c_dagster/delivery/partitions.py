"""delivery_metrics is partitioned by UTC day: a day's rows are its deployments, failures, lead times
and recoveries, recomputed from the stored release events, so any past day can be backfilled.

The first day is ``C2C_DELIVERY_HISTORY_START`` (``YYYY-MM-DD``, default 2020-01-01); days before
c2c first scanned a cluster produce no rows for it, so an early start costs nothing but empty
partitions. ``end_offset=1``: today's partition exists while the day runs, so automation keeps
today's figures current.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from datetime import date, timedelta

import dagster as dg

from c2c_dagster.delivery.policy import build_policy, env_settings

HISTORY_START_ENV = "C2C_DELIVERY_HISTORY_START"
DEFAULT_HISTORY_START = "2020-01-01"


def history_start(environ: Mapping[str, str] = os.environ) -> str:
    """The first partition day; a bad value names the variable and the form."""
    text = (environ.get(HISTORY_START_ENV) or DEFAULT_HISTORY_START).strip()
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"{HISTORY_START_ENV}={text!r}: write the first day of delivery history as YYYY-MM-DD, "
                         f"or unset it for {DEFAULT_HISTORY_START}") from None


def refreshed_days(environ: Mapping[str, str] = os.environ) -> timedelta:
    """How far back a new traceability run changes the figures: today, plus every day whose
    deployments can still be marked failed (the failure window, in whole days)."""
    window = build_policy(**env_settings(environ)).failure_window
    return timedelta(days=math.ceil(window / timedelta(days=1)) + 1)


delivery_partitions = dg.DailyPartitionsDefinition(start_date=history_start(), timezone="UTC", end_offset=1)
