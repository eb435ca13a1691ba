"""Which git checkout of a Jenkins build is the application's, on real recorded build answers
(payloads/, SOURCE notes beside them) and the variants derived from them (recorded.py says how):
every order of the checkouts, with and without change sets, a library-only change, pull requests,
branch jobs. The oracle is the recording itself: which repository each checkout is, read from its
remote, its branch and the job it belongs to."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime

import pytest

from c2c_dagster.jenkins.transform import build_document, built_commit
from c2c_dagster_tests.jenkins.recorded import (
    APP,
    APP_REMOTE,
    AUTOMATION_LIB,
    INFRA_LIB,
    MB_JOB,
    MB_LIBRARIES,
    SPEC_FILES,
    change_item,
    change_set,
    checkouts_of,
    libraries_action,
    recorded,
    reordered,
    with_branch_source_revision,
    with_change_sets,
    with_libraries,
)

NOW = datetime(2026, 2, 1, tzinfo=UTC)
APP_EARLIER = "5d2f0c1e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"
LIB_EARLIER = "0aa1bb2cc3dd4ee5ff60718293a4b5c6d7e8f901"
# Commits derived in the recorded items' shape: the application's two (the head is APP), the
# library's two (the head is the infra library's checked-out revision).
APP_CHANGES = change_set(
    change_item(APP_EARLIER, "Ada Dev", "ada@app.example", "Validate release specs", 1566500000000),
    change_item(APP, "Bob Dev", "bob@app.example", "Deploy the frontend in two steps", 1566580000000))
LIB_CHANGES = change_set(
    change_item(LIB_EARLIER, "Lib Maintainer", "maint@lib.example", "Retry registry pushes", 1566400000000),
    change_item(INFRA_LIB, "Lib Maintainer", "maint@lib.example", "Faster checkout", 1566401000000))


def doc_of(build: dict, job: str = MB_JOB, artifact: dict | None = None) -> dict:
    return build_document(job, build, artifact, ingested_at=NOW).to_document()


def the_branch_source_build() -> dict:
    """Build 721 as a current controller answers c2c's tree=: the revision and the libraries."""
    return with_libraries(with_branch_source_revision(recorded("multibranch-main-721"), APP, "main"), MB_LIBRARIES)


def test_the_recorded_multibranch_build_cannot_name_its_application_checkout_without_the_revision() -> None:
    for name in ("multibranch-main-721", "multibranch-main-720"):
        doc = doc_of(recorded(name))
        # Four checkouts, two on `main`, nothing from Jenkins to say which is the branch source's.
        assert doc["source_commit_rule"] == "ambiguous"
        assert "source_commit" not in doc and "repo_url" not in doc and "commit_range" not in doc
        assert (doc["commits"], doc["authors"]) == ([], [])
        assert any("cannot be told apart among 4 git checkouts" in p for p in doc["ingest_problems"])
        # The build is a branch job's (it has an SCMRevisionAction): the job's name is the branch.
        assert doc["branch"] == "main"
    # Jenkins' list of libraries alone still leaves the application at `main` beside the library
    # at `main` (and a `git` step's `origin/main`): one library recognised, three candidates.
    chosen = built_commit(with_libraries(recorded("multibranch-main-721"), MB_LIBRARIES))
    assert (chosen.commit, chosen.rule, len(chosen.libraries), len(chosen.candidates)) == (None, "ambiguous", 1, 3)


CHANGE_SETS = {
    "none (first build, rebuild)": ([], [], None),
    "recorded (a git step's repository; its merge head is not listed)": (None, [], None),
    "library only": ([LIB_CHANGES], [], None),
    "application only": ([APP_CHANGES], [APP_EARLIER, APP], f"{APP_EARLIER}^"),
    "library then application": ([LIB_CHANGES, APP_CHANGES], [APP_EARLIER, APP], f"{APP_EARLIER}^"),
    "application then library": ([APP_CHANGES, LIB_CHANGES], [APP_EARLIER, APP], f"{APP_EARLIER}^"),
}


@pytest.mark.parametrize("changes", list(CHANGE_SETS))
def test_every_order_of_the_checkouts_gives_the_branch_source_s_commit_and_only_its_authors(changes: str) -> None:
    sets, commits, range_from = CHANGE_SETS[changes]
    base = the_branch_source_build()
    if sets is not None:
        base = with_change_sets(base, sets)
    for order in itertools.permutations(range(4)):
        build = reordered(base, order)
        assert [c["lastBuiltRevision"]["SHA1"] for c in checkouts_of(build)] == [
            [INFRA_LIB, AUTOMATION_LIB, APP, SPEC_FILES][i] for i in order]
        doc = doc_of(build)
        assert (doc["source_commit"], doc["source_commit_rule"]) == (APP, "scm_revision"), order
        assert (doc["branch"], doc["repo_url"]) == ("main", APP_REMOTE)
        assert [c["commit_id"] for c in doc["commits"]] == commits
        # A library maintainer is never an author of the application's build.
        assert doc["authors"] == (["Ada Dev <ada@app.example>", "Bob Dev <bob@app.example>"] if commits else [])
        assert doc["commit_range"] == {"from": range_from, "to": APP}
        assert not any("told apart" in p for p in doc["ingest_problems"])


def test_pull_request_and_branch_revisions_as_ci_jenkins_io_answers_them() -> None:
    pr = doc_of({**recorded("scm-revision-bom-pr-22-5"), "number": 5}, job="Tools/bom/PR-22")
    assert (pr["source_commit"], pr["source_commit_rule"], pr["branch"]) == (
        "5055257e4d28adea76fc34fdde4e025347405bae", "scm_revision", "PR-22")
    # Derived: the same pull request built merged with its target, beside a library. The agent's
    # merge is the checkout's revision; its head name is the pull request's; the change set lists
    # the pull request's commits (the merge is not: `git log --no-merges`).
    merged, pull = "77" * 20, "5055257e4d28adea76fc34fdde4e025347405bae"
    lib, app = checkouts_of(recorded("multibranch-main-721"))[0:3:2]
    lib, app = copy.deepcopy(lib), copy.deepcopy(app)
    app["lastBuiltRevision"] = {"SHA1": merged, "branch": [{"SHA1": merged, "name": "PR-22"}]}
    bom = recorded("scm-revision-bom-pr-22-5")
    bom["actions"][0]["revision"]["head"] = {"_class": "org.jenkinsci.plugins.github_branch_source.PullRequestSCMHead",
                                             "name": "PR-22"}
    build = {"number": 5, "actions": [*bom["actions"], libraries_action(MB_LIBRARIES[:1]), lib, app],
             "changeSets": [LIB_CHANGES, change_set(change_item(pull, "Ada Dev", "ada@app.example", "Fix", 1))]}
    doc = doc_of(build, job="Tools/bom/PR-22")
    assert (doc["source_commit"], doc["branch"], doc["repo_url"]) == (pull, "PR-22", APP_REMOTE)
    assert (doc["authors"], doc["commit_range"]) == (["Ada Dev <ada@app.example>"], {"from": f"{pull}^", "to": pull})
    branch = doc_of({**recorded("scm-revision-structs-pr-36-3"), "number": 3}, job="structs-plugin/PR-36")
    assert (branch["source_commit"], branch["source_commit_rule"]) == ("abc131cc3bf56309a05b3fe8b086b265d14f2a61",
                                                                       "scm_revision")
    # A revision Jenkins gave without its hash (and BuildData with nothing asked of them): no
    # commit, but the branch job's own name, URL-decoded, is the branch.
    for job, branch_name in (("Core/jenkins/master", "master"), ("acme/app/feature%2Flogin", "feature/login"),
                             ("acme/app/release%2F2.x%25hot", "release/2.x%hot")):
        doc = doc_of({**recorded("scm-revision-core-master-888"), "number": 888}, job=job)
        assert ("source_commit" not in doc, doc["branch"]) == (True, branch_name)


def test_a_standalone_pipeline_s_checkouts_are_told_apart_only_by_what_jenkins_or_the_metadata_says() -> None:
    devportal = recorded("pipeline-devportal-3")
    job = "DCAPI/Jobs/DeploymentJobs/STAGE/DevPortal"
    doc = doc_of(devportal, job=job)
    # Not a branch job, no libraries listed: three repositories, none of them known as the built one.
    assert (doc["source_commit_rule"], doc.get("branch"), doc["commits"]) == ("ambiguous", None, [])
    # The libraries Jenkins lists leave one checkout: the `git` step's repository.
    libs = with_libraries(devportal, [("pipeline-automation-lib", "develop"),
                                      ("infra-jenkins-pipeline-libs", "develop")])
    doc = doc_of(libs, job=job)
    assert (doc["source_commit"], doc["source_commit_rule"], doc["branch"]) == (
        "10381198359a284010cfe18577e706e22937bb60", "not_library", "main")
    # One library listed at `develop` but two checkouts there: which is the library is unknown...
    one = with_libraries(devportal, [("infra-jenkins-pipeline-libs", "develop")])
    assert built_commit(one).rule == "ambiguous"
    # ... unless the (schema-failing) metadata names the repository it built.
    doc = doc_of(one, job=job, artifact={"repo_url": "https://gitrepository.dettonville.int/stash/scm/api/"
                                                     "pipeline-automation-lib"})
    assert (doc["source_commit"], doc["source_commit_rule"], doc["branch"]) == (
        "e40ea607d14509c4c2d317116f8c2f5162ed4363", "repository", "develop")


def test_libraries_pinned_to_a_commit_and_libraries_jenkins_took_from_its_cache() -> None:
    devportal = recorded("pipeline-devportal-3")
    # Pinned by an abbreviated commit: the checkout at that revision is the library's.
    pinned = with_libraries(devportal, [("infra-jenkins-pipeline-libs", INFRA_LIB[:10]),
                                        ("pipeline-automation-lib", "develop")])
    assert built_commit(pinned).commit == "10381198359a284010cfe18577e706e22937bb60"
    # A cached library leaves no checkout. The application on another branch is still the one left...
    app = checkouts_of(recorded("multibranch-main-721"))[2]
    alone = {"number": 9, "actions": [libraries_action([("cached-lib", "develop")]), app]}
    assert (built_commit(alone).commit, built_commit(alone).rule) == (APP, "not_library")
    # ... but on the version the cached library was asked for, the one checkout could be either.
    same = {"number": 9, "actions": [libraries_action([("cached-lib", "main")]), app]}
    doc = doc_of(same, job="acme/app")
    assert (doc["source_commit_rule"], doc.get("source_commit"), doc["commits"]) == ("ambiguous", None, [])
    assert any("at a version a listed library was asked for" in p for p in doc["ingest_problems"])
