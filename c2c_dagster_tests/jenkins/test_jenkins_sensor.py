"""jenkins_build_sensor against the Jenkins emulator: new builds once each, cursor kept on failure."""

from __future__ import annotations

import dagster as dg

import pytest

from c2c_dagster.jenkins.cursor import JenkinsCursor
from c2c_dagster.jenkins.resources import JenkinsResource
from c2c_dagster.jenkins.sensors import jenkins_build_sensor
from c2c_dagster.store import MetadataStoreResource
from c2c_dagster_tests.jenkins.data import add_build


@pytest.fixture
def store(tmp_path) -> MetadataStoreResource:
    """The store the sensor records ingest problems in: a real embedded (SQLite) store per test."""
    return MetadataStoreResource(embedded_path=str(tmp_path / "store.sqlite"))


@pytest.fixture
def instance(tmp_path):
    """The Dagster instance whose runs the sensor follows up (a run that failed is asked again)."""
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        yield instance


@pytest.fixture
def tick(instance):
    """One sensor evaluation on the test's instance: ``tick(url, cursor, store=...)``."""

    def evaluate(url: str, cursor: str | None = None, *, store: MetadataStoreResource, **jenkins):
        context = dg.build_sensor_context(
            cursor=cursor, instance=instance,
            resources={"jenkins": JenkinsResource(url=url, retries=0, **jenkins), "store": store})
        return jenkins_build_sensor(context), context

    return evaluate


@pytest.fixture
def launch(instance):
    """Run a tick's ci_builds runs as the daemon would (same tags, config and partition), so the
    next tick sees them succeed: ``launch(result, url, store)`` -> each run's success."""
    from c2c_dagster.jenkins.assets import ci_builds

    def run(result: dg.SensorResult, url: str, store: MetadataStoreResource) -> list[bool]:
        return [
            dg.materialize([ci_builds], instance=instance, partition_key=request.partition_key,
                           run_config=request.run_config, tags=request.tags, raise_on_error=False,
                           resources={"jenkins": JenkinsResource(url=url, retries=0), "store": store}).success
            for request in result.run_requests
        ]

    return run


def handed(result: dg.SensorResult) -> dict[str, list[str]]:
    return {
        request.partition_key: request.run_config["ops"]["ci_builds"]["config"]["builds"]
        for request in result.run_requests
    }


def test_finished_builds_are_handed_once_grouped_by_day_with_deterministic_run_keys(
    jenkins_emulator, store, tick, launch
) -> None:
    add_build(jenkins_emulator, "Node-JS/master", 1, at="2026-01-30T23:00:00Z")
    add_build(jenkins_emulator, "Node-JS/master", 2, at="2026-01-31T01:00:00Z", result="FAILURE")
    add_build(jenkins_emulator, "Node-JS/master", 3, at="2026-01-31T02:00:00Z", result=None)  # running

    first, _ = tick(jenkins_emulator.url, store=store)
    assert handed(first) == {"2026-01-30": ["Node-JS/master#1"], "2026-01-31": ["Node-JS/master#2"]}
    keys = [r.run_key for r in first.run_requests]
    assert all(key.startswith("ci_builds:2026-01-3") for key in keys)
    # The same state evaluated from the same cursor gives the same run keys (no duplicate runs).
    again, _ = tick(jenkins_emulator.url, store=store)
    assert [r.run_key for r in again.run_requests] == keys

    # Next tick (the runs done): nothing new until build 3 finishes; then exactly build 3.
    assert launch(first, jenkins_emulator.url, store) == [True, True]
    quiet, _ = tick(jenkins_emulator.url, first.cursor, store=store)
    assert quiet.run_requests == [] and "no newly finished builds" in quiet.skip_reason.skip_message
    jenkins_emulator.jobs["Node-JS/master"].builds[3].result = "SUCCESS"
    third, _ = tick(jenkins_emulator.url, quiet.cursor, store=store)
    assert handed(third) == {"2026-01-31": ["Node-JS/master#3"]}
    assert JenkinsCursor.loads(third.cursor).jobs["Node-JS/master"].done_through == 3


def test_a_new_job_is_picked_up(jenkins_emulator, store, tick, launch) -> None:
    add_build(jenkins_emulator, "app", 1, at="2026-01-31T01:00:00Z")
    first, _ = tick(jenkins_emulator.url, store=store)
    launch(first, jenkins_emulator.url, store)
    jenkins_emulator.add_folder("team")
    add_build(jenkins_emulator, "team/new-service", 1, at="2026-01-31T02:00:00Z")
    second, _ = tick(jenkins_emulator.url, first.cursor, store=store)
    assert handed(second) == {"2026-01-31": ["team/new-service#1"]}


def test_unreachable_jenkins_skips_naming_the_url_and_keeps_the_cursor(
    jenkins_emulator, store, tick, launch
) -> None:
    add_build(jenkins_emulator, "app", 1, at="2026-01-31T01:00:00Z")
    first, _ = tick(jenkins_emulator.url, store=store)
    launch(first, jenkins_emulator.url, store)
    add_build(jenkins_emulator, "app", 2, at="2026-01-31T02:00:00Z")
    jenkins_emulator.fail(r"^/api/json$", 503, b"<html>maintenance</html>")

    skipped, context = tick(jenkins_emulator.url, first.cursor, store=store)
    assert isinstance(skipped, dg.SkipReason)
    assert jenkins_emulator.url in skipped.skip_message
    assert "503" in skipped.skip_message and "cursor unchanged" in skipped.skip_message
    assert context.cursor == first.cursor  # nothing advanced, nothing lost

    jenkins_emulator.clear_faults()
    recovered, _ = tick(jenkins_emulator.url, context.cursor, store=store)
    assert handed(recovered) == {"2026-01-31": ["app#2"]}


def test_a_large_burst_is_split_into_bounded_runs(jenkins_emulator, store, tick) -> None:
    for n in range(1, 100):
        add_build(jenkins_emulator, "a", n, at="2026-01-31T01:00:00Z")
        add_build(jenkins_emulator, "b", n, at="2026-01-31T01:00:00Z")
        add_build(jenkins_emulator, "c", n, at="2026-01-31T01:00:00Z")
    result, _ = tick(jenkins_emulator.url, store=store)
    sizes = [len(r.run_config["ops"]["ci_builds"]["config"]["builds"]) for r in result.run_requests]
    assert sizes == [200, 97]
    assert len({r.run_key for r in result.run_requests}) == 2


def daemon_tick(url: str, cursor: str | None, store: MetadataStoreResource, instance: dg.DagsterInstance, **jenkins):
    """Evaluate the sensor as the daemon does: its run requests resolved against the code location
    (a partition key the asset does not have fails here, as it fails the daemon's tick)."""
    from c2c_dagster.definitions import defs

    context = dg.build_sensor_context(
        cursor=cursor, instance=instance, definitions=defs,
        resources={"jenkins": JenkinsResource(url=url, retries=0, **jenkins), "store": store})
    return jenkins_build_sensor.evaluate_tick(context)


def problems(store: MetadataStoreResource) -> dict[str, dict]:
    return {d["problem_id"]: d for d in store.get_store().find("ingest-problems", "source", "jenkins")}


def test_builds_of_any_age_are_handed_over_and_the_oldest_land_in_the_first_partition(
    jenkins_emulator, store, tmp_path
) -> None:
    from c2c_dagster.jenkins.assets import ci_builds
    from c2c_devstack.emulators.jenkins import EmulatedBuild

    add_build(jenkins_emulator, "legacy/app", 1, at="2008-03-01T10:00:00Z")  # Hudson days
    add_build(jenkins_emulator, "legacy/app", 2, at="2019-05-01T10:00:00Z")
    jenkins_emulator.add_build("legacy/app", EmulatedBuild(3, "SUCCESS", None))  # no start time reported
    add_build(jenkins_emulator, "legacy/app", 4, at="2026-01-31T10:00:00Z")

    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        data = daemon_tick(jenkins_emulator.url, None, store, instance)
        assert {r.partition_key: r.run_config["ops"]["ci_builds"]["config"]["builds"] for r in data.run_requests} == {
            "2010-01-01": ["legacy/app#1", "legacy/app#3"],  # the first partition: before it, or undated
            "2019-05-01": ["legacy/app#2"],
            "2026-01-31": ["legacy/app#4"],
        }
        assert JenkinsCursor.loads(data.cursor).jobs["legacy/app"].done_through == 4

        # The runs the daemon would launch ingest every build, the oldest included.
        for request in data.run_requests:
            result = dg.materialize([ci_builds], instance=instance, partition_key=request.partition_key,
                                    run_config=request.run_config,
                                    resources={"jenkins": JenkinsResource(url=jenkins_emulator.url), "store": store})
            assert result.success
        db = store.get_store()
        assert db.get("ci-build-metadata", "legacy/app-1")["timestamp"] == "2008-03-01T10:00:00Z"
        undated = db.get("ci-build-metadata", "legacy/app-3")
        assert undated["timestamp"] is None and any("no usable start time" in p for p in undated["ingest_problems"])
        assert db.count("ci-build-metadata") == 4

        # A backfill of the first partition reads every older (and undated) build too, nothing newer.
        fresh = MetadataStoreResource(embedded_path=str(tmp_path / "backfill.sqlite"))
        dg.materialize([ci_builds], instance=instance, partition_key="2010-01-01",
                       resources={"jenkins": JenkinsResource(url=jenkins_emulator.url), "store": fresh})
        assert sorted(d["build_id"] for d in fresh.get_store().iter_all("ci-build-metadata")) == [
            "legacy/app-1", "legacy/app-3"]


def test_one_bad_job_is_recorded_and_skipped_while_the_others_go_through(
    jenkins_emulator, store, tick, launch
) -> None:
    for job in ("shop/web", "shop/api", "broken", "garbled"):
        add_build(jenkins_emulator, job, 1, at="2026-01-31T01:00:00Z")
    jenkins_emulator.fail(r"^/job/broken/api/json$", 500, b"<html>NullPointerException</html>")
    jenkins_emulator.fail(r"^/job/garbled/api/json$", 200, b"<html>proxy login</html>")

    first, context = tick(jenkins_emulator.url, store=store)
    assert handed(first) == {"2026-01-31": ["shop/api#1", "shop/web#1"]}
    cursor = JenkinsCursor.loads(first.cursor)
    assert set(cursor.jobs) == {"shop/api", "shop/web"}  # the bad jobs keep no cursor: read again next tick
    recorded = problems(store)
    assert set(recorded) == {"jenkins/job_unreadable/broken", "jenkins/job_unreadable/garbled"}
    assert "500" in recorded["jenkins/job_unreadable/broken"]["reason"]
    assert "malformed JSON" in recorded["jenkins/job_unreadable/garbled"]["reason"]
    assert all(d["open"] for d in recorded.values())
    assert launch(first, jenkins_emulator.url, store) == [True]

    # Still broken next tick: the same documents, last_seen moved on; then Jenkins recovers.
    second, _ = tick(jenkins_emulator.url, first.cursor, store=store)
    assert second.run_requests == [] and len(problems(store)) == 2
    jenkins_emulator.clear_faults()
    third, _ = tick(jenkins_emulator.url, second.cursor, store=store)
    assert handed(third) == {"2026-01-31": ["broken#1", "garbled#1"]}
    assert [(d["open"], bool(d.get("resolved_at"))) for d in problems(store).values()] == [(False, True)] * 2
    assert JenkinsCursor.loads(third.cursor).open_problems == set()


def test_folders_beyond_the_depth_bound_are_recorded_not_dropped(jenkins_emulator, store, tick) -> None:
    add_build(jenkins_emulator, "a/b/c/d/deep-job", 1, at="2026-01-31T01:00:00Z")
    add_build(jenkins_emulator, "a/shallow", 1, at="2026-01-31T01:00:00Z")
    result, _ = tick(jenkins_emulator.url, store=store, max_folder_depth=2)
    assert handed(result) == {"2026-01-31": ["a/shallow#1"]}
    recorded = problems(store)
    assert list(recorded) == ["jenkins/folder_beyond_depth/a/b/c"]
    assert "C2C_JENKINS_MAX_FOLDER_DEPTH" in recorded["jenkins/folder_beyond_depth/a/b/c"]["reason"]


def test_the_first_partition_day_is_configurable_and_a_bad_value_is_named() -> None:
    from c2c_dagster.definitions import build_definitions
    from c2c_dagster.jenkins.partitions import history_start
    from c2c_dagster.settings import Settings

    configured = build_definitions(Settings.from_env({"C2C_JENKINS_HISTORY_START": "2004-07-01"}))
    partitions = configured.resolve_assets_def("ci_builds").partitions_def
    assert partitions.get_first_partition_key() == "2004-07-01"
    assert history_start({}) == "2010-01-01"
    with pytest.raises(ValueError, match="C2C_JENKINS_HISTORY_START='2019/01/01': want a day in YYYY-MM-DD"):
        history_start({"C2C_JENKINS_HISTORY_START": "2019/01/01"})
