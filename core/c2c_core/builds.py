"""Builds in c2c's words: the build id, the branch name, commits and their authors, the image tag,
which results are failed builds.

Pure. The pipeline tool writes these into build-metadata.json, ingestion reads Jenkins' own
values through the same functions, so a build id or a branch has one spelling everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

#: Git object ids: SHA-1 (40 hex) or SHA-256 repositories (64 hex).
COMMIT_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
# An abbreviated or full object id, as people and tools pass them.
_COMMIT_PREFIX_RE = re.compile(r"^[0-9a-fA-F]{4,64}$")
_NULL_COMMIT_RE = re.compile(r"^0{40}(0{24})?$")
MAX_TAG_LENGTH = 128  # the OCI distribution spec's tag limit
SHORT_COMMIT_LENGTH = 7  # what `git log --oneline` shows and the seed's tags use


#: Jenkins' results (``hudson.model.Result``) that are failed builds: those worse than UNSTABLE.
#: UNSTABLE is not one: Jenkins' own word for it is "some errors but they were not fatal, for
#: example some tests failed"; the build ran to its end and produced what it builds, and Jenkins'
#: ``lastSuccessfulBuild`` (``isBetterOrEqualTo(UNSTABLE)``) counts it as successful (its
#: ``lastUnsuccessfulBuild``, any result but SUCCESS, is another question).
FAILED_RESULTS = frozenset({"FAILURE", "NOT_BUILT", "ABORTED"})


def is_failed_build(result: str | None) -> bool:
    """Whether Jenkins' ``result`` of a build is a failed build (``FAILED_RESULTS``). None (no
    result known: a build Jenkins would not describe) is not: c2c does not guess one."""
    return result in FAILED_RESULTS


def build_id(job_name: str, build_number: int) -> str:
    """``JOB_NAME-BUILD_NUMBER`` (seed 3.2), e.g. ``Node-JS/master-67``."""
    return f"{job_name}-{build_number}"


def branch_name(ref: str | None) -> str | None:
    """The branch a git ref or Jenkins' ``GIT_BRANCH`` names: ``origin/master``,
    ``refs/remotes/origin/master``, ``remotes/upstream/master`` and ``refs/heads/master`` are all
    ``master``; a name with slashes (``feature/x``) is kept whole. None when there is none."""
    if not ref:
        return None
    for prefix in ("refs/remotes/", "remotes/"):
        if ref.startswith(prefix):
            # refs/remotes/<remote>/<branch>: the remote name has no slash, the branch may.
            return ref[len(prefix) :].partition("/")[2] or None
    for prefix in ("refs/heads/", "origin/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :] or None
    return ref


def is_commit_id(value: object) -> bool:
    """A full git object id in lower case (what build-metadata.json records)."""
    return isinstance(value, str) and COMMIT_RE.match(value) is not None


def is_commit_prefix(value: str) -> bool:
    """A full or abbreviated object id (4+ hex characters, any case)."""
    return _COMMIT_PREFIX_RE.match(value) is not None


def is_null_commit(commit: str | None) -> bool:
    """GitLab and GitHub send an all-zero sha as "before" for a new branch: there is no previous."""
    return bool(commit) and bool(_NULL_COMMIT_RE.match(commit or ""))


def short_commit(commit: str, length: int = SHORT_COMMIT_LENGTH) -> str:
    if not is_commit_prefix(commit) or len(commit) < length:
        raise ValueError(f"commit {commit!r} is not a hex git object id of at least {length} characters")
    return commit[:length].lower()


@dataclass(frozen=True, slots=True)
class Commit:
    """One commit of a build, in the seed's field names (section 3.6), and when it was committed.

    ``timestamp`` is the committer date (ISO 8601, UTC): when the commit took its final form, after
    any rebase or cherry-pick — the start of its lead time. Jenkins' change sets carry the same
    date unless a job sets "Use commit author in changelog". None where it was not recorded (builds
    from before c2c recorded it); such a commit has no lead time.

    Each field's metadata says how c2c's store indexes it (``c2c_dagster.documents`` reads it):
    the commit's fields are declared here once, for the pipeline tool and the store alike.
    """

    commit_id: str = field(metadata={"mapping": "keyword", "lookup": True})
    author: str = field(default="", metadata={"mapping": "keyword"})
    email: str = field(default="", metadata={"mapping": "keyword"})
    message: str = field(default="", metadata={"mapping": "text"})
    # The committer date: where a commit's lead time starts.
    timestamp: str | None = field(default=None, metadata={"mapping": "date"})

    #: A document leaves an unknown commit time out rather than writing null.
    omit_none: ClassVar[bool] = True
    #: What build-metadata.json requires of each commit (seed section 3.6); ``timestamp`` is optional.
    seed_fields: ClassVar[tuple[str, ...]] = ("commit_id", "author", "email", "message")

    @property
    def author_line(self) -> str:
        return author_line(self.author, self.email)

    def as_dict(self) -> dict[str, str]:
        """The commit as build-metadata.json records it (its time only when known)."""
        doc = {name: getattr(self, name) for name in self.seed_fields}
        if self.timestamp is not None:
            doc["timestamp"] = self.timestamp
        return doc


def author_line(name: str, email: str) -> str:
    """``Name <email>``: how a build's ``authors`` name each author."""
    return f"{name} <{email}>"


def authors_of(commits: Iterable[Commit]) -> list[str]:
    """``Name <email>`` once each, in order of first appearance."""
    return list(dict.fromkeys(commit.author_line for commit in commits))


def sanitize_tag_part(text: str) -> str:
    """Lower-case, anything outside ``[a-z0-9_.-]`` to ``-``, runs of ``-`` collapsed, no ``.``/``-`` at the ends."""
    text = re.sub(r"[^a-z0-9_.-]", "-", text.lower())
    return re.sub(r"-{2,}", "-", text).strip(".-")


def safe_tag(job_name: str, build_number: int, commit: str) -> str:
    """``<safe-job-name>-<build-number>-<short-commit>`` (seed 3.4), a valid OCI tag.

    Only the job-name part is ever shortened to fit 128 characters: the number and commit are
    what make the tag unique and traceable. A job name with no usable character is dropped.
    """
    if isinstance(build_number, bool) or not isinstance(build_number, int) or build_number < 0:
        raise ValueError(f"build number {build_number!r} must be a non-negative integer")
    suffix = f"{build_number}-{short_commit(commit)}"
    room = MAX_TAG_LENGTH - len(suffix) - 1
    job = sanitize_tag_part(job_name)[:room].rstrip(".-")
    return f"{job}-{suffix}" if job else suffix
