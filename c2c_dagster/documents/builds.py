"""The ci-build-metadata document (one per Jenkins build) and the ingest-problems document.

Field names are the seed's (section 3.6) plus c2c's additions; ``ci_builds`` writes them,
traceability and ``c2c trace`` read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from c2c_core.builds import Commit
from c2c_dagster.documents.base import (
    Document,
    boolean,
    date,
    keyword,
    long,
    nested,
    text,
)


@dataclass(slots=True)
class BuiltPlatform(Document):
    """One platform's manifest of a multi-arch index the build pushed."""

    platform: str | None = keyword()
    digest: str | None = keyword(lookup=True)


@dataclass(slots=True)
class CommitRange(Document):
    """``previous..HEAD`` as the pipeline asked git (``from`` is None on a first build); without the
    pipeline's metadata, ``<oldest commit Jenkins listed>^..HEAD`` (see jenkins/transform.py)."""

    from_: str | None = keyword(key="from")
    to: str | None = keyword()


@dataclass(slots=True)
class BuildDocument(Document):
    """One finished build: what it took (commits, authors) and what it pushed (tag, digest)."""

    omit_none = True

    build_id: str = keyword(lookup=True, default="")  # JOB_NAME-BUILD_NUMBER: the document id
    job_name: str | None = keyword(lookup=True, keep_none=True)
    build_number: int | None = long(keep_none=True)
    branch: str | None = keyword()
    image_name: str | None = keyword(lookup=True)
    image_tag: str | None = keyword(lookup=True)
    image_digest: str | None = keyword(lookup=True)
    platform_digests: list[BuiltPlatform] = nested(BuiltPlatform, many=True)
    commits: list[Commit] = nested(Commit, many=True)
    authors: list[str] = keyword(factory=list)  # "Name <email>", once each
    build_status: str | None = keyword(lookup=True, keep_none=True)  # Jenkins' result
    # When the build started (UTC): the index's time field; null when Jenkins gave no usable time.
    timestamp: str | None = date(keep_none=True)
    duration_ms: int | None = long(keep_none=True)
    repo_url: str | None = keyword()
    build_url: str | None = keyword(keep_none=True)
    commit_range: CommitRange | None = nested(CommitRange)
    source_commit: str | None = keyword(lookup=True)
    # Which rule chose source_commit among the build's git checkouts (see jenkins/transform.py).
    source_commit_rule: str | None = keyword()
    digest_missing: bool | None = boolean(keep_none=True)
    metadata_source: str | None = keyword(keep_none=True)  # artifact, jenkins or unreadable
    ingest_problems: list[str] = text(factory=list)
    ingested_at: str | None = date(keep_none=True)

    @property
    def commit_ids(self) -> list[str]:
        return [commit.commit_id for commit in self.commits]


@dataclass(slots=True)
class IngestProblemDocument(Document):
    """What an ingestion could not read and had nothing else to record it on: a Jenkins job whose
    builds could not be listed, a folder that did not answer or lies beyond the depth bound. (A
    problem with one build is on that build's document, in ``ingest_problems``.) Upserted each
    time it is seen; ``open`` turns false once it is gone."""

    omit_none = True

    problem_id: str = keyword(lookup=True, default="")  # "<source>/<kind>/<subject>"
    source: str | None = keyword(lookup=True)  # "jenkins"
    # job_unreadable, folder_unreadable, folder_beyond_depth, build_entry_invalid, build_refused
    kind: str | None = keyword(lookup=True)
    subject: str | None = keyword(lookup=True)  # the job or folder full name, or a build id
    reason: str | None = text()
    url: str | None = keyword()
    open: bool | None = boolean()
    first_seen: str | None = date()
    last_seen: str | None = date()
    resolved_at: str | None = date()


__all__ = ["BuildDocument", "BuiltPlatform", "CommitRange", "IngestProblemDocument"]
