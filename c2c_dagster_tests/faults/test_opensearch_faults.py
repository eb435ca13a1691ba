"""OpenSearch's faults, injected into the real node: SIGKILLed in the middle of a bulk write and
restarted on its data, answering 429 (bulk rejections) and 503, and an index under the read-only
block a full disk sets. Each gives an error naming OpenSearch and what to do, loses nothing
(documents counted by id on the node afterwards: none missing after the retry, none twice), and a
retry once the fault clears completes.

Emulated: the 429 and 503 answers come from a small fault-injecting HTTP proxy in front of the real
node (c2c_dagster_tests/store/recording_proxy.py), answering as the node does (its error body
shape) for the requests it is told to; the kill, the restart and the read-only block are the real
node's own.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import requests

from c2c_dagster.store import OpenSearchStore, StoreUnavailableError
from c2c_dagster_tests.store.recording_proxy import RecordingProxy
from c2c_dagster_tests.store.test_store_contract import build
from c2c_devstack.services import opensearch

pytestmark = pytest.mark.opensearch
CI = "ci-build-metadata"


def _builds(count: int) -> list[dict]:
    return [build(n, ts=f"2026-01-31T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z") for n in range(1, count + 1)]


def _ids_on_node(url: str, index: str) -> Counter:
    """Every document id in ``index``, counted, read straight from the node (not through c2c)."""
    requests.post(f"{url}/{index}/_refresh", timeout=30)
    ids: Counter = Counter()
    after = None
    while True:
        body = {"size": 5000, "_source": False, "sort": [{"build_id": "asc"}]}
        if after:
            body["search_after"] = after
        hits = requests.post(f"{url}/{index}/_search", json=body, timeout=30).json()["hits"]["hits"]
        ids.update(hit["_id"] for hit in hits)
        if len(hits) < 5000:
            return ids
        after = hits[-1]["sort"]


def _store(url: str, prefix: str) -> OpenSearchStore:
    return OpenSearchStore(url, index_prefix=prefix, number_of_replicas=0)


@pytest.fixture
def proxied(opensearch_service):
    proxy = RecordingProxy(opensearch_service.url).start()
    prefix = f"f{uuid.uuid4().hex[:8]}-"
    try:
        yield proxy, prefix, _store(proxy.url, prefix)
    finally:
        proxy.stop()


def _rejections(status: int, error_type: str, times: int | None):
    """A fault answering ``status`` to the first ``times`` bulk requests (None: all of them)."""
    seen = {"bulk": 0}

    def fault(method: str, path: str):
        if "/_bulk" not in path:
            return None
        seen["bulk"] += 1
        if times is None or seen["bulk"] <= times:
            return status, {"error": {"type": error_type, "reason": f"injected {status}"}, "status": status}
        return None

    return fault, seen


@pytest.mark.parametrize("status,error_type", [(429, "es_rejected_execution_exception"),
                                               (503, "unavailable_shards_exception")])
def test_rejected_or_unavailable_bulk_is_retried_then_named_and_a_rerun_completes(
        proxied, opensearch_service, fault_report, status: int, error_type: str) -> None:
    proxy, prefix, store = proxied
    docs = _builds(300)
    # A passing fault (two rejections): the client's retries absorb it.
    proxy.fault, seen = _rejections(status, error_type, times=2)
    started = time.monotonic()
    assert store.upsert(CI, docs).written == 300
    absorbed = time.monotonic() - started
    assert seen["bulk"] == 3
    # A lasting fault: a clear error, nothing half-written that a retry would duplicate.
    proxy.fault, seen = _rejections(status, error_type, times=None)
    with pytest.raises(StoreUnavailableError) as failure:
        store.upsert(CI, [build(n, build_status="FAILURE") for n in range(1, 301)])
    message = str(failure.value)
    assert "OpenSearch" in message and str(status) in message and "re-run" in message
    attempts = seen["bulk"]
    # The fault clears: the re-run completes, every build once.
    proxy.fault = None
    store.upsert(CI, [build(n, build_status="FAILURE") for n in range(1, 301)])
    ids = _ids_on_node(opensearch_service.url, f"{prefix}{CI}")
    assert len(ids) == 300 and set(ids.values()) == {1}
    assert {d["build_status"] for d in store.iter_all(CI)} == {"FAILURE"}
    fault_report(
        fault=f"OpenSearch answers {status} to bulk writes (fault-injecting proxy)",
        expected="passing: retried by the client; lasting: a clear error, nothing lost, a re-run completes",
        observed=f"2 rejections absorbed ({absorbed:.1f} s); lasting: StoreUnavailableError after {attempts} "
                 f"attempts ({message[:80]}…); re-run: 300/300 ids once each")


def test_a_read_only_index_block_is_named_and_a_retry_after_it_is_lifted_completes(
        opensearch_service, fault_report) -> None:
    prefix = f"f{uuid.uuid4().hex[:8]}-"
    index = f"{prefix}{CI}"
    store = _store(opensearch_service.url, prefix)
    store.upsert(CI, _builds(10))
    # What the node does itself when a disk passes the flood-stage watermark (the test node has the
    # disk thresholds off, so the block is set the same way by hand).
    block = {"index.blocks.read_only_allow_delete": True}
    requests.put(f"{opensearch_service.url}/{index}/_settings", json=block, timeout=30).raise_for_status()
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError) as failure:
            store.upsert(CI, _builds(20))
        took = time.monotonic() - started
        message = str(failure.value)
        assert "read_only_allow_delete" in message and "disk" in message and index in message
    finally:
        requests.put(f"{opensearch_service.url}/{index}/_settings",
                     json={"index.blocks.read_only_allow_delete": None}, timeout=30).raise_for_status()
    assert len(_ids_on_node(opensearch_service.url, index)) == 10  # nothing of the refused batch
    store.upsert(CI, _builds(20))
    ids = _ids_on_node(opensearch_service.url, index)
    assert len(ids) == 20 and set(ids.values()) == {1}
    fault_report(
        fault="index.blocks.read_only_allow_delete (as a full disk sets it) during a bulk write",
        expected="a clear error naming the block and how to lift it; nothing lost; a retry after completes",
        observed=f"StoreUnavailableError after {took:.1f} s naming the block and the disk; 10 ids before, "
                 "20/20 once each after the retry")


def test_the_node_killed_mid_bulk_and_restarted_loses_nothing_after_a_retry(tmp_path: Path, fault_report) -> None:
    node = opensearch.start(tmp_path / "node")
    proxy = RecordingProxy(node.url).start()
    docs = _builds(5000)
    outcome: dict = {}

    def write() -> None:
        try:
            outcome["result"] = _store(proxy.url, "").upsert(CI, docs)
        except Exception as exc:  # noqa: BLE001 - the test inspects whatever the write raised
            outcome["error"] = exc

    try:
        writer = threading.Thread(target=write)
        writer.start()
        # SIGKILL once the second bulk request (of five) is on its way: the first is acknowledged.
        deadline = time.monotonic() + 120
        while sum("/_bulk" in path for _, path in proxy.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        node.process.popen.kill()
        node.process.popen.wait(30)
        writer.join(120)
        assert not writer.is_alive()
        error = outcome.get("error")
        assert isinstance(error, StoreUnavailableError), outcome
        message = str(error)
        assert "OpenSearch" in message and "retried" in message
    finally:
        proxy.stop()
    # Restarted on the same data directory (a new port: the retry is a new run).
    restarted = opensearch.restart(node)
    try:
        survived = _ids_on_node(restarted.url, CI)
        assert set(survived.values()) <= {1}
        assert set(survived) <= {d["build_id"] for d in docs}
        _store(restarted.url, "").upsert(CI, docs)
        ids = _ids_on_node(restarted.url, CI)
        assert len(ids) == 5000 and set(ids.values()) == {1}
    finally:
        restarted.stop()
    fault_report(
        fault="OpenSearch SIGKILLed during a 5,000-build bulk write, then restarted on its data",
        expected="the write fails naming OpenSearch and that a retry is safe; after the retry every build once",
        observed=f"StoreUnavailableError; {len(survived)} builds had survived the kill (none twice); after the "
                 f"retry 5000/5000 ids, each once (restart took {restarted.startup_seconds:.0f} s)")
