"""Fetching builds from Jenkins into ci-build-metadata documents (used by the asset).

Kept apart from the asset so the fetch logic is tested on its own against the emulator.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from c2c_dagster.jenkins.resources import HISTORY_PAGE, JenkinsResource, build_id
from c2c_dagster.jenkins.transform import build_document, find_metadata_artifact, is_finished
from c2c_dagster.store.timeutil import to_epoch_ms

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
    documents: list[dict[str, Any]] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # deleted between listing and fetching
    still_running: list[str] = field(default_factory=list)

    def status_counts(self) -> Counter[str]:
        return Counter(str(doc.get("build_status")) for doc in self.documents)

    def missing_digests(self) -> list[str]:
        return [doc["build_id"] for doc in self.documents if doc.get("digest_missing")]

    def invalid_artifacts(self) -> list[str]:
        return [
            doc["build_id"]
            for doc in self.documents
            if any("fails the schema" in p or "not valid JSON" in p for p in doc.get("ingest_problems", []))
        ]


def fetch_one(jenkins: JenkinsResource, ref: BuildRef, now: datetime) -> dict[str, Any] | str:
    """The document for one build, or a short reason it has none (gone, still running)."""
    build = jenkins.build(ref.job, ref.number)
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
        if artifact is None and problem is None:
            problem = f"{path} listed but not retrievable: image digest unknown"
    return build_document(ref.job, build, artifact, artifact_problem=problem, ingested_at=now)


def fetch_builds(jenkins: JenkinsResource, refs: Iterable[BuildRef], now: datetime) -> IngestReport:
    report = IngestReport()
    ordered = sorted(set(refs))
    with ThreadPoolExecutor(max_workers=FETCH_WORKERS) as pool:
        for ref, outcome in zip(ordered, pool.map(lambda r: fetch_one(jenkins, r, now), ordered)):
            if outcome == "gone":
                report.gone.append(build_id(ref.job, ref.number))
            elif outcome == "running":
                report.still_running.append(build_id(ref.job, ref.number))
            else:
                report.documents.append(outcome)
    return report


def builds_in_window(jenkins: JenkinsResource, start: datetime, end: datetime) -> Iterator[BuildRef]:
    """Finished builds of every job that started in [start, end), read through ``allBuilds`` pages.

    Pages go newest first and stop once a page reaches builds older than the window.
    """
    start_ms, end_ms = to_epoch_ms(start), to_epoch_ms(end)
    for job in jenkins.list_jobs():
        offset = 0
        while True:
            page = jenkins.build_history(job.full_name, offset, offset + HISTORY_PAGE)
            for build in page:
                if start_ms <= build["timestamp"] < end_ms and is_finished(build):
                    yield BuildRef(job.full_name, int(build["number"]))
            if len(page) < HISTORY_PAGE or min(b["timestamp"] for b in page) < start_ms:
                break
            offset += HISTORY_PAGE
