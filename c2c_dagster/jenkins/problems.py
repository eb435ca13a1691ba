"""Ingestion problems with no build document to live on, kept in the ``ingest-problems`` index.

Pure functions, tested directly. A job whose builds cannot be listed, a folder that does not
answer or lies beyond the depth bound, listing entries without a build number, a build document
the store refused (``build_refused``, subject the build id; written by ``ci_builds``, closed by
the run that stores the build): each is one document ``jenkins/<kind>/<subject>``, upserted every tick it is seen (``first_seen`` kept,
``last_seen`` moved on) and closed (``open: false``, ``resolved_at``) by the first tick that reads
Jenkins without seeing it again. A problem with one build is recorded on that build's
ci-build-metadata document instead (``ingest_problems``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from c2c_dagster.documents.builds import IngestProblemDocument

SOURCE = "jenkins"
JOB_UNREADABLE = "job_unreadable"
FOLDER_UNREADABLE = "folder_unreadable"
FOLDER_BEYOND_DEPTH = "folder_beyond_depth"
BUILD_ENTRY_INVALID = "build_entry_invalid"
BUILD_REFUSED = "build_refused"


@dataclass(frozen=True)
class IngestProblem:
    kind: str
    subject: str  # the job or folder full name
    reason: str
    url: str | None = None

    @property
    def problem_id(self) -> str:
        return f"{SOURCE}/{self.kind}/{self.subject}"

    def describe(self) -> str:
        return f"{self.kind} {self.subject}: {self.reason}"


def problem_documents(
    problems: Iterable[IngestProblem], known: Mapping[str, IngestProblemDocument], *, now: str
) -> list[IngestProblemDocument]:
    """Documents for this tick's problems; one already open keeps its ``first_seen``."""
    docs: dict[str, IngestProblemDocument] = {}
    for problem in problems:
        before = known.get(problem.problem_id)
        first_seen = before.first_seen if before is not None and before.open else None
        docs[problem.problem_id] = IngestProblemDocument(
            problem_id=problem.problem_id,
            source=SOURCE,
            kind=problem.kind,
            subject=problem.subject,
            reason=problem.reason,
            url=problem.url,
            open=True,
            first_seen=first_seen or now,
            last_seen=now,
        )
    return list(docs.values())


def resolved_documents(
    known: Mapping[str, IngestProblemDocument], seen_now: Iterable[IngestProblem], *, now: str
) -> list[dict[str, Any]]:
    """Merge updates closing every open problem this tick did not see again.

    Only called after a tick that read Jenkins' job tree: a job listed fine, deleted, or a
    folder now read means the problem is gone.
    """
    still = {problem.problem_id for problem in seen_now}
    return [
        {"problem_id": problem_id, "open": False, "resolved_at": now}
        for problem_id, doc in sorted(known.items())
        if doc.open and problem_id not in still
    ]
