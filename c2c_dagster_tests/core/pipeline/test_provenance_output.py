"""``c2c-build-metadata --provenance`` on a real git history and Jenkins' environment: the in-toto
Statement v1 names the pushed digest, its SLSA v1 predicate the job, branch, repository (credential
removed) and the same commit the build-metadata document records as ``source_commit``, the Jenkins
job as builder and the build URL as invocation; ``--provenance-predicate`` is that predicate alone.
That cosign accepts both is proved against the real cosign in
``c2c_dagster_tests/provenance/test_cosign_registry.py``."""

from __future__ import annotations

import json
from pathlib import Path

from c2c_dagster_tests.core.pipeline.git_history import DIGEST, History, jenkins_env, write_digest
from c2c_dagster_tests.core.pipeline.test_build_metadata_cli import run


def test_statement_and_predicate_name_the_build(history: History, tmp_path: Path) -> None:
    env = jenkins_env(history, JOB_URL="https://jenkins.example.com/job/Node-JS/job/master/")
    done = run(["--image", "registry.example.com/node-js", "--digest-file", str(write_digest(tmp_path / "d")),
                "--output", "build-metadata.json", "--provenance", "provenance.json",
                "--provenance-predicate", "predicate.json", "--started-on", "1769800000000"], env,
               cwd=history.repo.path)
    assert done.returncode == 0, done.stderr
    doc = json.loads((history.repo.path / "build-metadata.json").read_text())
    statement = json.loads((history.repo.path / "provenance.json").read_text())
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    assert statement["subject"] == [{"name": "registry.example.com/node-js",
                                     "digest": {"sha256": DIGEST.removeprefix("sha256:")}}]
    predicate = statement["predicate"]
    definition, run_details = predicate["buildDefinition"], predicate["runDetails"]
    assert definition["buildType"] == "https://c2c.io/build-types/jenkins-image/v1"
    assert definition["externalParameters"] == {"job": "Node-JS/master", "branch": "master"}
    assert definition["resolvedDependencies"] == [
        {"uri": "git+https://github.com/narendra115c/node-js.git", "digest": {"gitCommit": history.merge}}]
    assert doc["source_commit"] == history.merge
    assert run_details["builder"] == {"id": "https://jenkins.example.com/job/Node-JS/job/master/"}
    metadata = run_details["metadata"]
    assert metadata["invocationId"] == "https://jenkins.example.com/job/Node-JS/job/master/67/"
    assert metadata["startedOn"] == "2026-01-30T19:06:40Z"  # 1769800000 s since the epoch
    assert metadata["finishedOn"] >= metadata["startedOn"]
    assert json.loads((history.repo.path / "predicate.json").read_text()) == predicate
    assert "ghp_secret" not in (history.repo.path / "provenance.json").read_text()


def test_builder_defaults_to_the_build_url_without_its_number(history: History, tmp_path: Path) -> None:
    done = run(["--image", "registry.example.com/node-js", "--digest-file", str(write_digest(tmp_path / "d")),
                "--output", "m.json", "--provenance", "p.json"], jenkins_env(history), cwd=history.repo.path)
    assert done.returncode == 0, done.stderr
    statement = json.loads((history.repo.path / "p.json").read_text())
    assert statement["predicate"]["runDetails"]["builder"]["id"] == "https://jenkins.example.com/job/Node-JS/job/master/"
    assert "startedOn" not in statement["predicate"]["runDetails"]["metadata"]


def test_no_builder_id_is_a_usage_error(history: History, tmp_path: Path) -> None:
    env = {k: v for k, v in jenkins_env(history).items() if k != "BUILD_URL"}
    done = run(["--image", "registry.example.com/node-js", "--digest-file", str(write_digest(tmp_path / "d")),
                "--output", "m.json", "--provenance", "p.json"], env, cwd=history.repo.path)
    assert done.returncode == 2 and "--job-url" in done.stderr
    assert not (history.repo.path / "p.json").exists()
