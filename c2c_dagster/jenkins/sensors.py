"""``jenkins_build_sensor``: hands each newly finished Jenkins build to a ``ci_builds`` run.

One bad job or build never stops the others: a job whose builds cannot be listed keeps its
cursor (it is read again next tick), is logged and recorded in ``ingest-problems``; a build
dated before the first partition, or with no start time, goes to the first partition (see
``partitions.py``). Only an unreadable job tree (the controller's root) skips the whole tick.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from c2c_core.timeutil import iso_utc, utc_now
from c2c_dagster.documents.builds import IngestProblemDocument
from c2c_dagster.jenkins.assets import ci_builds
from c2c_dagster.jenkins.cursor import JenkinsCursor, advance_job
from c2c_dagster.jenkins.ingest import BuildRef
from c2c_dagster.jenkins.partitions import HISTORY_START_ENV, partition_for
from c2c_dagster.jenkins.problems import (
    BUILD_ENTRY_INVALID,
    FOLDER_BEYOND_DEPTH,
    FOLDER_UNREADABLE,
    JOB_UNREADABLE,
    IngestProblem,
    problem_documents,
    resolved_documents,
)
from c2c_dagster.jenkins.resources import JenkinsError, JenkinsResource, JenkinsUnreachableError, JobListing
from c2c_dagster.settings import DEFAULTS, Settings
from c2c_dagster.store import FIND_ALL, INGEST_PROBLEMS, MetadataStoreResource, StoreError

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


def valid_entries(listing: Sequence[Any]) -> tuple[list[Mapping[str, Any]], list[Any]]:
    """Build entries a cursor can track (a whole, non-negative ``number``) and the others."""
    good, bad = [], []
    for entry in listing:
        number = entry.get("number") if isinstance(entry, Mapping) else None
        if isinstance(number, int) and not isinstance(number, bool) and number >= 0:
            good.append(entry)
        else:
            bad.append(entry)
    return good, bad


@dataclass
class JenkinsTick:
    """What one evaluation found: builds to hand over, problems, builds placed in another day."""

    refs_by_day: dict[str, list[BuildRef]] = field(default_factory=lambda: defaultdict(list))
    problems: list[IngestProblem] = field(default_factory=list)
    bucketed: list[str] = field(default_factory=list)
    jobs_read: int = 0


def listing_problems(listing: JobListing) -> list[IngestProblem]:
    return [IngestProblem(FOLDER_UNREADABLE, folder, reason) for folder, reason in listing.unreadable_folders.items()] + [
        IngestProblem(FOLDER_BEYOND_DEPTH, folder, "deeper than the folder depth bound (C2C_JENKINS_MAX_FOLDER_DEPTH); "
                      "its jobs are not read")
        for folder in listing.beyond_depth
    ]


def scan_jobs(jenkins: JenkinsResource, listing: JobListing, cursor: JenkinsCursor) -> JenkinsTick:
    """New finished builds of every listed job, advancing the cursor of each job read."""
    tick = JenkinsTick(problems=listing_problems(listing))
    for job in listing.jobs:
        try:
            builds = jenkins.recent_builds(job.full_name)
        except JenkinsUnreachableError:
            raise  # Jenkins went away mid-tick: the whole tick is retried, no job is blamed
        except JenkinsError as exc:
            # This job's cursor stays: its builds are read again next tick, nothing skipped.
            tick.problems.append(IngestProblem(JOB_UNREADABLE, job.full_name, str(exc), job.url or None))
            continue
        if builds is None:  # deleted between the two calls
            continue
        tick.jobs_read += 1
        entries, invalid = valid_entries(builds)
        if invalid:
            tick.problems.append(IngestProblem(
                BUILD_ENTRY_INVALID, job.full_name,
                f"{len(invalid)} build entr{'y' if len(invalid) == 1 else 'ies'} without a build number, "
                f"not ingested: {str(invalid[:3])[:300]}", job.url or None))
        new, cursor.jobs[job.full_name] = advance_job(cursor.jobs.get(job.full_name), entries)
        for build in new:
            choice = partition_for(build.get("timestamp"))
            ref = BuildRef(job.full_name, int(build["number"]))
            tick.refs_by_day[choice.key].append(ref)
            if choice.bucketed:
                tick.bucketed.append(f"{ref} ({choice.bucketed}) -> partition {choice.key}")
    return tick


def record_problems(
    store: MetadataStoreResource, problems: list[IngestProblem], still_open: set[str], now: str
) -> tuple[int, int]:
    """Upsert this tick's problems and close the open ones not seen again; (open, resolved) counts."""
    db = store.get_store()
    ids = sorted({p.problem_id for p in problems} | still_open)
    found = IngestProblemDocument.from_documents(db.find(INGEST_PROBLEMS.name, "problem_id", ids, limit=FIND_ALL))
    known = {doc.problem_id: doc for doc in found}
    docs = problem_documents(problems, known, now=now)
    if docs:
        db.upsert(INGEST_PROBLEMS.name, [doc.to_document() for doc in docs])
    resolved = resolved_documents(known, problems, now=now)
    if resolved:
        db.upsert(INGEST_PROBLEMS.name, resolved, mode="merge")
    return len(docs), len(resolved)


def jenkins_build_tick(
    context: dg.SensorEvaluationContext, jenkins: JenkinsResource, store: MetadataStoreResource
) -> dg.SensorResult | dg.SkipReason:
    cursor = JenkinsCursor.loads(context.cursor)
    try:
        listing = jenkins.list_jobs()
        tick = scan_jobs(jenkins, listing, cursor)
    except JenkinsError as exc:
        # The cursor is not returned, so it stays as it was: nothing is skipped, the next tick retries.
        return dg.SkipReason(f"Jenkins at {jenkins.base_url} could not be read; cursor unchanged: {exc}")

    for problem in tick.problems:
        context.log.warning(f"Jenkins at {jenkins.base_url}: {problem.describe()}")
    if tick.bucketed:
        context.log.info(
            f"{len(tick.bucketed)} build(s) outside the partitions' days ({HISTORY_START_ENV} sets the first): "
            + "; ".join(tick.bucketed[:20]) + (" ..." if len(tick.bucketed) > 20 else "")
        )
    opened = resolved = 0
    if tick.problems or cursor.open_problems:
        try:
            opened, resolved = record_problems(store, tick.problems, cursor.open_problems, iso_utc(utc_now()))
        except StoreError as exc:
            # No run is requested whose problems are not on record; the next tick retries both.
            return dg.SkipReason(f"ingest problems could not be stored; cursor unchanged: {exc}")
    cursor.open_problems = {problem.problem_id for problem in tick.problems}

    requests = run_requests_for(tick.refs_by_day)
    summary = (
        f"{len(listing.jobs)} job(s), {tick.jobs_read} read; {sum(map(len, tick.refs_by_day.values()))} newly "
        f"finished build(s) in {len(requests)} run(s); {opened} open problem(s), {resolved} resolved"
    )
    context.log.info(summary)
    if not requests:
        return dg.SensorResult(skip_reason=f"no newly finished builds in {len(listing.jobs)} job(s); {summary}",
                               cursor=cursor.dumps())
    return dg.SensorResult(run_requests=requests, cursor=cursor.dumps())


def build_jenkins_build_sensor(settings: Settings) -> dg.SensorDefinition:
    """The sensor for ``settings``: running by default only where they name a Jenkins."""
    return dg.sensor(
        name="jenkins_build_sensor",
        # By key: the code location's ci_builds carries the settings' partitions.
        target=dg.AssetSelection.assets(ci_builds.key),
        minimum_interval_seconds=60,
        # Running by default only where a Jenkins is configured; a laptop demo has none.
        default_status=dg.DefaultSensorStatus.RUNNING if settings.jenkins_url else dg.DefaultSensorStatus.STOPPED,
        description=(
            "Requests a ci_builds run for every Jenkins build that finished since the last tick. A job or "
            "folder that cannot be read is logged and recorded in ingest-problems; the other jobs go on."
        ),
    )(jenkins_build_tick)


# The defaults' sensor (stopped); the code location's is ``build_jenkins_build_sensor(its settings)``.
jenkins_build_sensor = build_jenkins_build_sensor(DEFAULTS)
