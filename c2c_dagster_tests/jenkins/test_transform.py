"""Jenkins build JSON + archived build-metadata.json -> ci-build-metadata document, rule by rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from c2c_core.builds import authors_of
from c2c_dagster.jenkins.transform import (
    build_document,
    built_commit,
    commits_from_change_sets,
    is_finished,
    repository_path,
    unreadable_build_document,
)
from c2c_dagster_tests.jenkins.recorded import libraries_action

NOW = datetime(2026, 2, 1, tzinfo=UTC)
SHA = "3606e8f26e051e93d8784ae87879c77845029b33"
SHA2 = "1111111111111111111111111111111111111111"
DIGEST = "sha256:a0243d98dd20494f723081c48fa5417bde51458f579718cdccdde03a740725f7"


def jenkins_build(result: str | None = "SUCCESS", **extra) -> dict:
    return {
        "_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun",
        "number": 67,
        "result": result,
        "building": result is None,
        "timestamp": 1769838318000,  # 2026-01-31T05:45:18Z
        "duration": 42000,
        "url": "https://jenkins.example/job/Node-JS/job/master/67/",
        "actions": [
            {"_class": "hudson.model.CauseAction", "causes": []},
            {},
            libraries_action([("shared-lib", "lib")]),
            {
                "_class": "hudson.plugins.git.util.BuildData",
                "lastBuiltRevision": {"SHA1": SHA2, "branch": [{"SHA1": SHA2, "name": "lib"}]},
                "remoteUrls": ["https://github.com/acme/shared-lib.git"],
            },
            {
                "_class": "hudson.plugins.git.util.BuildData",
                "lastBuiltRevision": {"SHA1": SHA, "branch": [{"SHA1": SHA, "name": "refs/remotes/origin/master"}]},
                "remoteUrls": ["https://github.com/acme/node-js.git"],
            },
        ],
        "changeSets": [
            {
                "_class": "hudson.plugins.git.GitChangeSetList",
                "kind": "git",
                "items": [
                    {"commitId": SHA, "author": {"fullName": "Narendra Sivangula"},
                     "authorEmail": "narendrakumarsivangula@gmail.com", "msg": "Update index.js"},
                ],
            }
        ],
        **extra,
    }


def artifact(**overrides) -> dict:
    doc = {
        "build_id": "Node-JS/master-67",
        "job_name": "Node-JS/master",
        "build_number": 67,
        "branch": "master",
        "image_name": "narendra115c/node-js",
        "image_tag": "node-js-master-67-3606e8f",
        "image_digest": DIGEST,
        "commits": [{"commit_id": SHA, "author": "Narendra Sivangula",
                     "email": "narendrakumarsivangula@gmail.com", "message": "Update index.js"}],
        "authors": ["Narendra Sivangula <narendrakumarsivangula@gmail.com>"],
        "build_status": "SUCCESS",
        "timestamp": "2026-01-31T05:45:18Z",
    }
    doc.update(overrides)
    return doc


def document(*args, **kwargs) -> dict:
    """The document as stored."""
    return build_document(*args, **kwargs).to_document()


def test_valid_artifact_gives_the_digest_and_jenkins_gives_the_result() -> None:
    doc = document("Node-JS/master", jenkins_build("UNSTABLE"), artifact(), ingested_at=NOW)
    assert doc["build_id"] == "Node-JS/master-67"
    assert doc["image_digest"] == DIGEST
    assert doc["image_tag"] == "node-js-master-67-3606e8f"
    assert doc["digest_missing"] is False
    assert doc["metadata_source"] == "artifact"
    # The artifact was written mid-build saying SUCCESS; Jenkins' final result wins.
    assert doc["build_status"] == "UNSTABLE"
    assert doc["timestamp"] == "2026-01-31T05:45:18Z"
    assert doc["authors"] == ["Narendra Sivangula <narendrakumarsivangula@gmail.com>"]
    assert doc["ingest_problems"] == []
    json.dumps(doc)  # storable as is


def test_no_artifact_records_commits_from_jenkins_and_flags_the_missing_digest() -> None:
    doc = document("Node-JS/master", jenkins_build(), None, ingested_at=NOW)
    assert "image_digest" not in doc
    assert doc["digest_missing"] is True
    assert doc["metadata_source"] == "jenkins"
    assert doc["commits"][0]["commit_id"] == SHA
    assert doc["ingest_problems"] == ["no build-metadata.json archived: image digest unknown"]
    # The shared library's checkout comes first; the built commit is the one checkout no library's.
    assert (doc["source_commit"], doc["source_commit_rule"]) == (SHA, "not_library")
    assert (doc["branch"], doc["repo_url"]) == ("master", "https://github.com/acme/node-js.git")
    # Jenkins exports no parent: the range starts at the oldest taken commit's parent, git's way.
    assert doc["commit_range"] == {"from": f"{SHA}^", "to": SHA}


def test_artifact_failing_the_schema_is_refused_with_the_reason_and_no_digest() -> None:
    doc = document("Node-JS/master", jenkins_build(), artifact(image_digest=""), ingested_at=NOW)
    assert "image_digest" not in doc
    assert doc["digest_missing"] is True
    assert "image_digest '' is not sha256:<64 hex>" in doc["ingest_problems"][0]


def test_artifact_of_another_build_is_not_trusted() -> None:
    doc = document("Node-JS/master", jenkins_build(), artifact(build_id="Node-JS/master-66"), ingested_at=NOW)
    assert doc["digest_missing"] is True
    assert "artifact is for build 'Node-JS/master-66'" in doc["ingest_problems"][0]


def test_unreadable_artifact_problem_is_kept() -> None:
    doc = document("j", jenkins_build(), None, artifact_problem="build-metadata.json is not valid JSON", ingested_at=NOW)
    assert doc["ingest_problems"] == ["build-metadata.json is not valid JSON"]
    assert doc["digest_missing"] is True


def test_freestyle_change_set_object_and_pipeline_change_set_list() -> None:
    freestyle = jenkins_build(changeSets=None)
    freestyle["changeSet"] = {"kind": "git", "items": [
        {"commitId": SHA2, "author": {"fullName": "Ada"}, "authorEmail": "ada@x.io", "msg": "a",
         "timestamp": 1769838318000},
        {"commitId": SHA, "author": {"fullName": "Bob"}, "authorEmail": "bob@x.io", "comment": "b\n",
         "timestamp": "not a number"},
        {"commitId": SHA2, "author": {"fullName": "Ada"}, "authorEmail": "ada@x.io", "msg": "a"},
    ]}
    commits = commits_from_change_sets(freestyle)
    assert [c.commit_id for c in commits] == [SHA2, SHA]
    assert commits[1].message == "b"
    # The git plugin's timestamp (epoch ms, the committer date by default) is the commit's time;
    # one Jenkins did not give usably is left out rather than guessed.
    assert commits[0].timestamp == "2026-01-31T05:45:18Z" and commits[1].timestamp is None
    assert authors_of(commits) == ["Ada <ada@x.io>", "Bob <bob@x.io>"]


def checkout(sha: str, remote: str, branch: str = "master") -> dict:
    ref = f"refs/remotes/origin/{branch}"
    return {"_class": "hudson.plugins.git.util.BuildData",
            "lastBuiltRevision": {"SHA1": sha, "branch": [{"SHA1": sha, "name": ref}]}, "remoteUrls": [remote]}


def rule_of(build: dict, **hints) -> tuple[str | None, str | None]:
    chosen = built_commit(build, **hints)
    return chosen.commit, chosen.rule


JENKINSFILE = checkout("9" * 40, "https://github.com/acme/pipelines.git")
APP = checkout(SHA, "git@github.com:acme/node-js.git", "release")


def test_a_jenkinsfile_repository_beside_the_application_is_not_told_apart_by_position_or_change_sets() -> None:
    # A Pipeline script from another repository, checked out with a full clone: two checkouts
    # Jenkins says nothing more of. Neither order nor the change sets make one the application's.
    for actions in ([JENKINSFILE, {}, APP], [APP, JENKINSFILE]):
        assert rule_of(jenkins_build(actions=actions)) == (None, "ambiguous")
        assert rule_of(jenkins_build(actions=actions, changeSets=[])) == (None, "ambiguous")
    quiet = jenkins_build(actions=[JENKINSFILE, APP], changeSets=[])
    # The metadata's repository, however written, or the image repository's name decides.
    assert rule_of(quiet, repo_url="https://GitHub.com/acme/node-js") == (SHA, "repository")
    assert rule_of(quiet, image_name="registry.example.com:5000/team/node-js:1.2") == (SHA, "repository")
    assert rule_of(jenkins_build(actions=[APP], changeSets=[])) == (SHA, "only_checkout")
    assert rule_of({"actions": [{}, {"_class": "x"}]}) == (None, None)
    doc = document("Node-JS/release", quiet, None, ingested_at=NOW)
    assert (doc.get("source_commit"), doc.get("repo_url"), doc["commits"], doc.get("commit_range")) == (
        None, None, [], None)
    assert any("cannot be told apart among 2 git checkouts" in p and "acme/pipelines.git master at 999999999999" in p
               for p in doc["ingest_problems"])


def test_the_document_records_the_rule_and_the_chosen_checkout_s_branch_and_remote() -> None:
    doc = document("Node-JS/release", jenkins_build(actions=[JENKINSFILE, APP], changeSets=[]),
                         artifact(image_digest="not-a-digest"), ingested_at=NOW)
    # The artifact fails the schema (no digest) but still names the image: the repository rule.
    assert doc["digest_missing"] is True
    assert (doc["source_commit"], doc["source_commit_rule"]) == (SHA, "repository")
    assert (doc["branch"], doc["repo_url"]) == ("release", "git@github.com:acme/node-js.git")
    # A first build or a rebuild took no commits: the range has no start.
    assert doc["commits"] == [] and doc["commit_range"] == {"from": None, "to": SHA}
    # A valid artifact naming its source commit is taken as is.
    pinned = document("Node-JS/master", jenkins_build(), artifact(source_commit=SHA), ingested_at=NOW)
    assert (pinned["source_commit"], pinned["source_commit_rule"]) == (SHA, "artifact")
    # A credential in a remote is not stored.
    secret = checkout(SHA, "https://bot:s3cr3t@git.example/acme/node-js.git")
    doc = document("Node-JS/master", jenkins_build(actions=[secret], changeSets=[]), None, ingested_at=NOW)
    assert doc["repo_url"] == "https://git.example/acme/node-js.git"


def test_repository_paths_compare_however_the_remote_is_written() -> None:
    assert repository_path("https://github.com/Acme/Node-JS.git/") == "github.com/acme/node-js"
    assert repository_path("git@github.com:acme/node-js.git") == "github.com/acme/node-js"
    assert repository_path("ssh://git@github.com:22/acme/node-js") == "github.com/acme/node-js"
    assert repository_path("https://user:token@git.example:8443/acme/node-js") == "git.example/acme/node-js"
    assert repository_path("") is None


def test_a_build_without_a_start_time_is_recorded_with_the_problem() -> None:
    doc = document("Node-JS/master", jenkins_build(timestamp=None), None, ingested_at=NOW)
    assert doc["timestamp"] is None
    assert any("no usable start time" in p and "first ci_builds partition" in p for p in doc["ingest_problems"])
    stub = unreadable_build_document("Node-JS/master", 68, "Jenkins answered 500", ingested_at=NOW).to_document()
    assert (stub["build_id"], stub["metadata_source"], stub["digest_missing"]) == ("Node-JS/master-68", "unreadable", True)


def test_finished() -> None:
    # Branch names have their own tests with c2c_core.builds.
    assert is_finished({"result": "ABORTED", "building": False})
    assert not is_finished({"result": None, "building": True})
