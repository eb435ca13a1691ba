"""Pure transforms from Jenkins' JSON (and the archived build-metadata.json) to ci-build-metadata docs.

The archived artifact is the source of the image digest: Jenkins itself never knows it. Without a
valid artifact the document still records the build and its commits (from Jenkins' change sets
and git BuildData) with ``digest_missing`` set and the reason in ``ingest_problems``: a digest is
never guessed.

The built commit (``source_commit``), and which rule chose it (``source_commit_rule``). A build
leaves one git record (``hudson.plugins.git.util.BuildData``: ``remoteUrls``, ``lastBuiltRevision``)
per repository it checked out (the application's, each shared library's, a Jenkinsfile repository
checked out apart, any other ``git`` step), in checkout order, and one change set per checkout
that took commits. Which of them is the application's, first rule that decides:

* ``artifact``: the valid build-metadata.json names it (the pipeline knew what it built);
* ``scm_revision``: the build carries an ``SCMRevisionAction``: Jenkins' record of the revision of
  the job's own branch source (every build of a multibranch or organisation-folder branch job has
  one; a library's checkout never does). Its ``hash`` (``pullHash`` for a pull request) is the
  built commit; the checkout of that revision (for a pull request merged with its target before
  the build, the one checkout on the pull request's head name) gives the repository and branch;
* ``repository``: exactly one checkout that is not a library's has the remote the metadata names
  (``repo_url``, from an artifact even when it fails the schema) or the image repository's name
  (``acme/node-js.git`` builds ``registry/team/node-js``);
* ``not_library`` / ``only_checkout``: exactly one checkout is not a library's (``not_library``
  when Jenkins listed libraries, ``only_checkout`` when the build has one checkout and loaded
  none);
* ``ambiguous``: several checkouts could be the application's: ``source_commit``, ``repo_url``,
  the branch from git, ``commits``, ``authors`` and ``commit_range`` are left unset and
  ``ingest_problems`` names the candidates. Never a guess: position says nothing certain (a
  Jenkinsfile repository checked out apart and the application's look alike). Also when every
  checkout is at a listed library's version (the application read by a lightweight checkout
  alone, or beside a library Jenkins took from its cache at the same version).

Libraries are what Jenkins lists in the build's ``LibrariesAction`` (``libraries[name,version]``,
pipeline-groovy-lib). A library's checkout records the version it was asked for as its branch
(``develop``, ``v1.2``; ``origin/develop`` through a legacy SCM) or, pinned to a commit, that
commit: a checkout whose branch or revision is a listed library's version is that library's. When
more checkouts share a version than libraries asked for it (the application on ``main`` beside a
library at ``main``) none of them can be told apart. A library Jenkins took from its cache leaves
no checkout.

``commits`` and ``authors`` come from the application checkout's change sets only: a change set
is a checkout's when it lists that checkout's revision (Jenkins computes each checkout's change
set up to the revision it checked out) or, for the application's, the branch source's revision (a
pull request's head under its merge); with a single checkout every change set is its. A change
set that lists no checkout's revision (the revision is a merge: the git plugin's change log is
``git log --no-merges``) belongs to no checkout that can be named and is not counted.

``branch`` (when the artifact does not give it): the application checkout's branch, else the
branch source's head, else, for a branch job, the job's own name URL-decoded (``feature%2Flogin``
is ``feature/login``). ``commit_range`` without an artifact: ``to`` the built commit, ``from`` the
parent of the oldest commit of its change set (``<sha>^``, git's own notation; Jenkins exports no
parent) or None when the build took no commits (a first build, a rebuild).
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from c2c_core.builds import SHORT_COMMIT_LENGTH, Commit, authors_of, branch_name, build_id, is_commit_prefix
from c2c_core.pipeline.build_metadata import redact_url
from c2c_core.pipeline.schema import schema_errors
from c2c_core.timeutil import iso_utc
from c2c_dagster.documents.builds import BuildDocument, CommitRange

METADATA_ARTIFACT = "build-metadata.json"
GIT_BUILD_DATA = "hudson.plugins.git.util.BuildData"
# pipeline-groovy-lib: the shared libraries a build loaded, each with the version asked for.
LIBRARIES_ACTION = "org.jenkinsci.plugins.workflow.libs.LibrariesAction"
# scm-api: the revision of a branch job's own source (multibranch, organisation folders).
SCM_REVISION_ACTION = "jenkins.scm.api.SCMRevisionAction"
#: What a valid build-metadata.json decides of a build's document; Jenkins' own answer the rest.
RECORDED_FIELDS = ("branch", "image_name", "image_tag", "image_digest", "repo_url", "commit_range",
                   "platform_digests", "source_commit", "commits", "authors")
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
    """Commits from all of a build's change sets, in Jenkins' order, de-duplicated."""
    return commits_of(change_sets(build))


def commits_of(sets: list[Mapping[str, Any]]) -> list[Commit]:
    """Commits of these change sets, in Jenkins' order (oldest first within each), de-duplicated."""
    commits: list[Commit] = []
    seen: set[str] = set()
    for change_set in sets:
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
        for action in _actions(build, GIT_BUILD_DATA)
        if isinstance((action.get("lastBuiltRevision") or {}).get("SHA1"), str)
    ]


def _actions(build: Mapping[str, Any], cls: str) -> list[Mapping[str, Any]]:
    return [a for a in build.get("actions") or [] if isinstance(a, Mapping) and a.get("_class") == cls]


def library_versions(build: Mapping[str, Any]) -> list[str]:
    """The version each shared library the build loaded was asked for (``LibrariesAction``)."""
    return [
        library["version"]
        for action in _actions(build, LIBRARIES_ACTION)
        for library in action.get("libraries") or []
        if isinstance(library, Mapping) and isinstance(library.get("version"), str) and library["version"]
    ]


def branch_source_revision(build: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``revision`` of the build's ``SCMRevisionAction`` ({} when Jenkins gave the action alone);
    None when the build has none, i.e. it is not a build of a branch job."""
    actions = _actions(build, SCM_REVISION_ACTION)
    if not actions:
        return None
    revision = actions[0].get("revision")
    return revision if isinstance(revision, Mapping) else {}


def _revision_hash(revision: Mapping[str, Any] | None) -> str | None:
    for key in ("pullHash", "hash"):  # a pull request's head, else the branch's or tag's revision
        value = (revision or {}).get(key)
        if isinstance(value, str) and value:
            return value.lower()
    return None


def checkout_branch(checkout: Mapping[str, Any]) -> str | None:
    """The branch a checkout record names (``refs/remotes/origin/x``, ``origin/x`` and ``x`` alike)."""
    for branch in checkout["lastBuiltRevision"].get("branch") or []:
        if isinstance(branch, Mapping) and branch_name(branch.get("name")):
            return branch_name(branch.get("name"))
    return None


def branch_of_job(job_full_name: str) -> str | None:
    """A branch job's branch: its own name, which Jenkins URL-encodes (``feature%2Flogin``)."""
    return unquote(job_full_name.rsplit("/", 1)[-1]) or None


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


def _library_version_of(checkout: Mapping[str, Any], versions: Counter[str]) -> str | None:
    """The listed library version this checkout was asked for, if it is one."""
    sha = checkout["lastBuiltRevision"]["SHA1"].lower()
    for version in versions:  # a library pinned to a commit, in full or abbreviated: the surest
        if len(version) >= SHORT_COMMIT_LENGTH and is_commit_prefix(version) and sha.startswith(version.lower()):
            return version
    branch = checkout_branch(checkout)
    return branch if branch in versions else None


@dataclass(frozen=True)
class BuiltCommit:
    """The application's checkout among a build's git records, as far as Jenkins tells it."""

    commit: str | None = None
    rule: str | None = None
    checkout: Mapping[str, Any] | None = None  # the application's checkout record, when one is
    libraries: tuple[int, ...] = ()  # positions (in git_checkouts) of libraries' checkouts
    candidates: tuple[int, ...] = ()  # positions that could each be the application's (ambiguous)


def built_commit(
    build: Mapping[str, Any], *, repo_url: str | None = None, image_name: str | None = None
) -> BuiltCommit:
    """Which checkout is the application's and its commit, by the rules of the module docstring."""
    checkouts = git_checkouts(build)
    versions = Counter(library_versions(build))
    revision = branch_source_revision(build)
    commit = _revision_hash(revision)
    if commit:
        same = [c for c in checkouts if c["lastBuiltRevision"]["SHA1"].lower() == commit]
        if not same:
            # A pull request built merged with its target checks out a merge made on the agent: its
            # checkout is the one on the pull request's head name, no library's.
            head = (revision or {}).get("head")
            name = head.get("name") if isinstance(head, Mapping) else None
            same = [c for c in checkouts
                    if name and checkout_branch(c) == name and _library_version_of(c, versions) is None]
        return BuiltCommit(commit, "scm_revision", same[0] if len(same) == 1 else None)
    if not checkouts:
        return BuiltCommit()

    by_version: dict[str, list[int]] = {}
    for index, checkout in enumerate(checkouts):
        version = _library_version_of(checkout, versions)
        if version is not None:
            by_version.setdefault(version, []).append(index)
    # More checkouts at a version than libraries asked for it: which are the libraries' is unknown.
    libraries = sorted(i for v, found in by_version.items() if len(found) <= versions[v] for i in found)
    shared = sorted(i for v, found in by_version.items() if len(found) > versions[v] for i in found)
    others = [i for i in range(len(checkouts)) if i not in libraries and i not in shared]

    hinted = [i for i in [*others, *shared] if _repository_match(checkouts[i], repo_url, image_name)]
    if len(hinted) == 1:
        return BuiltCommit(checkouts[hinted[0]]["lastBuiltRevision"]["SHA1"], "repository", checkouts[hinted[0]],
                           tuple(libraries))
    if len(others) == 1 and not shared:
        chosen = checkouts[others[0]]
        rule = "only_checkout" if len(checkouts) == 1 and not versions else "not_library"
        return BuiltCommit(chosen["lastBuiltRevision"]["SHA1"], rule, chosen, tuple(libraries))
    candidates = hinted if len(hinted) > 1 else sorted([*others, *shared])
    return BuiltCommit(rule="ambiguous", libraries=tuple(libraries), candidates=tuple(candidates))


def application_change_sets(build: Mapping[str, Any], chosen: BuiltCommit) -> list[Mapping[str, Any]]:
    """The change sets of the application's checkout (module docstring): never a library's."""
    sets = change_sets(build)
    checkouts = git_checkouts(build)
    if chosen.checkout is None:
        # No git record at all and no library loaded: nothing else the change sets could be of.
        return sets if not checkouts and not library_versions(build) and chosen.rule is None else []
    if len(checkouts) == 1:
        return sets
    heads = {chosen.checkout["lastBuiltRevision"]["SHA1"].lower(), (chosen.commit or "").lower()}
    return [s for s in sets if any(str(item.get("commitId")).lower() in heads for item in s.get("items") or [])]


def _describe(checkout: Mapping[str, Any]) -> str:
    remotes = [redact_url(u) for u in checkout.get("remoteUrls") or [] if isinstance(u, str)]
    branch = checkout_branch(checkout)
    where = f"{remotes[0] if remotes else 'an unnamed remote'}" + (f" {branch}" if branch else "")
    return f"{where} at {checkout['lastBuiltRevision']['SHA1'][:12]}"


def ambiguity_problem(build: Mapping[str, Any], chosen: BuiltCommit) -> str:
    """What an ``ambiguous`` build's document says instead of a guessed commit."""
    checkouts = git_checkouts(build)
    if not chosen.candidates:
        return (f"every git checkout of the build ({len(checkouts)}) is at a version a listed library was asked "
                f"for: none can be told to be the application's; source_commit, repo_url, commits, authors and "
                f"commit_range are left unset")
    named = "; ".join(_describe(checkouts[i]) for i in chosen.candidates)
    libraries = f" ({len(chosen.libraries)} other checkout(s) are listed libraries')" if chosen.libraries else ""
    return (
        f"the application's checkout cannot be told apart among {len(chosen.candidates)} git checkouts "
        f"({named}){libraries}: source_commit, repo_url, commits, authors and commit_range are left unset"
    )


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
    # Each part from a step of its own, then the document made once: what a valid artifact recorded
    # decides RECORDED_FIELDS, Jenkins' own answer the rest.
    number = int(build["number"]) if number is None else number
    doc_id = build_id(job_full_name, number)
    started, time_problem = _start_time(build)
    usable, artifact_verdict = _usable_artifact(artifact, doc_id, artifact_problem)
    recorded = _recorded(usable)
    commit, rule, chosen = _source_commit(build, recorded, artifact)
    branch, repo_url = _branch_and_repository(recorded, chosen)
    commits, authors, commit_range = _history(build, recorded, usable is not None, commit, chosen)
    ambiguity = ambiguity_problem(build, chosen) if rule == "ambiguous" else None
    return BuildDocument(
        build_id=doc_id,
        job_name=job_full_name,
        build_number=number,
        branch=_branch_or_job_branch(build, job_full_name, branch),
        image_name=recorded.image_name,
        image_tag=recorded.image_tag,
        image_digest=recorded.image_digest,
        platform_digests=recorded.platform_digests,
        commits=commits,
        authors=authors,
        build_status=build.get("result"),
        timestamp=started,
        duration_ms=build.get("duration"),
        repo_url=repo_url,
        build_url=build.get("url"),
        commit_range=commit_range,
        source_commit=commit,
        source_commit_rule=rule,
        digest_missing=recorded.image_digest is None,
        metadata_source="jenkins" if usable is None else "artifact",
        ingest_problems=[p for p in (artifact_problem, time_problem, artifact_verdict, ambiguity) if p],
        ingested_at=_ingest_time(ingested_at),
    )


def _usable_artifact(
    artifact: Any | None, doc_id: str, artifact_problem: str | None
) -> tuple[Mapping[str, Any] | None, str | None]:
    """The build-metadata.json when it is valid and this build's (else None), and what is wrong
    with it, if anything (nothing more when ``artifact_problem`` already said why there is none)."""
    if artifact is None:
        return None, None if artifact_problem else f"no {METADATA_ARTIFACT} archived: image digest unknown"
    errors = schema_errors(artifact)
    if not errors and artifact.get("build_id") != doc_id:
        errors.append(f"artifact is for build {artifact.get('build_id')!r}, not {doc_id!r}")
    if errors:
        return None, f"{METADATA_ARTIFACT} fails the schema: " + "; ".join(errors)
    return artifact, None


def _recorded(usable: Mapping[str, Any] | None) -> BuildDocument:
    """What the pipeline recorded (``RECORDED_FIELDS`` of a valid artifact), typed; nothing without one."""
    if usable is None:
        return BuildDocument()
    return BuildDocument.from_document({key: usable[key] for key in RECORDED_FIELDS if key in usable})


_NOT_LOOKED_UP = BuiltCommit()  # the artifact named the commit: Jenkins' checkouts were not looked at


def _source_commit(
    build: Mapping[str, Any], recorded: BuildDocument, artifact: Any | None
) -> tuple[str | None, str | None, BuiltCommit]:
    """The built commit, the rule that chose it and the application's checkout: the artifact's
    commit, else the one the rules of the module docstring find among the build's checkouts."""
    if recorded.source_commit:
        return recorded.source_commit, "artifact", _NOT_LOOKED_UP
    # An artifact that failed the schema still says which repository and image were built.
    hints = artifact if isinstance(artifact, Mapping) else {}
    repo_hint = recorded.repo_url or hints.get("repo_url")
    image_hint = recorded.image_name or hints.get("image_name")
    chosen = built_commit(
        build,
        repo_url=repo_hint if isinstance(repo_hint, str) else None,
        image_name=image_hint if isinstance(image_hint, str) else None,
    )
    return chosen.commit, chosen.rule, chosen


def _branch_and_repository(recorded: BuildDocument, chosen: BuiltCommit) -> tuple[str | None, str | None]:
    """The branch and repository the artifact gave, else those of the application's checkout."""
    if chosen.checkout is None:
        return recorded.branch, recorded.repo_url
    remotes = [u for u in chosen.checkout.get("remoteUrls") or [] if isinstance(u, str)]
    return (recorded.branch or checkout_branch(chosen.checkout),
            redact_url(remotes[0]) if remotes and not recorded.repo_url else recorded.repo_url)


def _history(
    build: Mapping[str, Any], recorded: BuildDocument, from_artifact: bool, commit: str | None, chosen: BuiltCommit
) -> tuple[list[Commit], list[str], CommitRange | None]:
    """``commits``, ``authors`` and ``commit_range``: as the pipeline recorded them, else from Jenkins'
    change sets of the application's checkout."""
    if from_artifact:
        return recorded.commits, recorded.authors or authors_of(recorded.commits), recorded.commit_range
    commits = commits_of(application_change_sets(build, chosen))
    # Jenkins' change log runs from the previous build's revision up to this one, oldest first.
    commit_range = CommitRange(from_=f"{commits[0].commit_id}^" if commits else None, to=commit) if commit else None
    return commits, authors_of(commits), commit_range


def _branch_or_job_branch(build: Mapping[str, Any], job_full_name: str, known: str | None) -> str | None:
    """``known`` (the artifact's or the checkout's branch); else, for a branch job, its head's name or
    its own name."""
    if known:
        return known
    revision = branch_source_revision(build)
    if revision is None:
        return known
    head = (revision.get("head") or {}).get("name") if isinstance(revision.get("head"), Mapping) else None
    return head if isinstance(head, str) and head else branch_of_job(job_full_name)


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
