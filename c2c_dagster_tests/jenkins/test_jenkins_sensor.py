"""jenkins_build_sensor against the Jenkins emulator: new builds once each, cursor kept on failure."""

from __future__ import annotations

import dagster as dg

from c2c_dagster.jenkins.cursor import JenkinsCursor
from c2c_dagster.jenkins.resources import JenkinsResource
from c2c_dagster.jenkins.sensors import jenkins_build_sensor
from c2c_dagster_tests.jenkins.data import add_build


def tick(url: str, cursor: str | None = None):
    context = dg.build_sensor_context(cursor=cursor, resources={"jenkins": JenkinsResource(url=url, retries=0)})
    return jenkins_build_sensor(context), context


def handed(result: dg.SensorResult) -> dict[str, list[str]]:
    return {
        request.partition_key: request.run_config["ops"]["ci_builds"]["config"]["builds"]
        for request in result.run_requests
    }


def test_finished_builds_are_handed_once_grouped_by_day_with_deterministic_run_keys(jenkins_emulator) -> None:
    add_build(jenkins_emulator, "Node-JS/master", 1, at="2026-01-30T23:00:00Z")
    add_build(jenkins_emulator, "Node-JS/master", 2, at="2026-01-31T01:00:00Z", result="FAILURE")
    add_build(jenkins_emulator, "Node-JS/master", 3, at="2026-01-31T02:00:00Z", result=None)  # running

    first, _ = tick(jenkins_emulator.url)
    assert handed(first) == {"2026-01-30": ["Node-JS/master#1"], "2026-01-31": ["Node-JS/master#2"]}
    keys = [r.run_key for r in first.run_requests]
    assert all(key.startswith("ci_builds:2026-01-3") for key in keys)
    # The same state evaluated from the same cursor gives the same run keys (no duplicate runs).
    again, _ = tick(jenkins_emulator.url)
    assert [r.run_key for r in again.run_requests] == keys

    # Next tick: nothing new until build 3 finishes; then exactly build 3.
    quiet, _ = tick(jenkins_emulator.url, first.cursor)
    assert quiet.run_requests == [] and "no newly finished builds" in quiet.skip_reason.skip_message
    jenkins_emulator.jobs["Node-JS/master"].builds[3].result = "SUCCESS"
    third, _ = tick(jenkins_emulator.url, quiet.cursor)
    assert handed(third) == {"2026-01-31": ["Node-JS/master#3"]}
    assert JenkinsCursor.loads(third.cursor).jobs["Node-JS/master"].done_through == 3


def test_a_new_job_is_picked_up(jenkins_emulator) -> None:
    add_build(jenkins_emulator, "app", 1, at="2026-01-31T01:00:00Z")
    first, _ = tick(jenkins_emulator.url)
    jenkins_emulator.add_folder("team")
    add_build(jenkins_emulator, "team/new-service", 1, at="2026-01-31T02:00:00Z")
    second, _ = tick(jenkins_emulator.url, first.cursor)
    assert handed(second) == {"2026-01-31": ["team/new-service#1"]}


def test_unreachable_jenkins_skips_naming_the_url_and_keeps_the_cursor(jenkins_emulator) -> None:
    add_build(jenkins_emulator, "app", 1, at="2026-01-31T01:00:00Z")
    first, _ = tick(jenkins_emulator.url)
    add_build(jenkins_emulator, "app", 2, at="2026-01-31T02:00:00Z")
    jenkins_emulator.fail(r"^/api/json$", 503, b"<html>maintenance</html>")

    skipped, context = tick(jenkins_emulator.url, first.cursor)
    assert isinstance(skipped, dg.SkipReason)
    assert jenkins_emulator.url in skipped.skip_message
    assert "503" in skipped.skip_message and "cursor unchanged" in skipped.skip_message
    assert context.cursor == first.cursor  # nothing advanced, nothing lost

    jenkins_emulator.clear_faults()
    recovered, _ = tick(jenkins_emulator.url, context.cursor)
    assert handed(recovered) == {"2026-01-31": ["app#2"]}


def test_a_large_burst_is_split_into_bounded_runs(jenkins_emulator) -> None:
    for n in range(1, 100):
        add_build(jenkins_emulator, "a", n, at="2026-01-31T01:00:00Z")
        add_build(jenkins_emulator, "b", n, at="2026-01-31T01:00:00Z")
        add_build(jenkins_emulator, "c", n, at="2026-01-31T01:00:00Z")
    result, _ = tick(jenkins_emulator.url)
    sizes = [len(r.run_config["ops"]["ci_builds"]["config"]["builds"]) for r in result.run_requests]
    assert sizes == [200, 97]
    assert len({r.run_key for r in result.run_requests}) == 2
