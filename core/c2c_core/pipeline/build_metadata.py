"""The pieces of ``c2c-build-metadata``: image tag, digest from each builder's output, commits, document.

Everything here is a plain function over text, paths and values so each rule is tested directly;
the only side effects are ``git`` subprocesses (commit collection) and the atomic file write.
``c2c_core.pipeline.cli`` wires them to the command line and the Jenkins environment; build ids,
tags, branches, commits and authors are spelled by ``c2c_core.builds``, digests and image
references by ``c2c_core.images``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from c2c_core.builds import Commit, authors_of, build_id, is_commit_prefix, is_null_commit
from c2c_core.images import ImageReference, InvalidReferenceError, is_digest, parse_reference
from c2c_core.registry.client import PlatformDigest
from c2c_core.timeutil import iso_utc, parse_time

#: The seed's example document order (section 3.6), then c2c's additions.
FIELD_ORDER = (
    "build_id",
    "job_name",
    "build_number",
    "branch",
    "image_name",
    "image_tag",
    "image_digest",
    "commits",
    "authors",
    "build_status",
    "timestamp",
    "repo_url",
    "build_url",
    "commit_range",
    "platform_digests",
    "source_commit",
)

# Kaniko colours its log by default; escape codes must not hide a "Pushed" line.
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_KANIKO_PUSHED_RE = re.compile(r"\bPushed\s+(\S+)@(\S+)")


class BuildMetadataError(Exception):
    """Input the tool cannot turn into a build-metadata document; the message says which and why."""


class DigestSourceError(BuildMetadataError):
    """One digest source yielded no digest (missing file, no matching line, registry error...)."""


class MalformedDigestError(DigestSourceError):
    """A digest source has a digest-shaped value that is not ``sha256:<64 lower-case hex>``."""


class GitError(BuildMetadataError):
    """``git`` could not answer: not a repository, unknown commit, or git itself failed."""


@dataclass(frozen=True)
class DigestResult:
    """A digest and where it came from; platform digests only when the source lists them."""

    digest: str
    source: str
    media_type: str | None = None
    platform_digests: tuple[PlatformDigest, ...] = ()


@dataclass(frozen=True)
class CommitCollection:
    """The commits a build brings, the range asked of git, and why it fell back, if it did."""

    commits: tuple[Commit, ...]
    head: str
    previous: str | None  # the previous successful commit when it exists in the repo
    warnings: tuple[str, ...] = field(default=())

    @property
    def commit_range(self) -> dict[str, str | None]:
        return {"from": self.previous, "to": self.head}


# -- urls ----------------------------------------------------------------------------------------


def redact_url(url: str | None) -> str | None:
    """A repository URL without ``user:token@``: a clone URL can carry a credential."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return url


# -- digests from each builder's output ----------------------------------------------------------


def check_digest(value: str, source: str) -> str:
    if not is_digest(value):
        raise MalformedDigestError(f"{source}: {value[:100]!r} is not a digest of the form sha256:<64 lower-case hex>")
    return value


def parse_digest_file(text: str, source: str) -> str:
    """Kaniko ``--digest-file`` / Buildah ``--digestfile``: just ``sha256:<hex>`` (no newline, but tolerate one)."""
    value = text.strip()
    if not value:
        raise DigestSourceError(f"{source}: file is empty (did the push fail?)")
    return check_digest(value, source)


def _reference(text: str, source: str, where: str) -> ImageReference:
    try:
        return parse_reference(text)
    except InvalidReferenceError as exc:
        raise MalformedDigestError(f"{source}: {where}: {exc}") from exc


def _only_digest(
    found: dict[str, list[str]], image: ImageReference, source: str, seen: Sequence[str], what: str
) -> str:
    if not found:
        listed = ", ".join(sorted(set(seen))) if seen else "none"
        raise DigestSourceError(f"{source}: no {what} for {image.name} (repositories found: {listed})")
    if len(found) > 1:
        raise DigestSourceError(f"{source}: several digests for {image.name}: {', '.join(sorted(found))}")
    return next(iter(found))


def parse_image_name_with_digest(text: str, image: ImageReference, source: str) -> str:
    """Kaniko ``--image-name-with-digest-file`` / ``--image-name-tag-with-digest-file``.

    One ``registry/repo[:tag]@sha256:…`` line per destination; the line for ``image``'s
    repository wins (Docker Hub spellings compare equal).
    """
    found: dict[str, list[str]] = {}
    seen: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        name, at, digest = line.rpartition("@")
        if not at:
            raise MalformedDigestError(f"{source}: line {number} {line[:100]!r} has no @sha256:<digest>")
        check_digest(digest, f"{source} line {number}")
        ref = _reference(name, source, f"line {number}")
        seen.append(ref.name)
        if ref.same_repository(image):
            found.setdefault(digest, []).append(line)
    if not seen:
        raise DigestSourceError(f"{source}: file is empty (did the push fail?)")
    return _only_digest(found, image, source, seen, "line")


def parse_kaniko_log(text: str, image: ImageReference, source: str) -> str:
    """Kaniko's ``Pushed index.docker.io/org/repo@sha256:…`` log line (seed 3.5) for ``image``."""
    found: dict[str, list[str]] = {}
    seen: list[str] = []
    for line in _ANSI_RE.sub("", text).splitlines():
        for match in _KANIKO_PUSHED_RE.finditer(line):
            name, digest = match.group(1), match.group(2)
            ref = _reference(name, source, f"'Pushed' line {line.strip()[:120]!r}")
            seen.append(ref.name)
            if ref.same_repository(image):
                found.setdefault(check_digest(digest, f"{source} 'Pushed' line"), []).append(line)
    if not seen:
        raise DigestSourceError(f"{source}: no 'Pushed <image>@sha256:<digest>' line (did the push fail?)")
    return _only_digest(found, image, source, seen, "'Pushed' line")


def parse_buildx_metadata(text: str, image: ImageReference, source: str) -> DigestResult:
    """``docker buildx build --metadata-file`` JSON: ``containerimage.digest`` (or the descriptor's).

    For a multi-platform build the digest is the index's and ``containerimage.descriptor`` says so
    (its media type); buildx does not list the platform digests there. ``docker buildx bake``
    writes one such object per target: the one whose ``image.name`` names ``image`` is used.
    """
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MalformedDigestError(f"{source}: not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise MalformedDigestError(f"{source}: expected a JSON object, got {type(data).__name__}")

    def has_digest(obj: Any) -> bool:
        return isinstance(obj, dict) and ("containerimage.digest" in obj or "containerimage.descriptor" in obj)

    candidates = [data] if has_digest(data) else [v for v in data.values() if has_digest(v)]
    if not candidates:
        raise DigestSourceError(f"{source}: no containerimage.digest (was the image pushed with --push?)")
    # A metadata file that names other images is another build's: never take its digest.
    named = [c for c in candidates if _names_image(c.get("image.name"), image)]
    if len(named) > 1:
        raise DigestSourceError(f"{source}: several targets name {image.name}")
    if named:
        entry = named[0]
    elif len(candidates) == 1 and not candidates[0].get("image.name"):
        entry = candidates[0]
    else:
        names = ", ".join(str(c.get("image.name")) for c in candidates)
        raise DigestSourceError(f"{source}: no image.name is {image.name} (found: {names})")
    descriptor = entry.get("containerimage.descriptor") or {}
    digest = entry.get("containerimage.digest") or (descriptor.get("digest") if isinstance(descriptor, dict) else None)
    check_digest(str(digest or ""), f"{source} containerimage.digest")
    if isinstance(descriptor, dict) and descriptor.get("digest") and descriptor["digest"] != digest:
        raise MalformedDigestError(
            f"{source}: containerimage.digest {digest} differs from containerimage.descriptor {descriptor['digest']}"
        )
    media_type = descriptor.get("mediaType") if isinstance(descriptor, dict) else None
    return DigestResult(digest=str(digest), source=source, media_type=media_type)


def _names_image(names: Any, image: ImageReference) -> bool:
    if not isinstance(names, str):
        return False
    for name in names.split(","):
        with suppress(InvalidReferenceError):
            if parse_reference(name).same_repository(image):
                return True
    return False


# -- commits from git ----------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    # A Jenkins workspace is often owned by another uid than the build container's user;
    # git then refuses ("dubious ownership"). Trusting this one checkout for a read is safe.
    cmd = ["git", "-c", f"safe.directory={repo}", "-C", str(repo), *args]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {' '.join(args)} in {repo} timed out") from exc
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)} in {repo} failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout.decode("utf-8", errors="replace")


def _check_rev(rev: str, what: str) -> str:
    # Revisions come from the environment: only object ids (or HEAD) reach git, never an option.
    if rev != "HEAD" and not is_commit_prefix(rev):
        raise GitError(f"{what} {rev!r} is not a commit id (hex) or HEAD")
    return rev


def resolve_commit(repo: Path, rev: str, what: str = "commit") -> str:
    """The full object id of ``rev``; :class:`GitError` if it is not a commit in ``repo``."""
    _check_rev(rev, what)
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip()
    except GitError as exc:
        raise GitError(f"{what} {rev} is not a commit in the repository at {repo}") from exc


def commit_exists(repo: Path, rev: str) -> str | None:
    """Like :func:`resolve_commit` but None when absent (a force-push dropped it, or a shallow clone)."""
    try:
        return resolve_commit(repo, rev)
    except GitError:
        return None


GIT_LOG_FORMAT = "%H%x00%an%x00%ae%x00%cI%x00%B"
_LOG_FIELDS = 5


def parse_git_log(output: str) -> list[Commit]:
    """Records from ``git log -z --format=%H%x00%an%x00%ae%x00%cI%x00%B``: NUL separates fields
    and commits; ``%cI`` is the committer date, kept as UTC.

    NUL cannot occur in a commit message, so messages with newlines, ``|`` or tabs come through whole.
    """
    parts = output.split("\x00")
    if parts and parts[-1].strip() == "":
        parts = parts[:-1]
    if len(parts) % _LOG_FIELDS:
        raise GitError(f"unexpected git log output ({len(parts)} fields, not a multiple of {_LOG_FIELDS})")
    commits = []
    for i in range(0, len(parts), _LOG_FIELDS):
        # git puts a newline between -z records after the first; the id is hex, so strip is safe.
        commit_id, author, email, committed, message = (parts[i].strip(), *parts[i + 1:i + _LOG_FIELDS])
        try:
            timestamp = iso_utc(parse_time(committed))
        except (TypeError, ValueError):
            raise GitError(f"git log gave commit {commit_id} the date {committed!r}, not ISO 8601") from None
        commits.append(Commit(commit_id=commit_id, author=author, email=email, message=message.rstrip("\n"),
                              timestamp=timestamp))
    return commits


def git_log(repo: Path, *revs: str, max_count: int | None = None) -> list[Commit]:
    args = ["log", "-z", "--no-color", "--no-show-signature", f"--format={GIT_LOG_FORMAT}"]
    if max_count is not None:
        args.append(f"--max-count={max_count}")
    return parse_git_log(_git(repo, *args, *revs, "--"))


def collect_commits(repo: Path, head: str = "HEAD", previous: str | None = None) -> CommitCollection:
    """The commits in ``previous..head``, newest first, merge commits and what they bring included.

    No previous (first build) gives HEAD alone; so does a previous commit that is no longer in the
    repository (force-push, shallow clone) or an empty range (rebuild of the same commit), with a
    warning saying so. Messages are the full commit message, trailing newlines removed.
    """
    repo = Path(repo).resolve()
    head_id = resolve_commit(repo, head, "HEAD commit")
    warnings: list[str] = []
    previous_id: str | None = None
    if previous and not is_null_commit(previous):
        _check_rev(previous, "previous commit")
        previous_id = commit_exists(repo, previous)
        if previous_id is None:
            warnings.append(
                f"previous commit {previous} is not in the repository at {repo} (force-push or shallow clone?); "
                f"recording HEAD {head_id[:12]} alone"
            )
    if previous_id is None:
        return CommitCollection(tuple(git_log(repo, head_id, max_count=1)), head_id, None, tuple(warnings))
    try:
        _git(repo, "merge-base", "--is-ancestor", previous_id, head_id)
    except GitError:
        warnings.append(
            f"previous commit {previous_id[:12]} is not an ancestor of HEAD {head_id[:12]} (history rewritten?); "
            "recording the commits reachable from HEAD but not from it"
        )
    commits = git_log(repo, f"{previous_id}..{head_id}")
    if not commits:
        warnings.append(f"no commits in {previous_id[:12]}..{head_id[:12]} (a rebuild?); recording HEAD alone")
        commits = git_log(repo, head_id, max_count=1)
    return CommitCollection(tuple(commits), head_id, previous_id, tuple(warnings))


def remote_url(repo: Path) -> str | None:
    """``origin``'s URL, for when ``GIT_URL`` is not set; None when there is no origin."""
    try:
        return _git(Path(repo).resolve(), "config", "--get", "remote.origin.url").strip() or None
    except GitError:
        return None


def current_branch(repo: Path) -> str | None:
    """The checked-out branch; None on a detached HEAD (what Jenkins checks out)."""
    try:
        name = _git(Path(repo).resolve(), "rev-parse", "--abbrev-ref", "HEAD").strip()
    except GitError:
        return None
    return None if name in ("", "HEAD") else name


# -- the document --------------------------------------------------------------------------------


def assemble_document(
    *,
    job_name: str,
    build_number: int,
    image_name: str,
    image_tag: str,
    digest: DigestResult,
    collection: CommitCollection,
    build_status: str,
    timestamp: datetime,
    branch: str | None = None,
    repo_url: str | None = None,
    build_url: str | None = None,
) -> dict[str, Any]:
    """The build-metadata document, keys in the seed's order (``FIELD_ORDER``)."""
    doc: dict[str, Any] = {
        "build_id": build_id(job_name, build_number),
        "job_name": job_name,
        "build_number": build_number,
        "branch": branch,
        "image_name": image_name,
        "image_tag": image_tag,
        "image_digest": digest.digest,
        "commits": [c.as_dict() for c in collection.commits],
        "authors": authors_of(collection.commits),
        "build_status": build_status,
        "timestamp": iso_utc(timestamp.replace(microsecond=0)),
        "repo_url": redact_url(repo_url),
        "build_url": build_url,
        "commit_range": collection.commit_range,
        "platform_digests": [p.as_dict() for p in digest.platform_digests],
        "source_commit": collection.head,
    }
    return {key: doc[key] for key in FIELD_ORDER}


def write_json_atomic(path: Path, doc: Mapping[str, Any]) -> None:
    """Pretty JSON via a temp file in the same directory and a rename: readers see all or nothing."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(doc, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the artifact from other users
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
