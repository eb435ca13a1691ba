"""``JenkinsResource``: a typed, retrying client for the parts of Jenkins' JSON API c2c reads.

Only ``tree=`` queries are used, so Jenkins serialises just the fields asked for. Jobs inside
folders and multibranch projects are addressed by their full name (``Node-JS/feature%2Fx``), each
part URL-encoded again in paths, as Jenkins itself does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import dagster as dg
import requests
from pydantic import PrivateAttr
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from c2c_core.builds import build_id
from c2c_dagster.jenkins.budget import ITEM_BUDGET_SECONDS, TICK_REQUEST_TIMEOUT, OverBudget, bounded_map
from c2c_dagster.settings import Settings, load_settings

_JOB_FIELDS = "name,url,_class"
# Folders (plain folders, organization folders, multibranch projects: anything with ``jobs``) are
# read a few levels per request. At the last level of a request only whether an item has
# children is asked (``jobs[_class]{0,1}``: at most one child); those folders get a request of
# their own, so a tree of any depth is read, usually in one request.
LEVELS_PER_REQUEST = 3
DEFAULT_MAX_FOLDER_DEPTH = 10
BUILD_SUMMARY_FIELDS = "number,result,building,timestamp,duration,url"
_CHANGE_FIELDS = "commitId,authorEmail,msg,comment,timestamp,author[fullName]"
BUILD_DETAIL_TREE = ",".join(
    [
        "_class",
        BUILD_SUMMARY_FIELDS,
        "fullDisplayName",
        # Several BuildData actions appear when a pipeline checks out more than one repository
        # (shared libraries, a config repo); all are kept and chosen from later, with what Jenkins
        # says of them: the libraries loaded (LibrariesAction) and, for a branch job, the
        # revision of the job's own branch source (SCMRevisionAction): see jenkins/transform.py.
        "actions[_class,lastBuiltRevision[SHA1,branch[SHA1,name]],remoteUrls,scmName,"
        "causes[shortDescription,userId],libraries[name,version],revision[hash,pullHash,head[name]]]",
        "artifacts[fileName,relativePath]",
        f"changeSets[_class,kind,items[{_CHANGE_FIELDS}]]",  # pipelines: a list
        f"changeSet[_class,kind,items[{_CHANGE_FIELDS}]]",  # freestyle: one object
    ]
)
# Jenkins' `builds` holds only the newest 100; `allBuilds{M,N}` pages through history.
HISTORY_PAGE = 100
# An answer c2c reads is a few KB (a listing of 100 builds) to a few hundred KB (a build with a
# thousand commits); anything over this is read no further and is that job's or build's problem,
# not the process's memory.
MAX_ANSWER_BYTES = 32 * 1024 * 1024
# Jenkins' answers nest a handful of levels (folders are read LEVELS_PER_REQUEST at a time),
# build-metadata.json four; deeper JSON is refused before any code walks it recursively.
MAX_JSON_DEPTH = 64
Timeout = float | tuple[float, float]


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether parsed JSON nests more than ``limit`` levels; iterative, so any depth is safe."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def load_json(content: bytes, what: str) -> Any:
    """``content`` parsed as JSON, or ``ValueError`` saying plainly what is wrong with it.

    Bytes, not text: ``json`` then reads UTF-8 (a BOM is skipped) and UTF-16/32 as RFC 8259
    allows, and refuses anything else (latin-1 bytes) instead of ``requests`` decoding it with
    replacement characters. ``RecursionError`` is what ``json`` raises for ``[[[...]]]`` nested
    past the interpreter's recursion limit; it is not a ``ValueError``, so it is turned into one
    here, where the JSON is parsed, and never reaches a caller as a crash.
    """
    if len(content) > MAX_ANSWER_BYTES:
        raise ValueError(f"{what} is not valid JSON: larger than {MAX_ANSWER_BYTES // (1024 * 1024)} MiB, not read")
    try:
        value = json.loads(content)
    except RecursionError:
        raise ValueError(f"{what} is not valid JSON: nested too deeply to parse "
                         f"(c2c reads at most {MAX_JSON_DEPTH} levels)") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} is not valid JSON: not UTF-8 (nor UTF-16/32): {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{what} is not valid JSON: {exc} (starts {content[:80]!r})") from None
    if nested_deeper_than(value, MAX_JSON_DEPTH):
        raise ValueError(f"{what} is not valid JSON for c2c: nested deeper than {MAX_JSON_DEPTH} levels, not read")
    return value


class JenkinsError(RuntimeError):
    """Jenkins answered in a way c2c cannot use; the message says which URL and what to do."""


class JenkinsUnreachableError(JenkinsError):
    """No answer at all (refused, timed out): nothing of Jenkins can be read right now."""


class JenkinsTimeoutError(JenkinsUnreachableError):
    """A request, or a job's or folder's time budget in a sensor tick, ran out.

    An ``Unreachable`` error for a run (Jenkins as a whole may be overloaded: the run is retried),
    but in a sensor tick only the job or folder that was slow is skipped (see ``sensors.py``)."""


class JenkinsAuthError(JenkinsError):
    """401/403: the credentials (or the user's permissions) are wrong, not one job or build."""


@dataclass(frozen=True)
class JenkinsJob:
    full_name: str  # e.g. "Node-JS/master": the JOB_NAME Jenkins gives the build
    url: str
    job_class: str


def job_path(full_name: str) -> str:
    """``/job/a/job/b`` for ``a/b``; each name is encoded again (branch ``x%2Fy`` -> ``x%252Fy``)."""
    return "".join(f"/job/{quote(part, safe='')}" for part in full_name.split("/"))


def jobs_tree(levels: int) -> str:
    """The ``tree=`` of one folder request: ``levels`` levels of items, then a children marker."""
    tree = f"{_JOB_FIELDS},jobs[_class]{{0,1}}"
    for _ in range(levels - 1):
        tree = f"{_JOB_FIELDS},jobs[{tree}]"
    return f"jobs[{tree}]"


@dataclass
class JobListing:
    """Every buildable job found, and what of the tree could not be read (never dropped silently)."""

    jobs: list[JenkinsJob] = field(default_factory=list)
    # folder full name -> why it was not read (an error answer, or deeper than the bound)
    unreadable_folders: dict[str, str] = field(default_factory=dict)
    beyond_depth: list[str] = field(default_factory=list)
    requests: int = 0

    @property
    def complete(self) -> bool:
        return not (self.unreadable_folders or self.beyond_depth)


def flatten_jobs(
    items: list[dict[str, Any]], parent: str = "", depth: int = 1, levels: int | None = None
) -> tuple[list[JenkinsJob], list[tuple[str, int]]]:
    """Buildable jobs of a nested ``jobs`` answer, and the folders whose children it did not carry.

    Anything with ``jobs`` of its own is a folder. ``depth`` is the level of ``items`` in the
    whole tree (1: top level); ``levels`` how many levels the answer carries below ``parent``
    (the last one only marks which items have children). Returns (jobs, [(folder, its depth)]).
    """
    jobs: list[JenkinsJob] = []
    pending: list[tuple[str, int]] = []
    for item in items or []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        name = f"{parent}/{item['name']}" if parent else item["name"]
        if "jobs" not in item:
            jobs.append(JenkinsJob(full_name=name, url=item.get("url", ""), job_class=item.get("_class", "")))
        elif levels == 1:
            if item["jobs"]:  # the marker: it has children, not read here
                pending.append((name, depth))
        else:
            found, deeper = flatten_jobs(item["jobs"], name, depth + 1, None if levels is None else levels - 1)
            jobs.extend(found)
            pending.extend(deeper)
    return jobs, pending


class JenkinsResource(dg.ConfigurableResource):
    """Read-only access to a Jenkins controller: jobs, builds, build details and artifacts.

    Credentials are a user and API token (wire them with ``dg.EnvVar``). Every call has a
    (connect, read) timeout and retries connection errors and 5xx answers with backoff.
    """

    url: str
    user: str | None = None
    api_token: str | None = None
    connect_timeout_seconds: float = 5
    read_timeout_seconds: float = 30
    retries: int = 3
    verify_tls: bool = True
    # How many levels of folders are followed (a job inside that many nested folders is still
    # read); a folder deeper than that is reported (log, run metadata, ingest-problems), not read.
    max_folder_depth: int = DEFAULT_MAX_FOLDER_DEPTH

    _session: requests.Session | None = PrivateAttr(default=None)

    @property
    def base_url(self) -> str:
        return self.url.rstrip("/")

    def session(self) -> requests.Session:
        if self._session is None:
            session = requests.Session()
            retry = Retry(
                total=self.retries,
                connect=self.retries,
                read=self.retries,
                status=self.retries,
                backoff_factor=0.5,
                status_forcelist=(500, 502, 503, 504),
                allowed_methods=frozenset({"GET", "HEAD"}),
                raise_on_status=False,  # the last 5xx comes back to _get, which names it
            )
            session.mount("http://", HTTPAdapter(max_retries=retry))
            session.mount("https://", HTTPAdapter(max_retries=retry))
            if self.user:
                session.auth = (self.user, self.api_token or "")
            session.verify = self.verify_tls
            self._session = session
        return self._session

    def _get(
        self, path: str, params: dict[str, str] | None = None, *, allow_404: bool = False, timeout: Timeout | None = None
    ) -> tuple[str, bytes] | None:
        """(URL, body) of a 2xx answer; the body is read up to ``MAX_ANSWER_BYTES`` and no further."""
        url = f"{self.base_url}{path}"
        try:
            response = self.session().get(
                url, params=params, stream=True,
                timeout=timeout or (self.connect_timeout_seconds, self.read_timeout_seconds),
            )
            with response:
                body = _bounded_body(response)
        except requests.RequestException as exc:
            if not _timed_out(exc):
                raise JenkinsUnreachableError(
                    f"Jenkins at {self.base_url} unreachable ({url}): {exc}. Check C2C_JENKINS_URL and "
                    "that Jenkins is up; nothing was written, the run can be retried."
                ) from exc
            raise JenkinsTimeoutError(
                f"Jenkins at {self.base_url} did not answer {url} in time: {exc}. Nothing was written; "
                "the run can be retried."
            ) from exc
        if response.status_code == 404 and allow_404:
            return None
        if response.status_code in (401, 403):
            raise JenkinsAuthError(
                f"Jenkins refused {url} with {response.status_code}: check C2C_JENKINS_USER and "
                "C2C_JENKINS_API_TOKEN, and that the user has Overall/Read and Job/Read."
            )
        if response.status_code >= 400:
            raise JenkinsError(
                f"Jenkins answered {response.status_code} for {url} after {self.retries} retries: "
                f"{(body or b'')[:200].decode('utf-8', 'replace')!r}"
            )
        if body is None:
            raise JenkinsError(f"Jenkins' answer for {response.url} is larger than "
                               f"{MAX_ANSWER_BYTES // (1024 * 1024)} MiB; not read")
        return response.url, body

    def _get_json(
        self, path: str, tree: str, *, allow_404: bool = False, timeout: Timeout | None = None
    ) -> dict[str, Any] | None:
        answer = self._get(f"{path}/api/json", {"tree": tree}, allow_404=allow_404, timeout=timeout)
        if answer is None:
            return None
        url, content = answer
        try:
            body = load_json(content, "the answer")
        except ValueError as exc:
            raise JenkinsError(
                f"Jenkins returned malformed JSON for {url}: {exc}; is C2C_JENKINS_URL a Jenkins controller?"
            ) from exc
        if not isinstance(body, dict):
            raise JenkinsError(f"Jenkins returned {type(body).__name__} for {url}, expected an object")
        return body

    # -- the API c2c uses ---------------------------------------------------------------------

    def list_jobs(self, *, deadline: float | None = None) -> JobListing:
        """Every buildable job, in folders and multibranch projects of any depth up to
        ``max_folder_depth``. The root must answer (else ``JenkinsError``); a folder below it that
        does not is listed in ``unreadable_folders`` and the rest of the tree is still read.

        ``deadline`` (``time.monotonic()``; a sensor tick's): requests use the tick's short
        timeouts, the root and each folder get ``ITEM_BUDGET_SECONDS``, and the folders not read
        by the deadline are ``unreadable_folders`` too. The folders of one level are read at once.
        """
        bounded = deadline is not None
        timeout = TICK_REQUEST_TIMEOUT if bounded else None
        budget = ITEM_BUDGET_SECONDS if bounded else float("inf")
        until = deadline if deadline is not None else float("inf")
        listing = JobListing()
        # An item at depth d (top level: 1) sits inside d - 1 folders.
        levels = max(1, min(LEVELS_PER_REQUEST, self.max_folder_depth + 1))
        root = bounded_map(lambda _: self._get_json("", jobs_tree(levels), timeout=timeout), [""],
                           item_seconds=budget, deadline=until)[""]
        listing.requests += 1
        if isinstance(root, OverBudget):
            raise JenkinsTimeoutError(f"Jenkins at {self.base_url} did not list its jobs: {root.describe()}")
        if isinstance(root, BaseException):
            raise root
        found, pending = flatten_jobs((root or {}).get("jobs", []), levels=levels)
        listing.jobs.extend(found)
        while pending:
            wave: dict[str, int] = {}
            for folder, depth in pending:
                if depth > self.max_folder_depth:
                    listing.beyond_depth.append(folder)
                else:
                    wave[folder] = max(1, min(LEVELS_PER_REQUEST, self.max_folder_depth - depth + 1))
            depths = dict(pending)
            answers = bounded_map(
                lambda folder: self._get_json(job_path(folder), jobs_tree(wave[folder]), allow_404=True,
                                              timeout=timeout),
                sorted(wave), item_seconds=budget, deadline=until)
            listing.requests += len(wave)
            pending = []
            for folder, answer in sorted(answers.items()):
                if isinstance(answer, OverBudget):
                    listing.unreadable_folders[folder] = answer.describe()
                elif isinstance(answer, JenkinsError):
                    listing.unreadable_folders[folder] = str(answer)
                elif isinstance(answer, BaseException):
                    raise answer
                elif answer is not None:  # None: deleted since its parent was read
                    found, deeper = flatten_jobs(answer.get("jobs", []), folder, depths[folder] + 1, wave[folder])
                    listing.jobs.extend(found)
                    pending.extend(deeper)
        listing.jobs.sort(key=lambda job: job.full_name)
        return listing

    def recent_builds(self, job_full_name: str, *, timeout: Timeout | None = None) -> list[dict[str, Any]] | None:
        """The newest (up to 100) builds of a job, newest first; None if the job is gone."""
        body = self._get_json(job_path(job_full_name), f"builds[{BUILD_SUMMARY_FIELDS}]", allow_404=True,
                              timeout=timeout)
        if body is None:
            return None
        builds = body.get("builds") or []
        if not isinstance(builds, list):
            raise JenkinsError(f"Jenkins listed the builds of {job_full_name} as {type(builds).__name__}, not a list")
        return builds

    def build_history(self, job_full_name: str, start: int, end: int) -> list[dict[str, Any]]:
        """Builds ``start``..``end`` (exclusive, newest first) of the whole history via ``allBuilds``."""
        body = self._get_json(
            job_path(job_full_name), f"allBuilds[{BUILD_SUMMARY_FIELDS}]{{{start},{end}}}", allow_404=True
        )
        return [] if body is None else list(body.get("allBuilds") or [])

    def build(self, job_full_name: str, number: int) -> dict[str, Any] | None:
        """One build's details, or None if it was deleted (e.g. between listing and fetching)."""
        return self._get_json(f"{job_path(job_full_name)}/{number}", BUILD_DETAIL_TREE, allow_404=True)

    def artifact(self, job_full_name: str, number: int, relative_path: str) -> bytes | None:
        """An archived artifact's bytes, or None if it is not there (one over ``MAX_ANSWER_BYTES``
        is a ``JenkinsError`` naming it)."""
        answer = self._get(f"{job_path(job_full_name)}/{number}/artifact/{quote(relative_path)}", allow_404=True)
        return None if answer is None else answer[1]

    def artifact_json(self, job_full_name: str, number: int, relative_path: str) -> Any:
        """An archived JSON artifact parsed; raises ``ValueError`` naming it if it is not JSON."""
        content = self.artifact(job_full_name, number, relative_path)
        if content is None:
            return None
        # load_json's messages say "is not valid JSON" for a parse error, which the run's
        # ``invalid_artifacts`` count looks for; nesting, size and encoding say what they are.
        return load_json(content, f"{relative_path} of {build_id(job_full_name, number)}")


def _timed_out(exc: requests.RequestException) -> bool:
    """A read timeout (Jenkins took the request and did not answer), however ``requests`` wraps
    it: one retried to exhaustion, or one in the middle of the body, comes back as a
    ``ConnectionError`` around urllib3's. A refused or timed-out connection is not one: that is
    Jenkins unreachable (urllib3's ``NewConnectionError`` is a ``ConnectTimeoutError``)."""
    if isinstance(exc, requests.ReadTimeout):
        return True
    cause = exc.args[0] if exc.args else None
    return isinstance(cause, urllib3.exceptions.ReadTimeoutError) or isinstance(
        getattr(cause, "reason", None), urllib3.exceptions.ReadTimeoutError)


def _bounded_body(response: requests.Response) -> bytes | None:
    """The answer's bytes, or None once it passes ``MAX_ANSWER_BYTES`` (the rest is not read)."""
    chunks, size = [], 0
    for chunk in response.iter_content(chunk_size=1024 * 1024):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def jenkins_resource_from_env(settings: Settings | None = None) -> JenkinsResource:
    """The Jenkins settings Dagster uses (the process's when None): ``C2C_JENKINS_URL``, and user and
    API token as ``EnvVar``s when set (a controller that allows anonymous read needs neither)."""
    settings = settings or load_settings()
    return JenkinsResource(
        url=dg.EnvVar("C2C_JENKINS_URL"),
        user=dg.EnvVar("C2C_JENKINS_USER") if settings.jenkins_user else None,
        api_token=dg.EnvVar("C2C_JENKINS_API_TOKEN") if settings.jenkins_api_token else None,
        max_folder_depth=settings.jenkins_max_folder_depth,
    )
