"""``jenkins_build_sensor``: hands each newly finished Jenkins build to a ``ci_builds`` run.

One bad job or build never stops the others: a job whose builds cannot be listed (an error, bad
JSON, or no answer within its time budget) keeps its cursor (it is read again next tick), is
logged and recorded in ``ingest-problems``; a build dated before the first partition, or with no
start time, goes to the first partition (see ``partitions.py``). Only an unreadable job tree (the
controller's root) skips the whole tick.

Time: Dagster gives a sensor evaluation 60 s. Reading Jenkins gets 40 s of it
(``budget.TICK_BUDGET_SECONDS``), each job and folder 15 s of that, each request 3.05 s to
connect and 8 s between bytes; what is not read in time is read next tick. The jobs that failed
last tick are read last, so a job that hangs every tick never takes the healthy jobs' time.

A run that failed is requested again (``follow_up``): the builds it held stay in the cursor's
``in_flight`` until a run of theirs succeeds.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from c2c_core.timeutil import iso_utc, utc_now
from c2c_dagster.documents.builds import IngestProblemDocument
from c2c_dagster.jenkins.assets import ci_builds
from c2c_dagster.jenkins.budget import (
    ITEM_BUDGET_SECONDS,
    TICK_BUDGET_SECONDS,
    TICK_REQUEST_TIMEOUT,
    OverBudget,
    bounded_map,
)
from c2c_dagster.jenkins.cursor import Batch, JenkinsCursor, advance_job
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
from c2c_dagster.jenkins.resources import JenkinsError, JenkinsJob, JenkinsResource, JobListing
from c2c_dagster.settings import DEFAULTS, Settings
from c2c_dagster.store import FIND_ALL, INGEST_PROBLEMS, MetadataStoreResource, StoreError

# One run ingests at most this many builds; a burst becomes several runs, each retryable alone.
MAX_BUILDS_PER_RUN = 200
# Every run of one batch (the first and any re-request) carries the batch's base run_key here.
BATCH_TAG = "c2c/batch"
# A failed batch is requested again this long after its last run ended, doubling per attempt up
# to an hour: a run failing for a reason that lasts (Jenkins refusing credentials) is not
# relaunched every minute.
RETRY_AFTER_SECONDS = 60
RETRY_AFTER_MAX_SECONDS = 3600
_FAILED = {dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
# follow_up's word for a batch whose runs were all deleted before one succeeded.
LOST = "lost"


def batches_for(refs_by_day: dict[str, list[BuildRef]]) -> dict[str, Batch]:
    """Deterministic batches: same builds -> same run_key, so a repeated tick launches nothing new."""
    batches: dict[str, Batch] = {}
    for day, refs in sorted(refs_by_day.items()):
        refs = sorted(refs)
        for i in range(0, len(refs), MAX_BUILDS_PER_RUN):
            batch = tuple(str(ref) for ref in refs[i : i + MAX_BUILDS_PER_RUN])
            digest = hashlib.sha256("\n".join(batch).encode()).hexdigest()[:16]
            batches[f"ci_builds:{day}:{digest}"] = Batch(day, batch)
    return batches


def run_request(key: str, batch: Batch, attempt: int = 0) -> dg.RunRequest:
    """The run of ``batch``; a re-request (``attempt`` > 0) needs a run_key of its own, as Dagster
    launches a run_key once."""
    return dg.RunRequest(
        run_key=key if attempt == 0 else f"{key}:retry{attempt}",
        partition_key=batch.partition,
        run_config={"ops": {"ci_builds": {"config": {"builds": list(batch.builds)}}}},
        tags={"c2c/trigger": "jenkins_build_sensor", "c2c/builds": str(len(batch.builds)), BATCH_TAG: key},
    )


def retry_delay(attempts: int) -> float:
    return min(RETRY_AFTER_SECONDS * 2 ** max(attempts - 1, 0), RETRY_AFTER_MAX_SECONDS)


def follow_up(
    instance: dg.DagsterInstance, in_flight: dict[str, Batch], now: float
) -> tuple[list[dg.RunRequest], dict[str, Batch | str | None]]:
    """(re-requests, what becomes of each batch: None when stored, ``LOST`` when its runs were
    deleted, else the batch to keep) for the batches handed to runs in earlier ticks.

    A batch whose newest run succeeded is stored (a refused document is an ingest problem, not a
    failure: see ``assets.py``). One whose newest run failed or was canceled is requested again
    under a new run_key once ``retry_delay`` has passed, with the builds of that run's config.
    One with no run at all (the request never became a run, or the run was deleted) is requested
    again under its own run_key, which Dagster launches only if no run holds it. Runs queued or
    in progress are waited for. A batch with a run keeps no build list in the cursor.
    """
    if not in_flight:
        return [], {}
    records = instance.get_run_records(filters=dg.RunsFilter(tags={BATCH_TAG: sorted(in_flight)}))
    runs: dict[str, list[dg.RunRecord]] = defaultdict(list)
    for record in records:  # newest first
        runs[record.dagster_run.tags.get(BATCH_TAG, "")].append(record)
    again: list[dg.RunRequest] = []
    outcome: dict[str, Batch | str | None] = {}
    for key, batch in sorted(in_flight.items()):
        mine = runs.get(key, [])
        if not mine:
            if batch.builds:
                again.append(run_request(key, batch))
                outcome[key] = batch
            else:  # it had runs, all deleted since: their config (the build list) went with them
                outcome[key] = LOST
            continue
        newest = mine[0]
        outcome[key] = Batch(batch.partition)
        status = newest.dagster_run.status
        if status == dg.DagsterRunStatus.SUCCESS:
            outcome[key] = None
        elif status in _FAILED and now >= (newest.end_time or 0) + retry_delay(len(mine)):
            builds = newest.dagster_run.run_config.get("ops", {}).get("ci_builds", {}).get("config", {}).get("builds")
            again.append(run_request(key, Batch(batch.partition, tuple(builds or batch.builds)), attempt=len(mine)))
    return again, outcome


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
    not_reached: list[str] = field(default_factory=list)  # jobs the tick's budget did not reach


def listing_problems(listing: JobListing) -> list[IngestProblem]:
    return [IngestProblem(FOLDER_UNREADABLE, folder, reason) for folder, reason in listing.unreadable_folders.items()] + [
        IngestProblem(FOLDER_BEYOND_DEPTH, folder, "deeper than the folder depth bound (C2C_JENKINS_MAX_FOLDER_DEPTH); "
                      "its jobs are not read")
        for folder in listing.beyond_depth
    ]


def scan_jobs(
    jenkins: JenkinsResource, listing: JobListing, cursor: JenkinsCursor, deadline: float = float("inf")
) -> JenkinsTick:
    """New finished builds of every listed job, advancing the cursor of each job read.

    Every job is on its own: an error answer, bad JSON, or no answer within its budget is that
    job's problem (its cursor stays, it is read again next tick), never the other jobs'. Jobs not
    reached by ``deadline`` are simply read next tick.
    """
    tick = JenkinsTick(problems=listing_problems(listing))

    def suspect(job: JenkinsJob) -> bool:
        return IngestProblem(JOB_UNREADABLE, job.full_name, "").problem_id in cursor.open_problems

    # The pool starts jobs in this order: last tick's failures go last.
    order = sorted(listing.jobs, key=lambda job: (suspect(job), job.full_name))
    answers = bounded_map(lambda job: jenkins.recent_builds(job.full_name, timeout=TICK_REQUEST_TIMEOUT),
                          order, item_seconds=ITEM_BUDGET_SECONDS, deadline=deadline)
    for job in order:
        builds = answers[job]
        if isinstance(builds, OverBudget) and not builds.started:
            tick.not_reached.append(job.full_name)
            continue
        if isinstance(builds, (OverBudget, JenkinsError)):
            reason = builds.describe() if isinstance(builds, OverBudget) else str(builds)
            # This job's cursor stays: its builds are read again next tick, nothing skipped.
            tick.problems.append(IngestProblem(JOB_UNREADABLE, job.full_name, reason, job.url or None))
            continue
        if isinstance(builds, BaseException):
            raise builds
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
    started = time.monotonic()
    deadline = started + TICK_BUDGET_SECONDS
    cursor = JenkinsCursor.loads(context.cursor)
    try:
        listing = jenkins.list_jobs(deadline=deadline)
    except JenkinsError as exc:
        # The cursor is not returned, so it stays as it was: nothing is skipped, the next tick retries.
        return dg.SkipReason(f"Jenkins at {jenkins.base_url} could not be read; cursor unchanged: {exc}")
    tick = scan_jobs(jenkins, listing, cursor, deadline)

    for problem in tick.problems:
        context.log.warning(f"Jenkins at {jenkins.base_url}: {problem.describe()}")
    if tick.not_reached:
        context.log.warning(
            f"{len(tick.not_reached)} job(s) not read within the tick's {TICK_BUDGET_SECONDS:g} s budget, read next "
            f"tick: {', '.join(tick.not_reached[:20])}" + (" ..." if len(tick.not_reached) > 20 else ""))
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

    again, outcome = follow_up(context.instance, cursor.in_flight, time.time()) if cursor.in_flight else ([], {})
    for key, kept in outcome.items():
        if isinstance(kept, Batch):
            cursor.in_flight[key] = kept
            continue
        if kept == LOST:
            context.log.warning(f"every run of {key} was deleted before one succeeded; its builds are not known "
                                f"any more: backfill partition {cursor.in_flight[key].partition} to store them")
        del cursor.in_flight[key]
    for request in again:
        context.log.warning(f"run of {request.tags[BATCH_TAG]} ({request.tags['c2c/builds']} build(s)) failed or is "
                            f"gone; requested again as {request.run_key}")
    new = batches_for(tick.refs_by_day)
    cursor.in_flight.update(new)
    requests = [run_request(key, batch) for key, batch in new.items()] + again
    summary = (
        f"{len(listing.jobs)} job(s), {tick.jobs_read} read; {sum(map(len, tick.refs_by_day.values()))} newly "
        f"finished build(s) in {len(new)} run(s); {len(again)} run(s) requested again, {len(cursor.in_flight)} "
        f"awaited; {opened} open problem(s), {resolved} resolved; {time.monotonic() - started:.1f} s"
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
            "Requests a ci_builds run for every Jenkins build that finished since the last tick, and again "
            "for builds whose run failed. A job or folder that cannot be read within its 15 s budget is "
            "logged and recorded in ingest-problems; the other jobs go on. Reading Jenkins stops at 40 s."
        ),
    )(jenkins_build_tick)


# The defaults' sensor (stopped); the code location's is ``build_jenkins_build_sensor(its settings)``.
jenkins_build_sensor = build_jenkins_build_sensor(DEFAULTS)
