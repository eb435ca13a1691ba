"""Pure transforms from Jenkins' JSON (and the archived build-metadata.json) to ci-build-metadata docs.

The archived artifact is the source of the image digest: Jenkins itself never knows it. Without a
valid artifact the document still records the build and its commits (from Jenkins' change sets
and git BuildData) with ``digest_missing`` set and the reason in ``ingest_problems``: a digest is
never guessed.

The built commit (``source_commit``), and which rule chose it (``source_commit_rule``):

* ``artifact``: the valid build-metadata.json names it (the pipeline knew what it built);
* otherwise one of the build's git checkout records (``hudson.plugins.git.util.BuildData``
  actions, one per distinct repository checked out: the Jenkinsfile's, shared libraries', the
  application's) is chosen, first rule that decides wins:

  1. ``change_set``: the checkout whose ``lastBuiltRevision.SHA1`` is a commit of the build's
     change sets (the commits this build took);
  2. ``repository``: the checkout whose remote is the repository the metadata names
     (``repo_url``), or whose repository name is the image repository's last path component
     (``acme/node-js.git`` builds ``registry/team/node-js``); the artifact is used for these
     hints even when it fails the schema;
  3. ``only_checkout``: the build checked out one repository;
  4. ``last_checkout``: several, nothing above decided: the last one. A Pipeline's first
     checkout is its Jenkinsfile's (and libraries load next); the pipeline's own ``checkout``
     comes after them.

  When rule 1 or 2 leaves several checkouts, the next rule decides among those. ``branch`` and
  ``repo_url`` (when the artifact does not give them) come from the same checkout.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from c2c_core.builds import Commit, authors_of, branch_name, build_id
from c2c_core.pipeline.schema import schema_errors
from c2c_core.timeutil import iso_utc
from c2c_dagster.documents.builds import BuildDocument

METADATA_ARTIFACT = "build-metadata.json"
GIT_BUILD_DATA = "hudson.plugins.git.util.BuildData"
#: What a valid build-metadata.json decides of a build's document; Jenkins' own answer the rest.
RECORDED_FIELDS = ("branch", "image_name", "image_tag", "image_digest", "repo_url", "commit_range",
                   "platform_digests", "source_commit", "commits", "authors")
#: Jenkins results that mean the build did not produce a good image.
UNSUCCESSFUL = ("FAILURE", "ABORTED", "NOT_BUILT")
# Below 2**42 ms (the year 2109) ``millis / 1000`` is within half a microsecond of the exact time,
# so the datetime path gives the exact text too; past it only that path is taken.
_EXACT_FLOAT_MS = 2**42


def is_finished(build: Mapping[str, Any]) -> bool:
    """A build is finished once Jenkins has given it a result (``result`` is null while running)."""
    return build.get("result") is not None and not build.get("building", False)


def jenkins_time(millis: int | None) -> str | None:
    """Jenkins' epoch milliseconds as ``iso_utc`` writes them (milliseconds only when not zero)."""
    if millis is None:
        return None
    if type(millis) is int and 0 <= millis < _EXACT_FLOAT_MS:
        # The same text, formatted directly: every build of every job passes through here.
        seconds, ms = divmod(millis, 1000)
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        return f"{text}.{ms:03d}Z" if ms else f"{text}Z"
    return iso_utc(datetime.fromtimestamp(millis / 1000, tz=UTC))


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


def commits_from_change_sets(build: Mapping[str, Any]) -> list[Commit]:
    """Commits from Jenkins' change sets, in Jenkins' order, de-duplicated."""
    commits: list[Commit] = []
    seen: set[str] = set()
    for change_set in change_sets(build):
        for item in change_set.get("items") or []:
            commit_id = item.get("commitId")
            if not commit_id or commit_id in seen:
                continue
            seen.add(commit_id)
            # The git plugin's timestamp (epoch ms) is the committer date, or the author date when
            # the job sets "Use commit author in changelog"; the pipeline tool records the former.
            millis = item.get("timestamp")
            committed: str | None = None
            if isinstance(millis, int) and not isinstance(millis, bool) and millis > 0:
                with suppress(OverflowError, OSError, ValueError):  # out of range: no time, not a failure
                    committed = jenkins_time(millis)
            commits.append(
                Commit(
                    commit_id=commit_id,
                    author=(item.get("author") or {}).get("fullName", ""),
                    email=item.get("authorEmail", ""),
                    message=(item.get("msg") or item.get("comment") or "").strip(),
                    timestamp=committed,
                )
            )
    return commits


def git_checkouts(build: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The build's git BuildData actions that name a built revision, in Jenkins' order."""
    return [
        action
        for action in build.get("actions") or []
        if isinstance(action, Mapping)
        and action.get("_class") == GIT_BUILD_DATA
        and isinstance((action.get("lastBuiltRevision") or {}).get("SHA1"), str)
    ]


def repository_path(url: str | None) -> str | None:
    """``host/owner/name`` of a git remote, lower case, however it is written (https, ssh, scp-like)."""
    if not url:
        return None
    text = url.strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
    elif ":" in text.split("/", 1)[0]:  # scp-like git@github.com:owner/name.git
        text = text.replace(":", "/", 1)
    text = text.split("@", 1)[-1].rstrip("/")
    host, _, path = text.partition("/")
    host = host.split(":", 1)[0]  # an ssh or https port says nothing of the repository
    path = path.removesuffix(".git")
    return f"{host}/{path}" if path else None


def _repository_match(checkout: Mapping[str, Any], repo_url: str | None, image_name: str | None) -> bool:
    remotes = [repository_path(u) for u in checkout.get("remoteUrls") or [] if isinstance(u, str)]
    wanted = repository_path(repo_url)
    if wanted and wanted in remotes:
        return True
    image_repo = (image_name or "").rsplit("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0].lower()
    return bool(image_repo) and any(r and r.rsplit("/", 1)[-1] == image_repo for r in remotes)


def choose_checkout(
    build: Mapping[str, Any], *, repo_url: str | None = None, image_name: str | None = None
) -> tuple[Mapping[str, Any] | None, str | None]:
    """The checkout record of the commit that was built, and the rule that chose it (module docstring)."""
    checkouts = git_checkouts(build)
    if not checkouts:
        return None, None
    taken = {c.commit_id for c in commits_from_change_sets(build)}
    candidates, rule = checkouts, None
    in_change_sets = [c for c in checkouts if c["lastBuiltRevision"]["SHA1"] in taken]
    if in_change_sets:
        candidates, rule = in_change_sets, "change_set"
        if len(candidates) == 1:
            return candidates[0], rule
    by_repository = [c for c in candidates if _repository_match(c, repo_url, image_name)]
    if by_repository:
        candidates, rule = by_repository, rule or "repository"
        if len(candidates) == 1:
            return candidates[0], rule
    if rule:
        return candidates[-1], rule
    return checkouts[-1], "only_checkout" if len(checkouts) == 1 else "last_checkout"


def _start_time(build: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(ISO start time, problem) from Jenkins' ``timestamp`` (epoch ms)."""
    value = build.get("timestamp")
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return jenkins_time(value), None
        except (OverflowError, OSError, ValueError):
            pass
    return None, (
        f"Jenkins reported no usable start time (timestamp {value!r}); the build is kept in the first "
        f"ci_builds partition"
    )


def build_document(
    job_full_name: str,
    build: Mapping[str, Any],
    artifact: Any | None,
    *,
    artifact_problem: str | None = None,
    ingested_at: datetime,
    number: int | None = None,
) -> BuildDocument:
    """The ci-build-metadata document for one finished Jenkins build.

    ``artifact`` is the parsed build-metadata.json (None if absent); ``artifact_problem`` says why
    it could not be read (bad JSON, fetch failed). Jenkins' own result is authoritative for the
    status: the artifact is written before the build ends. ``number`` is the build number asked
    for (else the build's own).
    """
    number = int(build["number"]) if number is None else number
    doc_id = build_id(job_full_name, number)
    problems: list[str] = []
    if artifact_problem:
        problems.append(artifact_problem)
    started, time_problem = _start_time(build)
    if time_problem:
        problems.append(time_problem)

    usable: Mapping[str, Any] | None = None
    if artifact is not None:
        errors = schema_errors(artifact)
        if not errors and artifact.get("build_id") != doc_id:
            errors.append(f"artifact is for build {artifact.get('build_id')!r}, not {doc_id!r}")
        if errors:
            problems.append(f"{METADATA_ARTIFACT} fails the schema: " + "; ".join(errors))
        else:
            usable = artifact

    if usable is not None:
        # What the pipeline recorded; Jenkins' own values for the rest (below).
        doc = BuildDocument.from_document({key: usable[key] for key in RECORDED_FIELDS if key in usable})
        doc.authors = doc.authors or authors_of(doc.commits)
        doc.metadata_source = "artifact"
    else:
        if artifact is None and not artifact_problem:
            problems.append(f"no {METADATA_ARTIFACT} archived: image digest unknown")
        commits = commits_from_change_sets(build)
        doc = BuildDocument(commits=commits, authors=authors_of(commits), metadata_source="jenkins")

    if doc.source_commit:
        doc.source_commit_rule = "artifact"
    else:
        # An artifact that failed the schema still says which repository and image were built.
        hints = artifact if isinstance(artifact, Mapping) else {}
        repo_hint = doc.repo_url or hints.get("repo_url")
        image_hint = doc.image_name or hints.get("image_name")
        checkout, rule = choose_checkout(
            build,
            repo_url=repo_hint if isinstance(repo_hint, str) else None,
            image_name=image_hint if isinstance(image_hint, str) else None,
        )
        if checkout is not None:
            revision = checkout["lastBuiltRevision"]
            branches = [b for b in revision.get("branch") or [] if isinstance(b, Mapping)]
            doc.source_commit = revision["SHA1"]
            doc.source_commit_rule = rule
            if not doc.branch and branches and branch_name(branches[0].get("name")):
                doc.branch = branch_name(branches[0].get("name"))
            remotes = [u for u in checkout.get("remoteUrls") or [] if isinstance(u, str)]
            if not doc.repo_url and remotes:
                doc.repo_url = remotes[0]

    doc.build_id = doc_id
    doc.job_name = job_full_name
    doc.build_number = number
    doc.build_status = build.get("result")
    doc.timestamp = started
    doc.duration_ms = build.get("duration")
    doc.build_url = build.get("url")
    doc.digest_missing = doc.image_digest is None
    doc.ingest_problems = problems
    doc.ingested_at = _ingest_time(ingested_at)
    return doc


@functools.lru_cache(maxsize=16)
def _ingest_time(at: datetime) -> str:
    """``iso_utc`` of an ingest time: one run stamps every build it reads with the same one."""
    return iso_utc(at)


def unreadable_build_document(job_full_name: str, number: int, reason: str, *, ingested_at: datetime) -> BuildDocument:
    """The record of a build Jenkins would not describe: it is known to exist, nothing more."""
    return BuildDocument(
        build_id=build_id(job_full_name, number),
        job_name=job_full_name,
        build_number=number,
        digest_missing=True,
        metadata_source="unreadable",
        ingest_problems=[f"build details could not be read from Jenkins: {reason}"],
        ingested_at=iso_utc(ingested_at),
    )
