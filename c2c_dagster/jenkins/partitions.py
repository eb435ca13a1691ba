"""ci_builds is partitioned by the UTC day a build started: backfills re-ingest whole days.

The first day is ``C2C_JENKINS_HISTORY_START`` (``YYYY-MM-DD``, default 2010-01-01, before
Hudson became Jenkins). A controller can still hold builds older than that, or builds whose
start time it does not report: those go to the first partition, which therefore holds
"everything up to its end" (a backfill of it reads every older build too). A build dated after
the newest partition (a controller clock ahead of ours) goes to the newest. No build is ever
without a partition, so no build can stop the sensor.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

import dagster as dg

HISTORY_START_ENV = "C2C_JENKINS_HISTORY_START"
DEFAULT_HISTORY_START = "2010-01-01"


def history_start(environ: Mapping[str, str] = os.environ) -> str:
    """The first partition day, from ``C2C_JENKINS_HISTORY_START``; a bad value names the variable."""
    text = (environ.get(HISTORY_START_ENV) or DEFAULT_HISTORY_START).strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{HISTORY_START_ENV}={text!r} is not a day in YYYY-MM-DD form; set it to the first day whose "
            f"builds get a partition of their own (older builds go to that first partition), "
            f"or unset it for {DEFAULT_HISTORY_START}"
        ) from None
    if len(text) != 10:  # date.fromisoformat also takes 20260131 and 2026-W05-6
        raise ValueError(f"{HISTORY_START_ENV}={text!r}: write the day as YYYY-MM-DD")
    return day.isoformat()


# end_offset=1: today's partition exists while the day runs, so sensor runs can target it.
ci_build_partitions = dg.DailyPartitionsDefinition(start_date=history_start(), timezone="UTC", end_offset=1)


@dataclass(frozen=True)
class PartitionChoice:
    key: str
    # Why the build is not in the partition of its own start day (None when it is).
    bucketed: str | None = None


def partition_for(
    timestamp_ms: object, partitions: dg.DailyPartitionsDefinition = ci_build_partitions, *, now: datetime | None = None
) -> PartitionChoice:
    """The partition of a build that Jenkins says started at ``timestamp_ms`` (epoch ms)."""
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
