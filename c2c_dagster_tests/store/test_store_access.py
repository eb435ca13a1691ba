"""Who may write what: readers (``c2c trace``) send only reads to the real OpenSearch node and
find nothing in a store without indices; writers set up an index on its first write, once per
process; every caller in a process shares one client, closed at exit."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from c2c_dagster.store import (
    ALL_INDICES,
    CI_BUILD_METADATA,
    EmbeddedStore,
    MetadataStoreResource,
    OpenSearchStore,
    StoreSettings,
)
from c2c_dagster.store.settings import close_shared_stores, shared_store
from c2c_dagster_tests.store.recording_proxy import RecordingProxy
from c2c_dagster_tests.traceability.trace_data import COMMIT_NEW, NEW, seed_trace_store
from c2c_devstack.services.dagster import environ_without_store, venv_bin

QUERIES = [("--workload", "prod/shop/web"), ("--pod", "shop/web-7d9-abc"), ("--commit", COMMIT_NEW[:7]),
           ("--build", "shop/web/main-2"), ("--digest", NEW)]


@pytest.fixture
def proxy(opensearch_service: Any) -> Iterator[RecordingProxy]:
    recording = RecordingProxy(opensearch_service.url).start()
    try:
        yield recording
    finally:
        recording.stop()


def trace(url: str, prefix: str, *args: str) -> subprocess.CompletedProcess:
    env = {**environ_without_store(), "C2C_OPENSEARCH_URL": url, "C2C_INDEX_PREFIX": prefix}
    return subprocess.run([venv_bin("c2c"), "trace", *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.opensearch
def test_trace_on_a_store_without_indices_finds_nothing_and_writes_nothing(proxy: RecordingProxy) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    for option, value in QUERIES:
        done = trace(proxy.url, prefix, option, value)
        assert done.returncode == 1, done.stderr
        assert f"nothing matches {option} {value} in the opensearch store" in done.stderr
    assert proxy.requests, "the proxy saw no request: the test would prove nothing"
    assert proxy.writes() == []
    # Nothing was created behind the reader's back either.
    indices = requests.get(f"{proxy.target}/_cat/indices/{prefix}*", params={"format": "json"}, timeout=30).json()
    assert indices == []


@pytest.mark.opensearch
def test_trace_answers_every_query_with_reads_only(proxy: RecordingProxy, opensearch_service: Any) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    writer = OpenSearchStore(opensearch_service.url, index_prefix=prefix, number_of_replicas=0)
    seed_trace_store(writer)  # straight to the node: the proxy sees only the reader
    writer.close()
    for option, value in QUERIES:
        done = trace(proxy.url, prefix, option, value, "--json")
        assert done.returncode == 0, done.stderr
        assert "shop/web/main-2" in done.stdout
    methods = {method for method, _ in proxy.requests}
    assert methods and methods <= {"GET", "HEAD", "POST"}
    assert proxy.writes() == []


@pytest.mark.opensearch
def test_a_writer_sets_up_its_index_once_per_client_with_c2cs_mapping(proxy: RecordingProxy) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    store = OpenSearchStore(proxy.url, index_prefix=prefix, number_of_replicas=0)
    doc = {"build_id": "job-1", "job_name": "job", "build_number": 1, "timestamp": "2026-01-31T05:45:18Z"}
    store.upsert(CI_BUILD_METADATA.name, [doc])
    store.upsert(CI_BUILD_METADATA.name, [{**doc, "build_id": "job-2", "build_number": 2}])
    store.close()
    template_puts = [path for method, path in proxy.requests if method == "PUT" and "_index_template" in path]
    assert template_puts == [f"/_index_template/{prefix}{CI_BUILD_METADATA.name}"]
    mapping = requests.get(f"{proxy.target}/{prefix}{CI_BUILD_METADATA.name}/_mapping", timeout=30).json()
    properties = mapping[f"{prefix}{CI_BUILD_METADATA.name}"]["mappings"]
    assert properties["dynamic"] == "false" and properties["properties"]["build_number"] == {"type": "long"}
    # Only the index written to was set up.
    names = {i["index"] for i in requests.get(f"{proxy.target}/_cat/indices/{prefix}*", params={"format": "json"},
                                              timeout=30).json()}
    assert names == {f"{prefix}{CI_BUILD_METADATA.name}"}


@pytest.mark.opensearch
def test_store_init_sets_up_every_index(opensearch_service: Any) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    env = {**environ_without_store(), "C2C_OPENSEARCH_URL": opensearch_service.url, "C2C_INDEX_PREFIX": prefix,
           "C2C_OPENSEARCH_REPLICAS": "0"}
    done = subprocess.run([venv_bin("c2c"), "store", "init"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    names = {i["index"] for i in requests.get(f"{opensearch_service.url}/_cat/indices/{prefix}*",
                                              params={"format": "json"}, timeout=30).json()}
    assert names == {f"{prefix}{spec.name}" for spec in ALL_INDICES}
    assert f"{len(ALL_INDICES)} indices ready" in done.stdout


def test_one_client_per_settings_and_process_reopened_once_closed(tmp_path: Path) -> None:
    close_shared_stores()
    settings = StoreSettings(embedded_path=str(tmp_path / "a.sqlite"))
    first = shared_store(settings)
    assert shared_store(StoreSettings(embedded_path=str(tmp_path / "a.sqlite"))) is first
    assert shared_store(StoreSettings(embedded_path=str(tmp_path / "b.sqlite"))) is not first
    # Two resources with the same settings (two assets, two sensor ticks) hand out that one client.
    resource = MetadataStoreResource(embedded_path=str(tmp_path / "a.sqlite"))
    assert resource.get_store() is first and MetadataStoreResource(embedded_path=str(tmp_path / "a.sqlite")).get_store() is first
    first.close()
    assert shared_store(settings) is not first  # someone closed it: a new one, never a dead one
    reopened = shared_store(settings)
    close_shared_stores()
    assert reopened.closed


def test_the_embedded_store_creates_its_file_on_the_first_write_only(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "store.sqlite"
    store = EmbeddedStore(path)
    assert store.find(CI_BUILD_METADATA.name, "build_id", "x-1") == [] and store.count(CI_BUILD_METADATA.name) == 0
    assert not path.parent.exists()
    store.upsert(CI_BUILD_METADATA.name, [{"build_id": "x-1", "timestamp": "2026-01-31T05:45:18Z"}])
    assert [d["build_id"] for d in store.find(CI_BUILD_METADATA.name, "build_id", "x-1")] == ["x-1"]
    store.close()
