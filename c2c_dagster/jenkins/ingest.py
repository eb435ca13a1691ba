"""Fetching builds from Jenkins into ci-build-metadata documents (used by the asset).

Kept apart from the asset so the fetch logic is tested on its own against the emulator.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from c2c_core.builds import build_id
from c2c_core.timeutil import to_epoch_ms
from c2c_dagster.documents.builds import BuildDocument, IngestProblemDocument
from c2c_dagster.jenkins.problems import BUILD_REFUSED, IngestProblem, problem_documents, resolved_documents
from c2c_dagster.jenkins.resources import (
    HISTORY_PAGE,
    JenkinsAuthError,
    JenkinsError,
    JenkinsResource,
    JenkinsUnreachableError,
    JobListing,
)
from c2c_dagster.jenkins.transform import build_document, find_metadata_artifact, is_finished, unreadable_build_document
from c2c_dagster.store import CI_BUILD_METADATA, FIND_ALL, INGEST_PROBLEMS, BulkItemError, BulkWriteError, MetadataStore

# Builds are fetched a few at a time: Jenkins answers each quickly, the wait is the round trip.
FETCH_WORKERS = 8


@dataclass(frozen=True, order=True)
class BuildRef:
    """A build by job full name and number; ``Node-JS/master#67`` in run config."""

    job: str
    number: int

    def __str__(self) -> str:
        return f"{self.job}#{self.number}"

    @classmethod
    def parse(cls, text: str) -> "BuildRef":
        job, sep, number = text.rpartition("#")
        if not sep or not job or not number.isdigit():
            raise ValueError(f"build reference {text!r} is not 'JOB_FULL_NAME#NUMBER'")
        return cls(job, int(number))


@dataclass
class IngestReport:
    documents: list[BuildDocument] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # deleted between listing and fetching
    still_running: list[str] = field(default_factory=list)
    # Builds Jenkins would not describe (an error answer after retries): build id -> why. Each
    # also has a document (``unreadable_build_document``) unless an earlier one is kept.
    unreadable: dict[str, str] = field(default_factory=dict)

    def status_counts(self) -> Counter[str]:
        return Counter(str(doc.build_status) for doc in self.documents)

    def missing_digests(self) -> list[str]:
        return [doc.build_id for doc in self.documents if doc.digest_missing]

    def invalid_artifacts(self) -> list[str]:
        return [
            doc.build_id
            for doc in self.documents
            if any("fails the schema" in p or "not valid JSON" in p for p in doc.ingest_problems)
        ]


def documents_to_write(report: IngestReport, recorded: Iterable[str]) -> list[BuildDocument]:
    """The documents of a run, less the "unreadable" stubs of builds an earlier run recorded
    fully (``recorded``): a passing 5xx must not wipe a good document."""
    kept = set(recorded)
    return [d for d in report.documents if not (d.build_id in kept and d.metadata_source == "unreadable")]


@dataclass
class StoredBuilds:
    """What the store did with a run's documents."""

    written: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # build id -> the store's reason
    problems_resolved: int = 0  # refusals of earlier runs whose build is now stored


def is_refusal(error: BulkItemError) -> bool:
    """The document itself is refused (4xx: out of its mapped type, an immense term), so a retry
    would be refused again. 429 and 5xx are the store's state, not the document's: the run fails
    and is retried, as before."""
    return 400 <= error.status < 500 and error.status != 429


def store_builds(db: MetadataStore, documents: list[BuildDocument], *, now: str) -> StoredBuilds:
    """Upsert ``documents``; a document the store refuses becomes an open ``build_refused`` ingest
    problem with the store's reason instead of failing the others' run, and a build stored now
    closes the refusal an earlier run recorded for it."""
    outcome = StoredBuilds()
    try:
        outcome.written = db.upsert(CI_BUILD_METADATA.name, [doc.to_document() for doc in documents]).written
    except BulkWriteError as exc:
        if not all(is_refusal(error) for error in exc.errors):
            raise
        outcome.written = exc.written
        outcome.refused = {error.doc_id: f"[{error.status}] {error.reason}"[:1000] for error in exc.errors}
    urls = {doc.build_id: doc.build_url for doc in documents}
    problems = [IngestProblem(BUILD_REFUSED, build, f"the store refused the build's document: {reason}", urls.get(build))
                for build, reason in sorted(outcome.refused.items())]
    ids = sorted({IngestProblem(BUILD_REFUSED, doc.build_id, "").problem_id for doc in documents})
    known = {doc.problem_id: doc for doc in
             IngestProblemDocument.from_documents(db.find(INGEST_PROBLEMS.name, "problem_id", ids, limit=FIND_ALL))}
    if problems:
        db.upsert(INGEST_PROBLEMS.name, [doc.to_document() for doc in problem_documents(problems, known, now=now)])
    resolved = resolved_documents(known, problems, now=now)
    if resolved:
        db.upsert(INGEST_PROBLEMS.name, resolved, mode="merge")
    outcome.problems_resolved = len(resolved)
    return outcome


class UnreadableBuild(Exception):
    """Jenkins answered the build's own JSON with an error (after retries), or with JSON no build has."""


# Errors that are about Jenkins as a whole, not one build: they fail the run (and it is retried).
WHOLE_JENKINS_ERRORS = (JenkinsAuthError, JenkinsUnreachableError)


def fetch_one(jenkins: JenkinsResource, ref: BuildRef, now: datetime) -> BuildDocument | str:
    """The document for one build, or a short reason it has none (gone, still running)."""
    try:
        build = jenkins.build(ref.job, ref.number)
    except WHOLE_JENKINS_ERRORS:
        raise
    except JenkinsError as exc:
        raise UnreadableBuild(str(exc)) from exc
    if build is None:
        return "gone"
    if not is_finished(build):
        return "running"
    artifact: Any = None
    problem: str | None = None
    path = find_metadata_artifact(build)
    if path is not None:
        try:
            artifact = jenkins.artifact_json(ref.job, ref.number, path)
        except ValueError as exc:  # malformed JSON: recorded, digest left unknown
            problem = str(exc)
        except WHOLE_JENKINS_ERRORS:
            raise
        except JenkinsError as exc:  # the artifact answered 5xx: the build is still recorded
            problem = f"{path} could not be fetched: {exc}"
        if artifact is None and problem is None:
            problem = f"{path} listed but not retrievable: image digest unknown"
    try:
        return build_document(ref.job, build, artifact, artifact_problem=problem, ingested_at=now, number=ref.number)
    except (KeyError, TypeError, ValueError) as exc:
        raise UnreadableBuild(f"Jenkins described the build in a shape c2c cannot read: {exc!r}") from exc


def fetch_builds(jenkins: JenkinsResource, refs: Iterable[BuildRef], now: datetime) -> IngestReport:
    """Documents for ``refs``; one build Jenkins cannot describe is reported, the rest still come."""

    def attempt(ref: BuildRef) -> dict[str, Any] | str | UnreadableBuild:
        try:
            return fetch_one(jenkins, ref, now)
        except UnreadableBuild as exc:
            return exc

    report = IngestReport()
    ordered = sorted(set(refs))
    with ThreadPoolExecutor(max_workers=FETCH_WORKERS) as pool:
        for ref, outcome in zip(ordered, pool.map(attempt, ordered)):
            if isinstance(outcome, UnreadableBuild):
                report.unreadable[build_id(ref.job, ref.number)] = str(outcome)
                report.documents.append(unreadable_build_document(ref.job, ref.number, str(outcome), ingested_at=now))
            elif outcome == "gone":
                report.gone.append(build_id(ref.job, ref.number))
            elif outcome == "running":
                report.still_running.append(build_id(ref.job, ref.number))
            else:
                report.documents.append(outcome)
    return report


@dataclass
class WindowScan:
    """Finished builds of a time window, and what of Jenkins could not be read for it."""

    refs: list[BuildRef] = field(default_factory=list)
    listing: JobListing = field(default_factory=JobListing)
    unreadable_jobs: dict[str, str] = field(default_factory=dict)


def _timestamp(build: Any) -> int | None:
    value = build.get("timestamp") if isinstance(build, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def builds_in_window(jenkins: JenkinsResource, start: datetime | None, end: datetime) -> WindowScan:
    """Finished builds of every job that started in [start, end), read through ``allBuilds`` pages.

    ``start`` None (the first partition) also takes every older build and every build without a
    start time. Pages go newest first and stop once a page reaches builds older than the window.
    A job whose history cannot be read is named in ``unreadable_jobs``; the others still count.
    """
    start_ms, end_ms = (to_epoch_ms(start) if start else None), to_epoch_ms(end)
    scan = WindowScan(listing=jenkins.list_jobs())
    for job in scan.listing.jobs:
        offset = 0
        try:
            while True:
                page = jenkins.build_history(job.full_name, offset, offset + HISTORY_PAGE)
                stamps = []
                for build in page:
                    stamp, number = _timestamp(build), build.get("number") if isinstance(build, dict) else None
                    if stamp is not None:
                        stamps.append(stamp)
                    if not isinstance(number, int) or isinstance(number, bool) or not is_finished(build):
                        continue
                    if stamp is None:
                        in_window = start_ms is None  # no start time: the first partition's
                    else:
                        in_window = stamp < end_ms and (start_ms is None or stamp >= start_ms)
                    if in_window:
                        scan.refs.append(BuildRef(job.full_name, number))
                if len(page) < HISTORY_PAGE or (start_ms is not None and stamps and min(stamps) < start_ms):
                    break
                offset += HISTORY_PAGE
        except WHOLE_JENKINS_ERRORS:
            raise
        except JenkinsError as exc:
            scan.unreadable_jobs[job.full_name] = str(exc)
    return scan
