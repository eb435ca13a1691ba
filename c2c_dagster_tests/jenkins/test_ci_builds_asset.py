"""ci_builds runs on a real Dagster instance against the Jenkins emulator and the embedded store."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from c2c_dagster.jenkins.assets import ci_builds
from c2c_dagster.jenkins.resources import JenkinsResource
from c2c_dagster.store import EmbeddedStore, MetadataStoreResource
from c2c_dagster_tests.jenkins.data import add_build, digest_of, metadata_artifact

DAY = "2026-01-31"


@pytest.fixture
def instance(tmp_path: Path):
    (tmp_path / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as instance:
        yield instance


def run(emulator, store_path: Path, instance, *, builds: list[str] | None = None, partition: str = DAY,
        raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [ci_builds],
        partition_key=partition,
        instance=instance,
        resources={
            "jenkins": JenkinsResource(url=emulator.url, retries=1),
            "store": MetadataStoreResource(embedded_path=str(store_path)),
        },
        run_config={"ops": {"ci_builds": {"config": {"builds": builds or []}}}},
        raise_on_error=raise_on_error,
    )


def metadata(result: dg.ExecuteInProcessResult) -> dict:
    materialization = result.asset_materializations_for_node("ci_builds")[0]
    return {key: value.value for key, value in materialization.metadata.items()}


def test_partition_run_ingests_every_finished_build_of_that_day_and_reruns_do_not_duplicate(
    jenkins_emulator, tmp_path, instance
) -> None:
    job = "Node-JS/master"
    for n, at in enumerate(["2026-01-30T23:59:59Z", "2026-01-31T00:00:00Z", "2026-01-31T12:00:00Z",
                            "2026-01-31T23:59:59Z", "2026-02-01T00:00:00Z"], start=1):
        add_build(jenkins_emulator, job, n, at=at, artifact=metadata_artifact(job, n, digest_of(str(n)), at=at))
    add_build(jenkins_emulator, job, 6, at="2026-01-31T13:00:00Z", result=None)  # still running
    add_build(jenkins_emulator, "other", 1, at="2026-01-31T08:00:00Z", result="FAILURE")
    store_path = tmp_path / "store.sqlite"

    first = run(jenkins_emulator, store_path, instance)
    store = EmbeddedStore(store_path)
    ids = sorted(doc["build_id"] for doc in store.iter_all("ci-build-metadata"))
    assert ids == ["Node-JS/master-2", "Node-JS/master-3", "Node-JS/master-4", "other-1"]
    assert metadata(first)["builds_written"] == 4
    assert metadata(first)["failed"] == 1
    assert metadata(first)["missing_digests"] == 1  # other-1 archived no metadata
    assert store.get("ci-build-metadata", "Node-JS/master-3")["image_digest"] == digest_of("3")

    run(jenkins_emulator, store_path, instance)
    assert store.count("ci-build-metadata") == 4


def test_sensor_handed_run_fetches_exactly_those_builds(jenkins_emulator, tmp_path, instance) -> None:
    for n in range(1, 30):
        at = f"2026-01-31T10:{n:02d}:00Z"
        add_build(jenkins_emulator, "app", n, at=at, artifact=metadata_artifact("app", n, digest_of(str(n)), at=at))
    jenkins_emulator.requests.clear()
    run(jenkins_emulator, tmp_path / "s.sqlite", instance, builds=["app#28", "app#29"])
    assert sorted(d["build_id"] for d in EmbeddedStore(tmp_path / "s.sqlite").iter_all("ci-build-metadata")) == [
        "app-28", "app-29"]
    # No listing of jobs or history: the run reads just the two builds (and their artifacts).
    assert not any(path.startswith("/api/json") or "allBuilds" in path for path in jenkins_emulator.requests)
    assert len(jenkins_emulator.requests) == 4


def test_bad_inputs_are_recorded_flagged_and_counted(jenkins_emulator, tmp_path, instance) -> None:
    at = "2026-01-31T10:00:00Z"
    add_build(jenkins_emulator, "app", 1, at=at, artifact=b"{not json")
    add_build(jenkins_emulator, "app", 2, at=at)  # no artifact archived
    bad = metadata_artifact("app", 3, digest_of("3"), at=at)
    del bad["commits"]
    add_build(jenkins_emulator, "app", 3, at=at, artifact=bad)
    add_build(jenkins_emulator, "app", 4, at=at, result="UNSTABLE", artifact=metadata_artifact("app", 4, digest_of("4"), at=at))
    add_build(jenkins_emulator, "app", 5, at=at, result="ABORTED")
    add_build(jenkins_emulator, "app", 6, at=at, result="NOT_BUILT")
    add_build(jenkins_emulator, "app", 7, at=at)
    jenkins_emulator.delete_build("app", 7)  # deleted between listing (the sensor's) and fetching

    result = run(jenkins_emulator, tmp_path / "s.sqlite", instance, builds=[f"app#{n}" for n in range(1, 8)])
    meta = metadata(result)
    assert meta["builds_written"] == 6
    assert (meta["unstable"], meta["aborted"], meta["not_built"]) == (1, 1, 1)
    assert meta["missing_digests"] == 5
    assert meta["invalid_artifacts"] == 2
    assert meta["builds_gone"] == 1
    store = EmbeddedStore(tmp_path / "s.sqlite")
    assert "not valid JSON" in store.get("ci-build-metadata", "app-1")["ingest_problems"][0]
    assert "missing field 'commits'" in store.get("ci-build-metadata", "app-3")["ingest_problems"][0]
    assert store.get("ci-build-metadata", "app-4")["image_digest"] == digest_of("4")
    assert store.get("ci-build-metadata", "app-4")["build_status"] == "UNSTABLE"
    assert store.get("ci-build-metadata", "app-7") is None


def test_jenkins_refusing_credentials_fails_the_run_with_the_fix_and_writes_nothing(
    jenkins_emulator, tmp_path, instance
) -> None:
    add_build(jenkins_emulator, "app", 1, at="2026-01-31T10:00:00Z")
    jenkins_emulator.user, jenkins_emulator.api_token = "c2c", "secret"
    result = run(jenkins_emulator, tmp_path / "s.sqlite", instance, raise_on_error=False)
    assert not result.success
    failure = result.failure_data_for_node("ci_builds")
    assert "C2C_JENKINS_USER" in failure.error.cause.message if failure.error.cause else failure.error.message
    assert EmbeddedStore(tmp_path / "s.sqlite").count("ci-build-metadata") == 0


def test_one_build_jenkins_cannot_describe_is_recorded_and_the_others_land(jenkins_emulator, tmp_path, instance) -> None:
    at = "2026-01-31T10:00:00Z"
    for n in (1, 2, 3):
        add_build(jenkins_emulator, "app", n, at=at, artifact=metadata_artifact("app", n, digest_of(str(n)), at=at))
    store_path = tmp_path / "s.sqlite"
    run(jenkins_emulator, store_path, instance, builds=["app#1"])  # build 1 recorded fully earlier

    # Now Jenkins fails on builds 1 and 2 (a broken build.xml answers 500), and on build 3's artifact.
    jenkins_emulator.fail(r"^/job/app/(1|2)/api/json$", 500, b"<html>ConversionException</html>")
    jenkins_emulator.fail(r"^/job/app/3/artifact/", 503, b"<html>busy</html>")
    result = run(jenkins_emulator, store_path, instance, builds=["app#1", "app#2", "app#3"])
    assert result.success
    meta = metadata(result)
    assert meta["builds_unreadable"] == 2 and "500" in meta["builds_unreadable_reasons"]["app-2"]
    store = EmbeddedStore(store_path)
    # Build 2 is on record with the reason; build 1's earlier, complete document is kept, not wiped.
    two = store.get("ci-build-metadata", "app-2")
    assert (two["metadata_source"], two["digest_missing"]) == ("unreadable", True)
    assert "500" in two["ingest_problems"][0]
    assert store.get("ci-build-metadata", "app-1")["image_digest"] == digest_of("1")
    # Build 3 itself was readable: recorded, its digest unknown because the artifact was not.
    three = store.get("ci-build-metadata", "app-3")
    assert three["digest_missing"] is True and "could not be fetched" in three["ingest_problems"][0]
