"""ci_builds is partitioned by the UTC day a build started: backfills re-ingest whole days."""

import dagster as dg

# end_offset=1: today's partition exists while the day runs, so sensor runs can target it.
ci_build_partitions = dg.DailyPartitionsDefinition(start_date="2020-01-01", timezone="UTC", end_offset=1)
