"""Build ids, branch names, commit ids, authors and image tags have one spelling, whichever
side (the pipeline tool or Jenkins ingestion) asks; which Jenkins results are failed builds is
Jenkins' own ordering of its results."""

from __future__ import annotations

import pytest

from c2c_core.builds import (
    FAILED_RESULTS,
    Commit,
    authors_of,
    branch_name,
    build_id,
    is_commit_id,
    is_failed_build,
    is_null_commit,
    safe_tag,
)
from c2c_core.pipeline.schema import BUILD_STATUSES

COMMIT = "3606e8f26e051e93d8784ae87879c77845029b33"


def test_build_id_is_job_name_dash_number() -> None:
    assert build_id("Node-JS/master", 67) == "Node-JS/master-67"
    assert build_id("org/repo/feature%2Fx", 3) == "org/repo/feature%2Fx-3"


@pytest.mark.parametrize(
    ("ref", "branch"),
    [
        ("origin/master", "master"),  # Jenkins' GIT_BRANCH
        ("origin/feature/x", "feature/x"),
        ("refs/remotes/origin/master", "master"),  # git plugin BuildData
        ("refs/remotes/origin/feature/x", "feature/x"),
        ("remotes/origin/feature", "feature"),  # where the two old helpers disagreed
        ("remotes/upstream/release/1.2", "release/1.2"),
        ("refs/heads/main", "main"),
        ("main", "main"),
        ("feature/x", "feature/x"),  # BRANCH_NAME of a multibranch job: no remote in it
        ("origin/", None),
        ("", None),
        (None, None),
    ],
)
def test_branch_names(ref: str | None, branch: str | None) -> None:
    assert branch_name(ref) == branch


def test_commit_ids() -> None:
    assert is_commit_id("3606e8f26e051e93d8784ae87879c77845029b33")
    assert is_commit_id("a" * 64)
    assert not is_commit_id("3606e8f") and not is_commit_id("A" * 40) and not is_commit_id(None)
    assert is_null_commit("0" * 40) and not is_null_commit("0" * 39 + "1") and not is_null_commit(None)


def test_authors_once_each_in_order_of_first_appearance() -> None:
    commits = [Commit("a" * 40, "Bob", "bob@x", "1"), Commit("b" * 40, "Ann", "ann@x", "2"),
               Commit("c" * 40, "Bob", "bob@x", "3"), Commit("d" * 40, "Bob", "bob@work", "4")]
    assert authors_of(commits) == ["Bob <bob@x>", "Ann <ann@x>", "Bob <bob@work>"]


# -- image tags ------------------------------------------------------------------------------------------


def test_tag_is_the_seeds_example() -> None:
    assert safe_tag("Node-JS/master", 67, COMMIT) == "node-js-master-67-3606e8f"
    assert build_id("Node-JS/master", 67) == "Node-JS/master-67"


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        ("Team Apps » api/feature%2Fx", "team-apps-api-feature-2fx-5-3606e8f"),  # folders, spaces, encoded branch
        ("a//b__c..d", "a-b__c..d-5-3606e8f"),  # runs of replaced chars collapse; _ and . are kept
        (".hidden", "hidden-5-3606e8f"),  # a tag must not start with '.'
        ("-dash-", "dash-5-3606e8f"),  # ... or '-'
        ("///", "5-3606e8f"),  # nothing usable left of the job name: number and commit remain
        ("ÄPFEL/Ünit", "pfel-nit-5-3606e8f"),  # non-ASCII is outside [a-z0-9_.-]
    ],
)
def test_tag_sanitises_the_job_name(job: str, expected: str) -> None:
    assert safe_tag(job, 5, COMMIT) == expected


def test_long_job_name_is_truncated_never_the_number_or_commit() -> None:
    tag = safe_tag("x" * 300, 123456, COMMIT.upper())
    assert len(tag) == 128
    assert tag.endswith("-123456-3606e8f")
    # Truncation that would end the job part in a separator drops the separator too.
    # 128 - len("-1-3606e8f") leaves 118 characters: the cut falls right after the '-'.
    tag = safe_tag("a" * 117 + "-" + "b" * 50, 1, COMMIT)
    assert tag == "a" * 117 + "-1-3606e8f"


@pytest.mark.parametrize(("number", "commit"), [(-1, COMMIT), (True, COMMIT), (1, "xyz"), (1, "abc")])
def test_tag_rejects_bad_number_or_commit(number: int, commit: str) -> None:
    with pytest.raises(ValueError):
        safe_tag("job", number, commit)


# Jenkins' hudson.model.Result, as core/src/main/java/hudson/model/Result.java declares them: each
# result's ordinal ("bigger numbers are worse"). Jenkins' lastSuccessfulBuild permalink takes a
# build whose result isBetterOrEqualTo(UNSTABLE), i.e. ordinal <= 1.
JENKINS_RESULT_ORDINALS = {"SUCCESS": 0, "UNSTABLE": 1, "FAILURE": 2, "NOT_BUILT": 3, "ABORTED": 4}


@pytest.mark.parametrize(("result", "ordinal"), sorted(JENKINS_RESULT_ORDINALS.items()))
def test_a_failed_build_is_one_jenkins_does_not_count_successful(result: str, ordinal: int) -> None:
    assert is_failed_build(result) is (ordinal > JENKINS_RESULT_ORDINALS["UNSTABLE"])


def test_unstable_is_not_a_failed_build_and_every_jenkins_result_is_decided() -> None:
    assert not is_failed_build("UNSTABLE")  # tests failed, the build ran to its end: not a failed build
    assert set(JENKINS_RESULT_ORDINALS) == set(BUILD_STATUSES)  # the results the schema accepts
    assert FAILED_RESULTS == {r for r, o in JENKINS_RESULT_ORDINALS.items() if o > JENKINS_RESULT_ORDINALS["UNSTABLE"]}


def test_no_known_result_is_not_a_failed_build() -> None:
    # A build Jenkins would not describe has no result: c2c does not call it failed.
    assert not is_failed_build(None)
    assert not is_failed_build("")
