"""A Jenkins *emulator*: an HTTP server answering the JSON API endpoints c2c reads.

Jenkins itself cannot be installed here, so tests run this instead. Its responses follow the
shapes of Jenkins' documented remote access API (``/api/json`` with ``tree=`` filtering and
``{M,N}`` ranges, ``builds`` capped at the newest 100, ``allBuilds`` for history, folders and
multibranch projects under ``/job/a/job/b``, ``changeSets``/``changeSet``, git ``BuildData``
actions, archived ``artifacts``, ``consoleText``). The data it serves is real: commits read from
real git repositories, digests from real Buildah pushes. It is not Jenkins, and says so in its
``X-Jenkins-Emulator`` header and root description.

Faults are injected per path (``fail``): any status and body, answered after a delay (a job that
hangs), with any content type (an HTML error page behind a 200, JSON in another encoding).
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import threading
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from c2c_devstack.services import free_port

FOLDER = "com.cloudbees.hudson.plugins.folder.Folder"
MULTIBRANCH = "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject"
PIPELINE = "org.jenkinsci.plugins.workflow.job.WorkflowJob"
FREESTYLE = "hudson.model.FreeStyleProject"
RUN_CLASS = {PIPELINE: "org.jenkinsci.plugins.workflow.job.WorkflowRun", FREESTYLE: "hudson.model.FreeStyleBuild"}
NEWEST_BUILDS = 100  # Jenkins caps `builds` at the newest 100 (since 1.485)


# -- tree= filtering, as Jenkins applies it ------------------------------------------------------

def parse_tree(spec: str) -> dict[str, tuple[dict | None, tuple[int | None, int | None] | None]]:
    """``jobs[name,builds[number]{0,5}]`` -> {"jobs": ({"name": ..., "builds": (...)}, None)}."""
    pos = 0

    def parse_fields() -> dict:
        nonlocal pos
        fields: dict = {}
        while pos < len(spec):
            match = re.compile(r"[A-Za-z_$][\w$]*").match(spec, pos)
            if not match:
                raise ValueError(f"bad tree spec at {pos}: {spec!r}")
            name = match.group(0)
            pos = match.end()
            sub = None
            rng = None
            if pos < len(spec) and spec[pos] == "[":
                pos += 1
                sub = parse_fields()
                if spec[pos] != "]":
                    raise ValueError(f"unclosed [ in tree spec {spec!r}")
                pos += 1
            if pos < len(spec) and spec[pos] == "{":
                end = spec.index("}", pos)
                rng = parse_range(spec[pos + 1 : end])
                pos = end + 1
            fields[name] = (sub, rng)
            if pos < len(spec) and spec[pos] == ",":
                pos += 1
                continue
            break
        return fields

    return parse_fields()


def parse_range(text: str) -> tuple[int | None, int | None]:
    """Jenkins ranges: ``{M,N}`` (M..N-1), ``{M,}``, ``{,N}``, ``{N}`` (just N)."""
    if "," not in text:
        index = int(text)
        return index, index + 1
    start, end = text.split(",", 1)
    return (int(start) if start else None, int(end) if end else None)


def apply_tree(value: Any, fields: dict | None) -> Any:
    if fields is None:
        return value
    if isinstance(value, list):
        return [apply_tree(item, fields) for item in value]
    if not isinstance(value, dict):
        return value
    # Jenkins always includes the type of an exported object.
    out: dict[str, Any] = {"_class": value["_class"]} if "_class" in value else {}
    for name, (sub, rng) in fields.items():
        if name not in value:
            continue
        item = value[name]
        if rng is not None and isinstance(item, list):
            item = item[rng[0] : rng[1]]
        out[name] = apply_tree(item, sub)
    return out


# -- real data from git ----------------------------------------------------------------------------

def git_changes(repo: Path, previous: str | None, head: str) -> list[dict[str, Any]]:
    """Jenkins ``GitChangeSet`` items for ``previous..head`` of a real repository, oldest first."""
    revs = f"{previous}..{head}" if previous else f"-1 {head}"
    out = subprocess.run(
        # %ct: the git plugin's changeSet timestamp is the committer date unless a job sets
        # "Use commit author in changelog".
        ["git", "-C", str(repo), "log", "--reverse", "--format=%H%x1f%an%x1f%ae%x1f%ct%x1f%s%x1f%B%x1e", *revs.split()],
        capture_output=True, text=True, check=True,
    ).stdout
    items = []
    for record in filter(None, (r.strip("\n") for r in out.split("\x1e"))):
        sha, name, email, epoch, subject, body = record.split("\x1f")
        items.append(
            {
                "_class": "hudson.plugins.git.GitChangeSet",
                "affectedPaths": [],
                "commitId": sha,
                "timestamp": int(epoch) * 1000,
                "author": {"absoluteUrl": f"/user/{name.lower().replace(' ', '.')}", "fullName": name},
                "authorEmail": email,
                "comment": body.strip() + "\n",
                "id": sha,
                "msg": subject,
                "paths": [],
            }
        )
    return items


def git_checkout(remote: str, sha: str, *, branch: str = "master", build_number: int = 1,
                 earlier: dict[str, tuple[str, int]] | None = None) -> dict[str, Any]:
    """The ``hudson.plugins.git.util.BuildData`` action one git checkout adds to a build.

    Jenkins' git plugin exports it with ``lastBuiltRevision`` (what this checkout built),
    ``remoteUrls``, ``scmName`` and ``buildsByBranchName``: every branch this job ever built from
    that remote with its last build (``earlier``: other branches -> (sha, build number)). A
    Pipeline that checks out several repositories (its Jenkinsfile's, a library, the
    application's) carries one such action per repository, in checkout order.
    """
    def revision(commit: str, ref: str) -> dict[str, Any]:
        return {"SHA1": commit, "branch": [{"SHA1": commit, "name": ref}]}

    ref = f"refs/remotes/origin/{branch}"
    builds = {f"refs/remotes/origin/{name}": (commit, number) for name, (commit, number) in (earlier or {}).items()}
    builds[ref] = (sha, build_number)
    return {
        "_class": "hudson.plugins.git.util.BuildData",
        "buildsByBranchName": {
            name: {"_class": "hudson.plugins.git.util.Build", "buildNumber": number, "buildResult": None,
                   "marked": revision(commit, name), "revision": revision(commit, name)}
            for name, (commit, number) in sorted(builds.items())
        },
        "lastBuiltRevision": revision(sha, ref),
        "remoteUrls": [remote],
        "scmName": "",
    }


# -- the model -------------------------------------------------------------------------------------

@dataclass
class EmulatedBuild:
    number: int
    result: str | None  # None while building
    timestamp_ms: int | None  # None: a build whose start time Jenkins does not report
    duration_ms: int = 60_000
    console: bytes = b""  # the build log, served at consoleText (after duration_ms: callers pass that by position)
    changes: list[dict[str, Any]] = field(default_factory=list)
    # A Pipeline that checked out several repositories lists one change set per checkout that
    # took commits, in checkout order: given here, these are served instead of ``changes``.
    change_sets: list[list[dict[str, Any]]] = field(default_factory=list)
    git: list[dict[str, Any]] = field(default_factory=list)  # BuildData actions
    artifacts: dict[str, bytes] = field(default_factory=dict)
    # A build's JSON as a real Jenkins recorded it (``actions``, ``changeSets``...): served in
    # place of the model's own, with only ``number`` and ``url`` made this emulator's.
    recorded: dict[str, Any] | None = None


@dataclass
class EmulatedJob:
    full_name: str
    job_class: str = PIPELINE
    builds: dict[int, EmulatedBuild] = field(default_factory=dict)


@dataclass(frozen=True)
class Fault:
    pattern: re.Pattern[str]
    status: int
    body: bytes
    times: int
    delay: float = 0.0
    content_type: str = "text/html"


class JenkinsEmulator:
    """The emulated controller's state plus the HTTP server exposing it."""

    def __init__(self, user: str | None = None, api_token: str | None = None):
        self.user = user
        self.api_token = api_token
        self.folders: dict[str, str] = {}  # full name -> class
        self.jobs: dict[str, EmulatedJob] = {}
        self.faults: list[Fault] = []
        self.requests: list[str] = []
        self.stopping = threading.Event()  # cuts injected delays short when the emulator stops
        self.lock = threading.Lock()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # model edits (tests drive these) ----------------------------------------------------------
    def add_folder(self, full_name: str, folder_class: str = FOLDER) -> None:
        with self.lock:
            self.folders[full_name] = folder_class

    def add_job(self, full_name: str, job_class: str = PIPELINE) -> EmulatedJob:
        with self.lock:
            parts = full_name.split("/")
            for i in range(1, len(parts)):
                self.folders.setdefault("/".join(parts[:i]), FOLDER)
            return self.jobs.setdefault(full_name, EmulatedJob(full_name, job_class))

    def add_build(self, job_full_name: str, build: EmulatedBuild) -> EmulatedBuild:
        job = self.jobs.get(job_full_name) or self.add_job(job_full_name)
        with self.lock:
            job.builds[build.number] = build
        return build

    def delete_build(self, job_full_name: str, number: int) -> None:
        with self.lock:
            del self.jobs[job_full_name].builds[number]

    def fail(self, path_pattern: str, status: int, body: bytes = b"", times: int = 1_000_000, *,
             delay: float = 0.0, content_type: str = "text/html") -> None:
        """Answer requests whose path matches with ``status``/``body`` (``times`` times), after
        ``delay`` seconds (the headers too: a controller stuck on that job), as ``content_type``."""
        with self.lock:
            self.faults.append(Fault(re.compile(path_pattern), status, body, times, delay, content_type))

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    # JSON views, shaped like Jenkins' exported beans -------------------------------------------
    def job_url(self, full_name: str) -> str:
        from urllib.parse import quote

        return self.url + "".join(f"/job/{quote(p, safe='')}" for p in full_name.split("/")) + "/"

    def _item(self, full_name: str) -> dict[str, Any]:
        name = full_name.rsplit("/", 1)[-1]
        if full_name in self.folders:
            return {
                "_class": self.folders[full_name],
                "name": name,
                "fullName": full_name,
                "url": self.job_url(full_name),
                "jobs": [self._item(child) for child in self._children(full_name)],
            }
        return self._job_json(self.jobs[full_name])

    def _children(self, parent: str) -> list[str]:
        prefix = f"{parent}/" if parent else ""
        names = {n for n in [*self.folders, *self.jobs] if n.startswith(prefix) and "/" not in n[len(prefix):]}
        return sorted(names)

    def _build_json(self, job: EmulatedJob, build: EmulatedBuild) -> dict[str, Any]:
        url = f"{self.job_url(job.full_name)}{build.number}/"
        if build.recorded is not None:
            return {**build.recorded, "number": build.number, "url": url}
        changes = {"_class": "hudson.plugins.git.GitChangeSetList", "kind": "git", "items": build.changes}
        body: dict[str, Any] = {
            "_class": RUN_CLASS.get(job.job_class, RUN_CLASS[PIPELINE]),
            "actions": [
                {"_class": "hudson.model.CauseAction",
                 "causes": [{"_class": "hudson.triggers.SCMTrigger$SCMTriggerCause",
                             "shortDescription": "Started by an SCM change"}]},
                {},  # Jenkins lists actions with nothing exported as empty objects
                *build.git,
            ],
            "artifacts": [
                {"displayPath": Path(p).name, "fileName": Path(p).name, "relativePath": p} for p in build.artifacts
            ],
            "building": build.result is None,
            "displayName": f"#{build.number}",
            "duration": build.duration_ms if build.result is not None else 0,
            "fullDisplayName": f"{job.full_name.replace('/', ' » ')} #{build.number}",
            "id": str(build.number),
            "number": build.number,
            "result": build.result,
            "timestamp": build.timestamp_ms,
            "url": url,
        }
        if job.job_class == FREESTYLE:
            body["changeSet"] = changes
        elif build.change_sets:
            body["changeSets"] = [{**changes, "items": items} for items in build.change_sets if items]
        else:
            body["changeSets"] = [changes] if build.changes else []
        return body

    def _job_json(self, job: EmulatedJob) -> dict[str, Any]:
        ordered = [job.builds[n] for n in sorted(job.builds, reverse=True)]
        all_builds = [self._build_json(job, b) for b in ordered]
        return {
            "_class": job.job_class,
            "name": job.full_name.rsplit("/", 1)[-1],
            "fullName": job.full_name,
            "url": self.job_url(job.full_name),
            "builds": all_builds[:NEWEST_BUILDS],
            "allBuilds": all_builds,
        }

    def resolve(self, path: str) -> tuple[int, Any]:
        """(status, JSON body or bytes) for a request path, as the controller would answer."""
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        names: list[str] = []
        while len(parts) >= 2 and parts[0] == "job":
            names.append(parts[1])
            parts = parts[2:]
        full_name = "/".join(names)
        with self.lock:
            if not names:
                if parts == ["api", "json"]:
                    return 200, {
                        "_class": "hudson.model.Hudson",
                        "description": "c2c Jenkins emulator (not a real Jenkins controller)",
                        "jobs": [self._item(n) for n in self._children("")],
                    }
                return 404, None
            if full_name in self.folders and parts == ["api", "json"]:
                return 200, self._item(full_name)
            job = self.jobs.get(full_name)
            if job is None:
                return 404, None
            if parts == ["api", "json"]:
                return 200, self._job_json(job)
            if parts and parts[0].isdigit():
                build = job.builds.get(int(parts[0]))
                if build is None:
                    return 404, None
                if parts[1:] == ["api", "json"]:
                    return 200, self._build_json(job, build)
                if parts[1:] == ["consoleText"]:
                    return 200, build.console
                if len(parts) > 2 and parts[1] == "artifact":
                    content = build.artifacts.get("/".join(parts[2:]))
                    return (200, content) if content is not None else (404, None)
        return 404, None

    # lifecycle ------------------------------------------------------------------------------
    def start(self) -> "JenkinsEmulator":
        self.thread.start()
        return self

    def restart(self) -> "JenkinsEmulator":
        """Up again after ``stop`` on the same address with the same jobs: a controller restart."""
        self.stopping.clear()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        return self.start()

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def _handler_for(emulator: JenkinsEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

        def _send(self, status: int, body: bytes, content_type: str = "application/json;charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Jenkins-Emulator", "c2c (not a real Jenkins)")
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="Jenkins"')
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - stdlib signature
            split = urlsplit(self.path)
            emulator.requests.append(self.path)
            fault = None
            with emulator.lock:
                for i, candidate in enumerate(emulator.faults):
                    if candidate.pattern.search(split.path) and candidate.times > 0:
                        emulator.faults[i] = replace(candidate, times=candidate.times - 1)
                        fault = candidate
                        break
            if fault is not None:
                if fault.delay and emulator.stopping.wait(fault.delay):
                    return
                try:
                    self._send(fault.status, fault.body, fault.content_type)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: what a hung controller's client does
                return
            if emulator.user is not None:
                expected = base64.b64encode(f"{emulator.user}:{emulator.api_token}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    self._send(401, b"<html>Unauthorized</html>", "text/html")
                    return
            status, payload = emulator.resolve(split.path)
            if status != 200:
                self._send(status, b"<html>Not Found</html>", "text/html")
                return
            if isinstance(payload, bytes):
                self._send(200, payload, "application/octet-stream")
                return
            tree = parse_qs(split.query).get("tree", [None])[0]
            if tree:
                payload = apply_tree(payload, parse_tree(tree))
            else:
                payload = {k: v for k, v in payload.items() if k != "allBuilds"}  # hidden by default
            self._send(200, json.dumps(payload).encode())

    return Handler
