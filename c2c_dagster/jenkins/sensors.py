"""``jenkins_build_sensor``: hands each newly finished Jenkins build to a ``ci_builds`` run."""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from datetime import UTC, datetime

import dagster as dg

from c2c_dagster.jenkins.assets import ci_builds
from c2c_dagster.jenkins.cursor import JenkinsCursor, advance_job
from c2c_dagster.jenkins.ingest import BuildRef
from c2c_dagster.jenkins.resources import JenkinsError, JenkinsResource

# One run ingests at most this many builds; a burst becomes several runs, each retryable alone.
MAX_BUILDS_PER_RUN = 200


def run_requests_for(refs_by_day: dict[str, list[BuildRef]]) -> list[dg.RunRequest]:
    """Deterministic runs: same builds -> same run_key, so a repeated tick launches nothing new."""
    requests: list[dg.RunRequest] = []
    for day, refs in sorted(refs_by_day.items()):
        refs = sorted(refs)
        for i in range(0, len(refs), MAX_BUILDS_PER_RUN):
            batch = [str(ref) for ref in refs[i : i + MAX_BUILDS_PER_RUN]]
            digest = hashlib.sha256("\n".join(batch).encode()).hexdigest()[:16]
            requests.append(
                dg.RunRequest(
                    run_key=f"ci_builds:{day}:{digest}",
                    partition_key=day,
                    run_config={"ops": {"ci_builds": {"config": {"builds": batch}}}},
                    tags={"c2c/trigger": "jenkins_build_sensor", "c2c/builds": str(len(batch))},
                )
            )
    return requests


@dg.sensor(
    target=ci_builds,
    minimum_interval_seconds=60,
    # Running by default only where a Jenkins is configured; a laptop demo has none.
    default_status=(
        dg.DefaultSensorStatus.RUNNING if os.environ.get("C2C_JENKINS_URL") else dg.DefaultSensorStatus.STOPPED
    ),
    description="Requests a ci_builds run for every Jenkins build that finished since the last tick.",
)
def jenkins_build_sensor(context: dg.SensorEvaluationContext, jenkins: JenkinsResource) -> dg.SensorResult | dg.SkipReason:
    cursor = JenkinsCursor.loads(context.cursor)
    refs_by_day: dict[str, list[BuildRef]] = defaultdict(list)
    try:
        jobs = jenkins.list_jobs()
        for job in jobs:
            listing = jenkins.recent_builds(job.full_name)
            if listing is None:  # deleted between the two calls
                continue
            new, cursor.jobs[job.full_name] = advance_job(cursor.jobs.get(job.full_name), listing)
            for build in new:
                day = datetime.fromtimestamp(build["timestamp"] / 1000, tz=UTC).strftime("%Y-%m-%d")
                refs_by_day[day].append(BuildRef(job.full_name, int(build["number"])))
    except JenkinsError as exc:
        # The cursor is not returned, so it stays as it was: nothing is skipped, the next tick retries.
        return dg.SkipReason(f"Jenkins at {jenkins.base_url} could not be read; cursor unchanged: {exc}")
    requests = run_requests_for(refs_by_day)
    if not requests:
        return dg.SensorResult(skip_reason=f"no newly finished builds in {len(jobs)} job(s)", cursor=cursor.dumps())
    return dg.SensorResult(run_requests=requests, cursor=cursor.dumps())
