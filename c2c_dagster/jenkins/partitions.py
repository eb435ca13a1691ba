"""ci_builds is partitioned by the UTC day a build started: backfills re-ingest whole days.

The first day is ``C2C_JENKINS_HISTORY_START`` (``YYYY-MM-DD``, default 2010-01-01, before
Hudson became Jenkins). A controller can still hold builds older than that, or builds whose
start time it does not report: those go to the first partition, which therefore holds
"everything up to its end" (a backfill of it reads every older build too). A build dated after
the newest partition (a controller clock ahead of ours) goes to the newest. No build is ever
without a partition, so no build can stop the sensor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import dagster as dg

from c2c_dagster.settings import DEFAULTS, Settings, load_settings

HISTORY_START_ENV = "C2C_JENKINS_HISTORY_START"
DEFAULT_HISTORY_START = DEFAULTS.jenkins_history_start.isoformat()


def history_start(environ: Mapping[str, str]) -> str:
    """The first partition day ``environ`` gives; a bad value names the variable (``Settings``)."""
    return load_settings(environ).jenkins_history_start.isoformat()


@lru_cache(maxsize=8)  # the sensor asks once per build
def ci_build_partitions_for(settings: Settings) -> dg.DailyPartitionsDefinition:
    # end_offset=1: today's partition exists while the day runs, so sensor runs can target it.
    return dg.DailyPartitionsDefinition(start_date=settings.jenkins_history_start.isoformat(), timezone="UTC",
                                        end_offset=1)


# The defaults' partitions; the code location's are ``ci_build_partitions_for(its settings)``.
ci_build_partitions = ci_build_partitions_for(DEFAULTS)


@dataclass(frozen=True)
class PartitionChoice:
    key: str
    # Why the build is not in the partition of its own start day (None when it is).
    bucketed: str | None = None


def partition_for(
    timestamp_ms: object, partitions: dg.DailyPartitionsDefinition | None = None, *, now: datetime | None = None
) -> PartitionChoice:
    """The partition of a build that Jenkins says started at ``timestamp_ms`` (epoch ms); the
    partitions are the process's settings' unless given."""
    partitions = partitions or ci_build_partitions_for(load_settings())
    first = partitions.get_first_partition_key()
    if not isinstance(timestamp_ms, int) or isinstance(timestamp_ms, bool):
        return PartitionChoice(first, "no start time")
    try:
        day = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC).strftime("%Y-%m-%d")
    except (OverflowError, OSError, ValueError):
        return PartitionChoice(first, f"start time {timestamp_ms} out of range")
    if day < first:
        return PartitionChoice(first, f"started {day}, before the first partition")
    # With end_offset=1 the newest partition is today's (UTC).
    last = now.astimezone(UTC).strftime("%Y-%m-%d") if now else partitions.get_last_partition_key()
    if last is not None and day > last:
        return PartitionChoice(last, f"started {day}, after the newest partition")
    return PartitionChoice(day)
