"""The built commit through the real ingest path: the Jenkins *emulator* (Jenkins cannot be
installed here) serves real recorded build answers (payloads/, SOURCE notes beside them) and
variants derived from them (recorded.py says how), and builds of real git repositories in Jenkins'
BuildData/LibrariesAction shapes; jenkins_build_sensor and ci_builds write them into both real
stores (embedded SQLite, OpenSearch). A shared library's commit is never the build's, its
committers never the build's authors, and a build whose application checkout Jenkins does not
name keeps no guessed commit."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from c2c_dagster.jenkins.assets import ci_builds
from c2c_dagster.jenkins.resources import JenkinsResource
from c2c_dagster.jenkins.sensors import jenkins_build_sensor
from c2c_dagster.traceability.correlate import BuildIndex
from c2c_dagster_tests.jenkins.recorded import (
    APP,
    APP_REMOTE,
    INFRA_LIB,
    MB_JOB,
    MB_LIBRARIES,
    libraries_action,
    recorded,
    reordered,
    with_branch_source_revision,
    with_change_sets,
    with_libraries,
)
from c2c_dagster_tests.jenkins.test_checkout_rules import APP_CHANGES, APP_EARLIER, LIB_CHANGES, LIB_EARLIER
from c2c_dagster_tests.jenkins.test_ci_builds_e2e import commit, git
from c2c_devstack.emulators.jenkins import MULTIBRANCH, EmulatedBuild, git_changes, git_checkout

FEATURE_JOB = "DCAPI/DeploymentJobs/DeployFrontendStage/feature%2Flogin"


def ingest(tmp_path: Path, jenkins_emulator, store_resource) -> None:
    """One sensor tick and the runs it requests, as the daemon would."""
    resources = {"jenkins": JenkinsResource(url=jenkins_emulator.url), "store": store_resource}
    tick = jenkins_build_sensor(dg.build_sensor_context(resources=resources))
    assert tick.run_requests
    (home := tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        for request in tick.run_requests:
            assert dg.materialize([ci_builds], instance=instance, partition_key=request.partition_key,
                                  run_config=request.run_config, resources=resources).success


def test_recorded_multibranch_builds_keep_the_branch_source_s_commit_in_every_checkout_order(
    tmp_path, jenkins_emulator, store, store_resource
) -> None:
    jenkins_emulator.add_folder("DCAPI/DeploymentJobs/DeployFrontendStage", MULTIBRANCH)
    current = with_libraries(with_branch_source_revision(recorded("multibranch-main-721"), APP, "main"), MB_LIBRARIES)
    builds = {
        720: recorded("multibranch-main-720"),  # as recorded: no change sets
        721: recorded("multibranch-main-721"),  # as recorded: a `git` step's merge, listed by no checkout
        722: with_change_sets(reordered(current, (3, 2, 1, 0)), [LIB_CHANGES]),  # only the library changed
        723: with_change_sets(reordered(current, (2, 0, 3, 1)), [APP_CHANGES, LIB_CHANGES]),
        724: with_change_sets(reordered(current, (1, 3, 0, 2)), [LIB_CHANGES, APP_CHANGES]),
    }
    for number, body in builds.items():
        jenkins_emulator.add_build(MB_JOB, EmulatedBuild(number, body["result"], body["timestamp"], recorded=body))
    jenkins_emulator.add_build(FEATURE_JOB, EmulatedBuild(1, "SUCCESS", 1566584575431,
                                                          recorded=recorded("multibranch-main-721")))
    # c2c's tree= query reads what Jenkins says of the checkouts: the libraries and the revision.
    served = JenkinsResource(url=jenkins_emulator.url).build(MB_JOB, 723)
    assert [a["libraries"] for a in served["actions"] if "libraries" in a] == [
        [{"name": n, "version": v} for n, v in MB_LIBRARIES]]
    assert [a["revision"] for a in served["actions"] if "revision" in a] == [
        {"_class": "jenkins.plugins.git.AbstractGitSCMSource$SCMRevisionImpl", "hash": APP,
         "head": {"_class": "jenkins.plugins.git.GitBranchSCMHead", "name": "main"}}]

    ingest(tmp_path, jenkins_emulator, store_resource)

    docs = {n: store.get("ci-build-metadata", f"{MB_JOB}-{n}") for n in builds}
    for n in (720, 721):
        assert (docs[n]["source_commit_rule"], docs[n].get("source_commit"), docs[n]["branch"]) == (
            "ambiguous", None, "main")
        assert docs[n]["commits"] == [] and any("cannot be told apart" in p for p in docs[n]["ingest_problems"])
    for n in (722, 723, 724):
        assert (docs[n]["source_commit"], docs[n]["source_commit_rule"]) == (APP, "scm_revision")
        assert (docs[n]["branch"], docs[n]["repo_url"]) == ("main", APP_REMOTE)
    assert (docs[722]["commits"], docs[722]["authors"]) == ([], [])
    assert docs[722]["commit_range"] == {"from": None, "to": APP}
    for n in (723, 724):
        assert [c["commit_id"] for c in docs[n]["commits"]] == [APP_EARLIER, APP]
        assert docs[n]["authors"] == ["Ada Dev <ada@app.example>", "Bob Dev <bob@app.example>"]
        assert docs[n]["commit_range"] == {"from": f"{APP_EARLIER}^", "to": APP}
    feature = store.get("ci-build-metadata", f"{FEATURE_JOB}-1")
    assert feature["branch"] == "feature/login"
    # The correlation finds these builds by the application's commits, never the library's.
    index = BuildIndex.of_documents(store.iter_all("ci-build-metadata"))
    assert INFRA_LIB not in index.by_commit and LIB_EARLIER not in index.by_commit
    assert sorted(b.build_id for b in index.by_commit[APP]) == [f"{MB_JOB}-{n}" for n in (722, 723, 724)]


def repo(path: Path) -> Path:
    path.mkdir()
    git(path, "init", "-q", "-b", "master")
    return path


def test_a_pipeline_with_a_shared_library_in_either_order_records_the_application_alone(
    tmp_path, jenkins_emulator, store, store_resource
) -> None:
    job, lib_remote, app_remote = "payments/ledger", "https://git.example/platform/jenkins-lib.git", \
        "git@git.example:payments/ledger.git"
    lib = repo(tmp_path / "jenkins-lib")
    lib1 = commit(lib, "build.groovy", "def call() {}\n", "Build step", "ada")
    app = repo(tmp_path / "ledger")
    app1 = commit(app, "ledger.py", "v1\n", "Ledger v1", "ada")
    # The library is asked for at `main` (@Library('jenkins-lib@main')), the application builds `release`.
    libraries = libraries_action([("jenkins-lib", "main")])

    def checkouts(lib_head: str, app_head: str, number: int, *, library_first: bool) -> list[dict]:
        # In Jenkins' order: a library named in @Library is checked out when the Jenkinsfile is
        # compiled, before `checkout scm`; one loaded by the `library` step, wherever it runs.
        pair = [git_checkout(lib_remote, lib_head, branch="main", build_number=number),
                git_checkout(app_remote, app_head, branch="release", build_number=number)]
        return [libraries, *(pair if library_first else pair[::-1])]

    jenkins_emulator.add_build(job, EmulatedBuild(  # the first build: no change sets at all
        1, "SUCCESS", 1_769_838_318_000, git=checkouts(lib1, app1, 1, library_first=True)))
    lib2 = commit(lib, "build.groovy", "def call() { sh 'make' }\n", "Make it build", "bob")
    jenkins_emulator.add_build(job, EmulatedBuild(  # only the library changed
        2, "SUCCESS", 1_769_841_918_000, changes=git_changes(lib, lib1, lib2),
        git=checkouts(lib2, app1, 2, library_first=True)))
    app2 = commit(app, "ledger.py", "v2\n", "Idempotent postings", "bob")
    app3 = commit(app, "README.md", "docs\n", "Document postings", "ada")
    lib3 = commit(lib, "build.groovy", "def call() { sh 'make all' }\n", "Build all", "bob")
    # Both changed, the library loaded after the checkout: one change set per checkout, in order.
    both = [git_changes(app, app1, app3), git_changes(lib, lib2, lib3)]
    jenkins_emulator.add_build(job, EmulatedBuild(3, "SUCCESS", 1_769_845_518_000, change_sets=both,
                                                  git=checkouts(lib3, app3, 3, library_first=False)))
    # A Jenkinsfile kept in another repository and cloned: no library, two checkouts Jenkins says
    # nothing more of. Neither is presented as the built one.
    pipelines_remote = "https://git.example/platform/pipelines.git"
    jenkins_emulator.add_build(job, EmulatedBuild(4, "SUCCESS", 1_769_849_118_000, git=[
        git_checkout(pipelines_remote, lib3, build_number=4), git_checkout(app_remote, app3, branch="release",
                                                                         build_number=4)]))

    ingest(tmp_path, jenkins_emulator, store_resource)

    one, two, three, four = (store.get("ci-build-metadata", f"{job}-{n}") for n in (1, 2, 3, 4))
    for doc, head in ((one, app1), (two, app1), (three, app3)):
        assert (doc["source_commit"], doc["source_commit_rule"]) == (head, "not_library")
        assert (doc["branch"], doc["repo_url"]) == ("release", app_remote)
    assert (one["commits"], one["commit_range"]) == ([], {"from": None, "to": app1})
    # The library's change is not the application's: no commits, no authors (Bob changed the library).
    assert (two["commits"], two["authors"]) == ([], [])
    assert [c["commit_id"] for c in three["commits"]] == [app2, app3]
    assert three["authors"] == ["Bob Kahn <bob@example.com>", "Ada Lovelace <ada@example.com>"]
    assert three["commit_range"] == {"from": f"{app2}^", "to": app3}
    assert (four["source_commit_rule"], four.get("source_commit"), four["commits"]) == ("ambiguous", None, [])
    index = BuildIndex.of_documents(store.iter_all("ci-build-metadata"))
    assert not {lib1, lib2, lib3} & set(index.by_commit)
    assert sorted(b.build_id for b in index.by_commit[app3]) == [f"{job}-3"]
