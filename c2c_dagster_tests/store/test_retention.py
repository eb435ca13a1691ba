"""Retention: the job, its schedule and ``c2c store prune`` delete only history older than the
cutoff (closed versions, stopped records, old ingest problems), on the embedded store and the
real OpenSearch node; open versions, running records, builds and release events stay."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from c2c_core.timeutil import iso_utc
from c2c_dagster.store import MetadataStore
from c2c_dagster.store.retention_job import store_retention_job, store_retention_schedule
from c2c_dagster.store.retention import apply_retention, cutoff_for, retention_days_from_env

NOW = datetime.now(UTC).replace(microsecond=0)
OLD, RECENT = NOW - timedelta(days=400), NOW - timedelta(days=10)


def version(name: str, *, first: datetime, until: datetime | None) -> dict[str, Any]:
    doc = {"doc_id": f"prod/pod/shop/{name}@{iso_utc(first)}", "doc_type": "pod", "cluster": "prod",
           "namespace": "shop", "snapshot_time": iso_utc(first), "first_seen": iso_utc(first),
           "last_seen": iso_utc(until or NOW)}
    if until:
        doc["until"] = iso_utc(until)
    else:
        doc["current"] = "prod"
    return doc


def record(name: str, *, running: bool, updated: datetime) -> dict[str, Any]:
    return {"record_id": f"prod/shop/Deployment/{name}/app/sha256:{name[0] * 64}", "cluster": "prod",
            "running": running, "updated_at": iso_utc(updated), "first_seen": iso_utc(OLD)}


def fill(store: MetadataStore) -> None:
    store.upsert("deployment-metadata", [
        version("closed-long-ago", first=OLD - timedelta(days=5), until=OLD),
        version("closed-lately", first=OLD, until=RECENT),
        version("open-since-long-ago", first=OLD, until=None),  # still running: kept however old
    ])
    store.upsert("traceability-metadata", [
        record("stopped-long-ago", running=False, updated=OLD),
        record("stopped-lately", running=False, updated=RECENT),
        record("running-unchanged", running=True, updated=OLD),  # never deleted while running
    ])
    store.upsert("ingest-problems", [
        {"problem_id": "jenkins/old", "last_seen": iso_utc(OLD)},
        {"problem_id": "jenkins/new", "last_seen": iso_utc(RECENT)},
    ])
    store.upsert("release-events", [{"event_id": "prod/shop/web/old", "at": iso_utc(OLD)}])
    store.upsert("ci-build-metadata", [{"build_id": "shop/web/main-1", "timestamp": iso_utc(OLD)}])


def versions(store: MetadataStore) -> list[str]:
    """The pods whose versions the store holds (``prod/pod/shop/<name>@<first_seen>``)."""
    return sorted(doc["doc_id"].split("/")[3].split("@")[0] for doc in store.iter_all("deployment-metadata"))


def test_retention_deletes_only_the_past_and_a_second_pass_nothing(store: MetadataStore) -> None:
    fill(store)
    assert apply_retention(store, cutoff_for(365, NOW)) == {
        "deployment-metadata": 1, "traceability-metadata": 1, "ingest-problems": 1}
    assert versions(store) == ["closed-lately", "open-since-long-ago"]
    assert sorted(d["record_id"].split("/")[3] for d in store.iter_all("traceability-metadata")) == [
        "running-unchanged", "stopped-lately"]
    assert [d["problem_id"] for d in store.iter_all("ingest-problems")] == ["jenkins/new"]
    assert store.count("release-events") == 1 and store.count("ci-build-metadata") == 1
    assert apply_retention(store, cutoff_for(365, NOW)) == {
        "deployment-metadata": 0, "traceability-metadata": 0, "ingest-problems": 0}
    # A shorter retention reaches the recent past too, still never what is open or running.
    assert apply_retention(store, cutoff_for(5, NOW))["deployment-metadata"] == 1
    assert versions(store) == ["open-since-long-ago"]


def test_the_edges_of_the_cutoff_are_where_opensearch_puts_them(store: MetadataStore) -> None:
    # OpenSearch keeps dates at milliseconds and receives the cutoff as iso_utc writes it; the
    # embedded store compares the same way, whether the field is the index's time field (its
    # ts_ms column) or not (deployment-metadata's until), and matches where= as a term query.
    cutoff = datetime(2026, 3, 1, 12, 0, 0, 500, tzinfo=UTC)  # sent as ...12:00:00.000Z
    at_cutoff, just_before = "2026-03-01T12:00:00.000Z", "2026-03-01T11:59:59.999Z"
    store.upsert("ingest-problems", [
        {"problem_id": "at-cutoff", "last_seen": at_cutoff},  # not before it at milliseconds: kept
        {"problem_id": "just-before", "last_seen": just_before},
        {"problem_id": "offset-before", "last_seen": "2026-03-01T13:59:59+02:00"},  # 11:59:59Z
        {"problem_id": "offset-at", "last_seen": "2026-03-01T14:00:00+02:00"},  # 12:00:00Z: kept
        {"problem_id": "no-field"},  # without the date: kept, as a range query never matches it
        {"problem_id": "null-field", "last_seen": None},
    ])
    first = datetime(2026, 1, 1, tzinfo=UTC)
    store.upsert("deployment-metadata", [
        {**version("until-at-cutoff", first=first, until=None), "until": at_cutoff, "current": None},
        {**version("until-just-before", first=first, until=None), "until": just_before, "current": None},
        {**version("until-offset", first=first, until=None), "until": "2026-03-01T12:59:59.999+01:00", "current": None},
        {**version("until-null", first=first, until=None), "until": None},
        version("open", first=first, until=None),
    ])
    old = "2026-02-01T00:00:00Z"
    store.upsert("traceability-metadata", [
        {**record("stopped", running=False, updated=OLD), "updated_at": old},
        {**record("stopped-as-text", running=False, updated=OLD), "running": "false", "updated_at": old},
        {**record("stopped-in-array", running=False, updated=OLD), "running": [False], "updated_at": old},
        {**record("running", running=True, updated=OLD), "updated_at": old},
        {**record("running-unknown", running=True, updated=OLD), "running": None, "updated_at": old},
    ])
    assert apply_retention(store, cutoff) == {
        "deployment-metadata": 2, "traceability-metadata": 3, "ingest-problems": 2}
    assert sorted(d["problem_id"] for d in store.iter_all("ingest-problems")) == [
        "at-cutoff", "no-field", "null-field", "offset-at"]
    assert versions(store) == ["open", "until-at-cutoff", "until-null"]
    assert sorted(d["record_id"].split("/")[3] for d in store.iter_all("traceability-metadata")) == [
        "running", "running-unknown"]
    # Deleted with their lookup keys: nothing is found by a key of a deleted document.
    assert store.find("deployment-metadata", "namespace", "shop", limit=10) and not [
        d for d in store.find("deployment-metadata", "namespace", "shop", limit=10) if "just-before" in d["doc_id"]]


def test_delete_older_refuses_a_where_no_term_query_could_match(store: MetadataStore) -> None:
    with pytest.raises(KeyError, match="'nope' is not a top-level keyword or boolean field"):
        store.delete_older("traceability-metadata", "updated_at", NOW, where={"nope": "x"})
    with pytest.raises(TypeError, match="'running' is a boolean field.*give True or False"):
        store.delete_older("traceability-metadata", "updated_at", NOW, where={"running": "false"})
    with pytest.raises(TypeError, match="'cluster' is a keyword field.*give a string"):
        store.delete_older("traceability-metadata", "updated_at", NOW, where={"cluster": True})


def test_delete_older_refuses_a_field_that_is_not_a_date(store: MetadataStore) -> None:
    with pytest.raises(KeyError, match="'cluster' is not a date field of index 'deployment-metadata'"):
        store.delete_older("deployment-metadata", "cluster", NOW)


def test_the_job_deletes_with_the_configured_days_and_keeps_all_without(store: MetadataStore, store_resource: Any,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    fill(store)
    monkeypatch.delenv("C2C_RETENTION_DAYS", raising=False)
    kept = store_retention_job.execute_in_process(resources={"store": store_resource})
    assert kept.success and kept.output_for_node("prune_history") == {}
    assert store.count("deployment-metadata") == 3

    monkeypatch.setenv("C2C_RETENTION_DAYS", "365")
    pruned = store_retention_job.execute_in_process(resources={"store": store_resource})
    assert pruned.output_for_node("prune_history") == {
        "deployment-metadata": 1, "traceability-metadata": 1, "ingest-problems": 1}
    # Run config wins over the environment.
    shorter = store_retention_job.execute_in_process(
        resources={"store": store_resource}, run_config={"ops": {"prune_history": {"config": {"days": 5}}}})
    assert shorter.output_for_node("prune_history")["deployment-metadata"] == 1


def test_the_schedule_asks_one_run_a_day() -> None:
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 26, 3, 17, tzinfo=UTC))
    request = store_retention_schedule.evaluate_tick(context).run_requests[0]
    assert request.run_key == "retention:2026-11-26"


def test_retention_days_from_the_environment() -> None:
    assert retention_days_from_env({}) is None
    assert retention_days_from_env({"C2C_RETENTION_DAYS": " 400 "}) == 400
    for bad in ("0", "-3", "1y", "12.5"):
        with pytest.raises(ValueError, match="C2C_RETENTION_DAYS=.*whole number of days"):
            retention_days_from_env({"C2C_RETENTION_DAYS": bad})


@pytest.mark.parametrize("store", ["embedded"], indirect=True)
def test_c2c_store_prune_as_a_command(store: MetadataStore, tmp_path: Path) -> None:
    fill(store)
    env = {**os.environ, "C2C_STORE_PATH": str(store.path)}
    env.pop("C2C_OPENSEARCH_URL", None)
    env.pop("C2C_RETENTION_DAYS", None)

    def prune(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "c2c_dagster.cli", "store", "prune", *args],
                              capture_output=True, text=True, env=env, timeout=120)

    missing = prune()
    assert missing.returncode == 2 and "give --days N or set C2C_RETENTION_DAYS" in missing.stderr
    assert prune("--days", "0").returncode == 2
    done = prune("--days", "365")
    assert done.returncode == 0, done.stderr
    assert "deployment-metadata 1, traceability-metadata 1, ingest-problems 1" in done.stdout
    assert store.count("deployment-metadata") == 2
