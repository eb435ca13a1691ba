"""Pure transforms from Jenkins' JSON (and the archived build-metadata.json) to ci-build-metadata docs.

The archived artifact is the source of the image digest: Jenkins itself never knows it. Without a
valid artifact the document still records the build and its commits (from Jenkins' change sets
and git BuildData) with ``digest_missing`` set and the reason in ``ingest_problems``: a digest is
never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from c2c_dagster.jenkins.resources import build_id
from c2c_dagster.jenkins.schema import schema_errors
from c2c_dagster.store.timeutil import iso_utc

METADATA_ARTIFACT = "build-metadata.json"
GIT_BUILD_DATA = "hudson.plugins.git.util.BuildData"
#: Jenkins results that mean the build did not produce a good image.
UNSUCCESSFUL = ("FAILURE", "ABORTED", "NOT_BUILT")


def is_finished(build: Mapping[str, Any]) -> bool:
    """A build is finished once Jenkins has given it a result (``result`` is null while running)."""
    return build.get("result") is not None and not build.get("building", False)


def jenkins_time(millis: int | None) -> str | None:
    return None if millis is None else iso_utc(datetime.fromtimestamp(millis / 1000, tz=UTC))


def find_metadata_artifact(build: Mapping[str, Any]) -> str | None:
    """The relative path of the archived ``build-metadata.json``, if the build archived one."""
    for artifact in build.get("artifacts") or []:
        if artifact.get("fileName") == METADATA_ARTIFACT:
            return artifact.get("relativePath") or METADATA_ARTIFACT
    return None


def change_sets(build: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Change sets of pipelines (``changeSets``, a list) and freestyle jobs (``changeSet``, one)."""
    sets = list(build.get("changeSets") or [])
    if isinstance(build.get("changeSet"), Mapping):
        sets.append(build["changeSet"])
    return sets


def commits_from_change_sets(build: Mapping[str, Any]) -> list[dict[str, str]]:
    """Commits in the seed's shape from Jenkins' change sets, in Jenkins' order, de-duplicated."""
    commits: list[dict[str, str]] = []
    seen: set[str] = set()
    for change_set in change_sets(build):
        for item in change_set.get("items") or []:
            commit_id = item.get("commitId")
            if not commit_id or commit_id in seen:
                continue
            seen.add(commit_id)
            commits.append(
                {
                    "commit_id": commit_id,
                    "author": (item.get("author") or {}).get("fullName", ""),
                    "email": item.get("authorEmail", ""),
                    "message": (item.get("msg") or item.get("comment") or "").strip(),
                }
            )
    return commits


def authors_of(commits: Iterable[Mapping[str, str]]) -> list[str]:
    """``Name <email>`` per distinct author, in order of first appearance."""
    authors: list[str] = []
    for commit in commits:
        author = f"{commit.get('author', '')} <{commit.get('email', '')}>"
        if author not in authors:
            authors.append(author)
    return authors


def git_build_data(build: Mapping[str, Any], repo_url: str | None = None) -> Mapping[str, Any] | None:
    """The git BuildData action for the application repo.

    A pipeline that loads a shared library or checks out a second repo has several; prefer the
    one whose remote is the artifact's repo, else the first.
    """
    candidates = [a for a in build.get("actions") or [] if a and a.get("_class") == GIT_BUILD_DATA]
    if repo_url:
        for action in candidates:
            if repo_url in (action.get("remoteUrls") or []):
                return action
    return candidates[0] if candidates else None


def branch_name(ref: str | None) -> str | None:
    """``refs/remotes/origin/master`` or ``origin/master`` -> ``master``."""
    if not ref:
        return None
    for prefix in ("refs/remotes/origin/", "refs/heads/", "origin/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def build_document(
    job_full_name: str,
    build: Mapping[str, Any],
    artifact: Any | None,
    *,
    artifact_problem: str | None = None,
    ingested_at: datetime,
) -> dict[str, Any]:
    """The ci-build-metadata document for one finished Jenkins build.

    ``artifact`` is the parsed build-metadata.json (None if absent); ``artifact_problem`` says why
    it could not be read (bad JSON, fetch failed). Jenkins' own result is authoritative for the
    status: the artifact is written before the build ends.
    """
    number = int(build["number"])
    doc_id = build_id(job_full_name, number)
    problems: list[str] = []
    if artifact_problem:
        problems.append(artifact_problem)

    usable: Mapping[str, Any] | None = None
    if artifact is not None:
        errors = schema_errors(artifact)
        if not errors and artifact.get("build_id") != doc_id:
            errors.append(f"artifact is for build {artifact.get('build_id')!r}, not {doc_id!r}")
        if errors:
            problems.append(f"{METADATA_ARTIFACT} fails the schema: " + "; ".join(errors))
        else:
            usable = artifact
    elif not artifact_problem:
        problems.append(f"no {METADATA_ARTIFACT} archived: image digest unknown")

    if usable is not None:
        commits = [dict(c) for c in usable["commits"]]
        doc: dict[str, Any] = {
            key: usable.get(key)
            for key in (
                "branch",
                "image_name",
                "image_tag",
                "image_digest",
                "repo_url",
                "commit_range",
                "platform_digests",
                "source_commit",
            )
            if usable.get(key) is not None
        }
        doc["commits"] = commits
        doc["authors"] = list(usable.get("authors") or authors_of(commits))
        metadata_source = "artifact"
    else:
        commits = commits_from_change_sets(build)
        data = git_build_data(build)
        revision = (data or {}).get("lastBuiltRevision") or {}
        branches = revision.get("branch") or []
        doc = {
            "commits": commits,
            "authors": authors_of(commits),
            "source_commit": revision.get("SHA1"),
            "branch": branch_name(branches[0].get("name")) if branches else None,
            "repo_url": ((data or {}).get("remoteUrls") or [None])[0],
        }
        doc = {k: v for k, v in doc.items() if v is not None}
        metadata_source = "jenkins"

    doc.update(
        {
            "build_id": doc_id,
            "job_name": job_full_name,
            "build_number": number,
            "build_status": build.get("result"),
            "timestamp": jenkins_time(build.get("timestamp")),
            "duration_ms": build.get("duration"),
            "build_url": build.get("url"),
            "digest_missing": "image_digest" not in doc,
            "metadata_source": metadata_source,
            "ingest_problems": problems,
            "ingested_at": iso_utc(ingested_at),
        }
    )
    return doc
