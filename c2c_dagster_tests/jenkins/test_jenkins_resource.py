"""JenkinsResource against the Jenkins emulator: folders, multibranch, history paging, errors."""

from __future__ import annotations

import json

import pytest

from c2c_dagster.jenkins.resources import JenkinsError, JenkinsResource
from c2c_devstack.emulators.jenkins import FREESTYLE, MULTIBRANCH
from c2c_dagster_tests.jenkins.data import add_build


def test_jobs_in_folders_and_multibranch_projects(jenkins_emulator) -> None:
    jenkins_emulator.add_folder("team", "com.cloudbees.hudson.plugins.folder.Folder")
    jenkins_emulator.add_folder("team/Node-JS", MULTIBRANCH)
    jenkins_emulator.add_job("team/Node-JS/master")
    jenkins_emulator.add_job("team/Node-JS/feature%2Flogin")  # branch feature/login, as Jenkins names it
    jenkins_emulator.add_job("legacy", FREESTYLE)
    add_build(jenkins_emulator, "team/Node-JS/feature%2Flogin", 3, at="2026-01-31T05:00:00Z")
    jenkins = JenkinsResource(url=jenkins_emulator.url)

    jobs = {job.full_name: job.job_class for job in jenkins.list_jobs().jobs}
    assert jobs == {
        "legacy": FREESTYLE,
        "team/Node-JS/feature%2Flogin": "org.jenkinsci.plugins.workflow.job.WorkflowJob",
        "team/Node-JS/master": "org.jenkinsci.plugins.workflow.job.WorkflowJob",
    }
    # The branch name is encoded again in the path: /job/feature%252Flogin/.
    build = jenkins.build("team/Node-JS/feature%2Flogin", 3)
    assert build["number"] == 3
    assert "/job/team/job/Node-JS/job/feature%252Flogin/3/" in build["url"]
    assert any("/job/feature%252Flogin/3/api/json" in path for path in jenkins_emulator.requests)


def test_builds_is_capped_at_100_and_all_builds_pages_through_history(jenkins_emulator) -> None:
    for n in range(1, 251):
        add_build(jenkins_emulator, "app", n, at=f"2026-01-{1 + n // 10:02d}T00:00:00Z")
    jenkins = JenkinsResource(url=jenkins_emulator.url)
    recent = jenkins.recent_builds("app")
    assert [b["number"] for b in recent][:2] == [250, 249]
    assert len(recent) == 100
    page = jenkins.build_history("app", 200, 300)
    assert [b["number"] for b in page] == list(range(50, 0, -1))
    assert any("allBuilds" in path and "%7B200%2C300%7D" in path for path in jenkins_emulator.requests)


def test_deleted_build_and_job_are_none_not_errors(jenkins_emulator) -> None:
    add_build(jenkins_emulator, "app", 1, at="2026-01-31T05:00:00Z")
    jenkins = JenkinsResource(url=jenkins_emulator.url)
    jenkins_emulator.delete_build("app", 1)
    assert jenkins.build("app", 1) is None
    assert jenkins.recent_builds("no-such-job") is None
    assert jenkins.artifact("app", 1, "build-metadata.json") is None


def test_401_names_the_credentials_to_check(jenkins_emulator) -> None:
    jenkins_emulator.user, jenkins_emulator.api_token = "c2c", "right-token"
    with pytest.raises(JenkinsError, match="401.*C2C_JENKINS_USER and C2C_JENKINS_API_TOKEN"):
        JenkinsResource(url=jenkins_emulator.url, user="c2c", api_token="wrong").list_jobs()
    assert JenkinsResource(url=jenkins_emulator.url, user="c2c", api_token="right-token").list_jobs().jobs == []


def test_a_transient_500_is_retried_and_a_persistent_one_is_named(jenkins_emulator) -> None:
    add_build(jenkins_emulator, "app", 1, at="2026-01-31T05:00:00Z")
    jenkins_emulator.fail(r"^/api/json$", 500, b"<html>boom</html>", times=2)
    jenkins = JenkinsResource(url=jenkins_emulator.url, retries=3)
    assert [job.full_name for job in jenkins.list_jobs().jobs] == ["app"]

    jenkins_emulator.fail(r"^/api/json$", 500, b"<html>boom</html>")
    with pytest.raises(JenkinsError, match=r"answered 500 for http://127\.0\.0\.1:\d+/api/json"):
        JenkinsResource(url=jenkins_emulator.url, retries=1).list_jobs()


def test_malformed_json_names_the_url(jenkins_emulator) -> None:
    jenkins_emulator.fail(r"^/api/json$", 200, b"<html>login page</html>")
    with pytest.raises(JenkinsError, match="malformed JSON for http://127.0.0.1:.*is C2C_JENKINS_URL a Jenkins"):
        JenkinsResource(url=jenkins_emulator.url).list_jobs()


def test_unreachable_jenkins_names_the_url() -> None:
    from c2c_devstack.services import free_port

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(JenkinsError, match=f"Jenkins at {url} unreachable"):
        JenkinsResource(url=url, retries=0, connect_timeout_seconds=1).list_jobs()


def test_job_trees_of_any_depth_are_listed_and_a_depth_bound_is_reported(jenkins_emulator) -> None:
    # An organization folder -> team folders -> multibranch project -> branch jobs, eight levels down.
    deep = "acme/platform/payments/services/ledger/api/Node-JS"
    jenkins_emulator.add_folder(deep, MULTIBRANCH)
    for job in (f"{deep}/master", f"{deep}/feature%2Fledger-v2", "acme/platform/tools/lint", "top"):
        jenkins_emulator.add_job(job)
    jenkins_emulator.add_folder("acme/empty")
    expected = ["acme/platform/payments/services/ledger/api/Node-JS/feature%2Fledger-v2",
                "acme/platform/payments/services/ledger/api/Node-JS/master", "acme/platform/tools/lint", "top"]

    listing = JenkinsResource(url=jenkins_emulator.url).list_jobs()
    assert [job.full_name for job in listing.jobs] == expected
    # Three levels per request; a folder at the third level with children gets its own (payments,
    # tools, then api below payments): four requests for eight levels.
    assert listing.complete and listing.requests == 4
    assert all("%7B0%2C1%7D" in path for path in jenkins_emulator.requests if "tree=" in path)  # the children marker

    # A bound: jobs inside at most three folders. What lies deeper is named, not dropped silently.
    bounded = JenkinsResource(url=jenkins_emulator.url, max_folder_depth=3).list_jobs()
    assert [job.full_name for job in bounded.jobs] == ["acme/platform/tools/lint", "top"]
    assert bounded.beyond_depth == ["acme/platform/payments/services"] and not bounded.complete


def test_a_folder_that_cannot_be_read_is_reported_and_the_rest_of_the_tree_listed(jenkins_emulator) -> None:
    for job in ("a/b/c/d/one", "a/b/f/two", "x/y/z/w/three"):
        jenkins_emulator.add_job(job)
    # a/b/c is at the third level: read by a request of its own, which fails.
    jenkins_emulator.fail(r"^/job/a/job/b/job/c/api/json$", 500, b"<html>boom</html>")
    listing = JenkinsResource(url=jenkins_emulator.url, retries=0).list_jobs()
    assert [job.full_name for job in listing.jobs] == ["a/b/f/two", "x/y/z/w/three"]
    assert list(listing.unreadable_folders) == ["a/b/c"] and "500" in listing.unreadable_folders["a/b/c"]


def test_json_is_read_from_bytes_and_every_hostile_form_is_a_value_error() -> None:
    import sys

    from c2c_dagster.jenkins.resources import MAX_JSON_DEPTH, load_json, nested_deeper_than

    data = {"builds": [{"number": 1, "result": "SUCCESS", "msg": "café"}]}
    for encoded in (json.dumps(data).encode(), json.dumps(data).encode("utf-8-sig"), json.dumps(data).encode("utf-16"),
                    json.dumps(data, ensure_ascii=False).encode("utf-32")):
        assert load_json(encoded, "x") == data
    nested = b"[" * 100_000 + b"]" * 100_000
    assert 100_000 > sys.getrecursionlimit()
    for bad, says in [(nested, "nested too deeply"), (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
                                                      f"deeper than {MAX_JSON_DEPTH}"),
                      (json.dumps(data, ensure_ascii=False).encode("latin-1"), "not UTF-8"),
                      (b"<html>", "not valid JSON")]:
        with pytest.raises(ValueError, match=says):
            load_json(bad, "x")
    assert not nested_deeper_than([[1]], 2) and nested_deeper_than([[[1]]], 2)
