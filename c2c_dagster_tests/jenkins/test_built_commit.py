"""A Pipeline that checks out its Jenkinsfile's repository before the application's: c2c records the
application commit it built (and which rule chose it), not the first checkout. Real git repositories,
the Jenkins emulator serving two BuildData actions in Jenkins' shape, the sensor and ci_builds into
both stores."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from c2c_dagster.jenkins.assets import ci_builds
from c2c_dagster.jenkins.resources import JenkinsResource
from c2c_dagster.jenkins.sensors import jenkins_build_sensor
from c2c_dagster.traceability.correlate import BuildIndex
from c2c_dagster_tests.jenkins.test_ci_builds_e2e import commit, git
from c2c_devstack.emulators.jenkins import EmulatedBuild, git_changes, git_checkout

JOB = "payments/ledger/release"
PIPELINES_REMOTE = "https://git.example/platform/pipelines.git"
APP_REMOTE = "git@git.example:payments/ledger.git"


def repo(path: Path) -> Path:
    path.mkdir()
    git(path, "init", "-q", "-b", "master")
    return path


def test_the_application_checkout_is_the_built_commit_not_the_jenkinsfile_s(
    tmp_path, jenkins_emulator, store, store_resource
) -> None:
    pipelines = repo(tmp_path / "pipelines")
    jenkinsfile = commit(pipelines, "Jenkinsfile", "pipeline { }\n", "Shared pipeline", "ada")
    app = repo(tmp_path / "ledger")
    first = commit(app, "ledger.py", "v1\n", "Ledger v1", "ada")
    second = commit(app, "ledger.py", "v2\n", "Idempotent postings", "bob")
    head = commit(app, "README.md", "docs\n", "Document postings", "ada")

    # Build 2 took the application's commits since build 1; the Jenkinsfile repo did not change.
    jenkins_emulator.add_build(JOB, EmulatedBuild(
        2, "SUCCESS", 1_769_838_318_000, changes=git_changes(app, first, head),
        git=[git_checkout(PIPELINES_REMOTE, jenkinsfile, branch="master", build_number=2),
             git_checkout(APP_REMOTE, head, branch="release", build_number=2, earlier={"master": (first, 1)})]))
    # Build 3 rebuilt the same commit: no change sets at all, still two checkouts.
    jenkins_emulator.add_build(JOB, EmulatedBuild(
        3, "SUCCESS", 1_769_841_918_000,
        git=[git_checkout(PIPELINES_REMOTE, jenkinsfile, branch="master", build_number=3),
             git_checkout(APP_REMOTE, head, branch="release", build_number=3)]))
    served = JenkinsResource(url=jenkins_emulator.url).build(JOB, 2)
    assert [a["remoteUrls"] for a in served["actions"] if a.get("_class", "").endswith("BuildData")] == [
        [PIPELINES_REMOTE], [APP_REMOTE]]

    resources = {"jenkins": JenkinsResource(url=jenkins_emulator.url), "store": store_resource}
    tick = jenkins_build_sensor(dg.build_sensor_context(resources=resources))
    (home := tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        for request in tick.run_requests:
            assert dg.materialize([ci_builds], instance=instance, partition_key=request.partition_key,
                                  run_config=request.run_config, resources=resources).success

    two, three = store.get("ci-build-metadata", f"{JOB}-2"), store.get("ci-build-metadata", f"{JOB}-3")
    assert (two["source_commit"], two["source_commit_rule"]) == (head, "change_set")
    assert (two["branch"], two["repo_url"]) == ("release", APP_REMOTE)
    assert [c["commit_id"] for c in two["commits"]] == [second, head]
    assert (three["source_commit"], three["source_commit_rule"]) == (head, "last_checkout")
    # The correlation indexes the builds under the application commits only.
    index = BuildIndex.of_documents(store.iter_all("ci-build-metadata"))
    assert jenkinsfile not in index.by_commit
    assert sorted(b.build_id for b in index.by_commit[head]) == [f"{JOB}-2", f"{JOB}-3"]
