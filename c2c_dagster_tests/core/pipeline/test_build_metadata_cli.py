"""The installed ``c2c-build-metadata`` script against real git repositories: the commits of a range
with a merge and multi-line messages, Jenkins' environment as the only input, explicit options as
other CI systems pass them, ``--print-tag``, and the exit codes and messages when input is missing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from c2c_core.pipeline.build_metadata import FIELD_ORDER
from c2c_core.pipeline.schema import schema_errors
from c2c_dagster_tests.core.pipeline.git_history import (
    ANN,
    BOB,
    DIGEST,
    MULTILINE,
    History,
    jenkins_env,
    write_digest,
)
from c2c_devstack.services import free_port

SCRIPT = Path(sys.executable).parent / "c2c-build-metadata"
OTHER = "sha256:" + "b" * 64


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    assert SCRIPT.exists(), f"{SCRIPT} missing: run `uv sync --extra test` to install the console script"
    return subprocess.run([str(SCRIPT), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def committed_at(history: History, commit: str) -> str:
    """What git says the commit's committer date is, as c2c writes times."""
    seconds = int(history.repo.git("log", "-1", "--format=%ct", commit))
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_jenkins_environment_alone_gives_the_range_with_the_merge(history: History, tmp_path: Path) -> None:
    digest_file = write_digest(tmp_path / "digest")
    env = jenkins_env(history, GIT_PREVIOUS_SUCCESSFUL_COMMIT=history.initial)
    done = run(
        ["--image", "narendra115c/node-js", "--digest-file", str(digest_file), "--output", "build-metadata.json"],
        env,
        cwd=history.repo.path,  # a Jenkinsfile step runs in the workspace: --repo defaults to it
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads((history.repo.path / "build-metadata.json").read_text())
    assert schema_errors(doc) == []
    assert tuple(doc) == FIELD_ORDER

    short = history.merge[:7]
    assert doc["build_id"] == "Node-JS/master-67"
    assert (doc["job_name"], doc["build_number"], doc["branch"]) == ("Node-JS/master", 67, "master")
    assert (doc["image_name"], doc["image_tag"], doc["image_digest"]) == (
        "narendra115c/node-js",
        f"node-js-master-67-{short}",
        DIGEST,
    )
    # Exactly git's previous..HEAD: the merge, both feature commits it brings, master's own commits.
    ids = [c["commit_id"] for c in doc["commits"]]
    assert ids == history.repo.rev_list(f"{history.initial}..{history.merge}")
    assert set(ids) == {history.merge, history.master_tip, *history.feature, history.multiline}
    assert history.initial not in ids
    by_id = {c["commit_id"]: c for c in doc["commits"]}
    assert by_id[history.multiline] == {
        "commit_id": history.multiline,
        "author": BOB[0],
        "email": BOB[1],
        "message": MULTILINE,  # the full message, newlines, tabs and pipes intact
        "timestamp": committed_at(history, history.multiline),
    }
    # Every commit carries its committer date, in UTC: where its lead time starts.
    assert all(c["timestamp"] == committed_at(history, c["commit_id"]) for c in doc["commits"])
    assert by_id[history.merge]["message"] == "Merge branch 'feature'"
    # Two people, each once, in the order they first appear in the log (the merge is newest: Bob).
    assert doc["authors"] == [f"{BOB[0]} <{BOB[1]}>", f"{ANN[0]} <{ANN[1]}>"]
    assert doc["build_status"] == "SUCCESS"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["timestamp"])
    assert doc["repo_url"] == "https://github.com/narendra115c/node-js.git"  # the token is not archived
    assert doc["build_url"] == "https://jenkins.example.com/job/Node-JS/job/master/67/"
    assert doc["commit_range"] == {"from": history.initial, "to": history.merge}
    assert doc["platform_digests"] == []
    assert doc["source_commit"] == history.merge
    assert "wrote build-metadata.json" in done.stdout and done.stderr == ""
    # Only the document: the temp file of the atomic write is gone.
    assert sorted(p.name for p in history.repo.path.glob("*build-metadata*")) == ["build-metadata.json"]


def test_first_build_records_head_alone(history: History, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    done = run(
        ["--repo", str(history.repo.path), "--image", "narendra115c/node-js",
         "--digest-file", str(write_digest(tmp_path / "d")), "--output", str(out)],
        jenkins_env(history),  # Jenkins sets no GIT_PREVIOUS_SUCCESSFUL_COMMIT on a job's first build
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert [c["commit_id"] for c in doc["commits"]] == [history.merge]
    assert doc["authors"] == [f"{BOB[0]} <{BOB[1]}>"]
    assert doc["commit_range"] == {"from": None, "to": history.merge}


def test_previous_commit_lost_to_a_force_push_falls_back_with_a_warning(history: History, tmp_path: Path) -> None:
    # A commit that was pushed, built, then force-pushed away and garbage-collected.
    gone = history.repo.commit("Pushed then force-pushed away")
    history.repo.git("reset", "-q", "--hard", history.merge)
    history.repo.git("reflog", "expire", "--expire=now", "--all")
    history.repo.git("gc", "-q", "--prune=now")
    gone_check = subprocess.run(["git", "cat-file", "-e", f"{gone}^{{commit}}"], cwd=history.repo.path,
                                env=history.repo.env, capture_output=True)
    assert gone_check.returncode != 0, "the force-pushed commit should be gone from the repository"
    out = tmp_path / "out.json"
    done = run(
        ["--repo", str(history.repo.path), "--image", "narendra115c/node-js",
         "--digest-file", str(write_digest(tmp_path / "d")), "--output", str(out)],
        jenkins_env(history, GIT_PREVIOUS_SUCCESSFUL_COMMIT=gone),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert f"previous commit {gone} is not in the repository" in done.stderr
    assert "warning" in done.stderr
    doc = json.loads(out.read_text())
    assert [c["commit_id"] for c in doc["commits"]] == [history.merge]
    assert doc["commit_range"] == {"from": None, "to": history.merge}


def test_print_tag_prints_the_tag_and_writes_nothing(history: History, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    done = run(["--print-tag", "--output", str(out)], jenkins_env(history), cwd=history.repo.path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"node-js-master-67-{history.merge[:7]}\n"
    assert not out.exists()
    # --tag overrides, for pipelines with their own scheme.
    done = run(["--print-tag", "--tag", "v1.2.3"], jenkins_env(history), cwd=history.repo.path)
    assert (done.returncode, done.stdout) == (0, "v1.2.3\n")


def test_explicit_options_work_without_jenkins(history: History, tmp_path: Path) -> None:
    """GitHub Actions / GitLab CI style: no Jenkins variables, every value an option, an older commit built."""
    names = tmp_path / "image-name-with-digest"
    names.write_text(f"ghcr.io/acme/other:1@{OTHER}\nghcr.io/acme/node-js:build-12@{DIGEST}\n")
    out = tmp_path / "meta" / "out.json"
    out.parent.mkdir()
    done = run(
        [
            "--repo", str(history.repo.path), "--image", "ghcr.io/acme/node-js", "--tag", "build-12",
            "--image-name-with-digest-file", str(names),
            "--job-name", "acme/node-js CI", "--build-number", "12", "--commit", history.master_tip,
            "--previous-commit", history.initial, "--branch", "main", "--status", "unstable",
            "--repo-url", "https://github.com/acme/node-js", "--build-url", "https://ci.example/run/12",
            "--output", str(out),
        ],
        history.repo.env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert schema_errors(doc) == []
    assert (doc["build_id"], doc["image_tag"], doc["image_digest"]) == ("acme/node-js CI-12", "build-12", DIGEST)
    assert (doc["branch"], doc["build_status"], doc["source_commit"]) == ("main", "UNSTABLE", history.master_tip)
    # The commit built, not the checkout's HEAD: the feature branch is not in initial..master_tip.
    assert [c["commit_id"] for c in doc["commits"]] == [history.master_tip, history.multiline]
    assert doc["commit_range"] == {"from": history.initial, "to": history.master_tip}


def test_all_zero_previous_commit_means_a_new_branch(history: History, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    done = run(
        ["--repo", str(history.repo.path), "--image", "a/b", "--digest-file", str(write_digest(tmp_path / "d")),
         "--previous-commit", "0" * 40, "--output", str(out)],
        jenkins_env(history),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # GitLab's "before" of a new branch is not an error
    assert [c["commit_id"] for c in json.loads(out.read_text())["commits"]] == [history.merge]


def test_missing_build_info_exits_2_naming_option_and_variable(history: History, tmp_path: Path) -> None:
    args = ["--image", "a/b", "--digest-file", str(write_digest(tmp_path / "d")), "--output", "o.json"]
    env = {k: v for k, v in jenkins_env(history).items() if k not in ("JOB_NAME", "BUILD_NUMBER")}
    done = run(args, env, cwd=history.repo.path)
    assert done.returncode == 2
    for name in ("--job-name", "JOB_NAME", "--build-number", "BUILD_NUMBER"):
        assert name in done.stderr
    assert not (history.repo.path / "o.json").exists()

    done = run(args, jenkins_env(history, BUILD_NUMBER="67a"), cwd=history.repo.path)
    assert done.returncode == 2 and "--build-number / BUILD_NUMBER" in done.stderr

    done = run(["--image", "a/b:tag", "--digest-file", "d", "--output", "o.json"], jenkins_env(history),
               cwd=history.repo.path)
    assert done.returncode == 2 and "without tag" in done.stderr

    done = run(args, jenkins_env(history), cwd=tmp_path)  # not a git checkout
    assert done.returncode == 2 and "is not a commit in the repository" in done.stderr

    done = run(["--image", "a/b", "--output", "o.json"], jenkins_env(history), cwd=history.repo.path)
    assert done.returncode == 2 and "no digest source" in done.stderr


def test_no_digest_exits_3_naming_every_source_and_why(history: History, tmp_path: Path) -> None:
    malformed = tmp_path / "malformed-digest"
    malformed.write_text("sha256:12345")
    names = tmp_path / "names"
    names.write_text(f"index.docker.io/someone/else:1@{DIGEST}\n")
    log = tmp_path / "kaniko.log"
    log.write_text("INFO[0001] error pushing image: failed to push to destination: UNAUTHORIZED\n")
    buildx = tmp_path / "metadata.json"
    buildx.write_text("{truncated")
    registry = f"127.0.0.1:{free_port()}"  # nothing listens there
    out = tmp_path / "out.json"
    done = run(
        [
            "--repo", str(history.repo.path), "--image", f"{registry}/c2c/app",
            "--digest-file", str(tmp_path / "missing"), "--digest-file", str(malformed),
            "--image-name-with-digest-file", str(names), "--kaniko-log", str(log), "--buildx-metadata", str(buildx),
            "--resolve-digest", "--insecure-registry", "--output", str(out),
        ],
        jenkins_env(history),
        cwd=tmp_path,
    )
    assert done.returncode == 3, done.stderr
    assert not out.exists()
    lines = done.stderr.splitlines()
    assert "no image digest" in lines[0] and "nothing written" in lines[0]
    reasons = [line.removeprefix("  - ") for line in lines[1:]]
    assert len(reasons) == 6
    assert reasons[0] == f"--digest-file {tmp_path / 'missing'}: file not found"
    assert reasons[1].startswith(f"--digest-file {malformed}: 'sha256:12345' is not a digest")
    assert reasons[2].startswith(f"--image-name-with-digest-file {names}: no line for {registry}/c2c/app")
    assert reasons[3].startswith(f"--kaniko-log {log}: no 'Pushed <image>@sha256:<digest>' line")
    assert reasons[4].startswith(f"--buildx-metadata {buildx}: not JSON")
    assert reasons[5].startswith(f"--resolve-digest {registry}/c2c/app:node-js-master-67-")
    assert f"registry {registry} unreachable" in reasons[5]


def test_sources_are_tried_in_command_line_order(history: History, tmp_path: Path) -> None:
    malformed = tmp_path / "malformed"
    malformed.write_text("not-a-digest\n")
    log = tmp_path / "kaniko.log"
    log.write_text(f"INFO[0014] Pushed index.docker.io/narendra115c/node-js@{DIGEST}\n")
    other = write_digest(tmp_path / "other", OTHER)
    out = tmp_path / "out.json"
    done = run(
        ["--repo", str(history.repo.path), "--image", "narendra115c/node-js", "--digest-file", str(malformed),
         "--kaniko-log", str(log), "--digest-file", str(other), "--output", str(out)],
        jenkins_env(history),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["image_digest"] == DIGEST  # the Kaniko log came before `other`
    assert f"warning: skipped --digest-file {malformed}: 'not-a-digest' is not a digest" in done.stderr
    assert f"(from --kaniko-log {log})" in done.stdout
