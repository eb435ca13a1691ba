"""deployment_snapshots under API server faults, on the real control plane: a 403 on one type gives
a partial scan that writes no new version of an unchanged pod, nor does the good scan after it;
a 500 on one LIST page, kube-apiserver SIGKILLed in the middle of a paged LIST (and restarted), and
an API server that stops answering (no watch: a plain read timeout) each fail the attempt with
nothing written and the watermark unchanged, and the asset's retry writes the scan once.

Real: kube-apiserver, etcd, the controllers, RBAC (the 403 is a service account bound to the
shipped collector role minus one resource), the asset run on a real Dagster instance with its
retry policy, the embedded store. Emulated: the 500 and the silence come from ``FaultProxy``, a
small proxy in front of the real API server that answers every other request with the API
server's own bytes; the kill is a real SIGKILL of kube-apiserver while the proxy holds the
LIST's second page.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from c2c_dagster.store import DEPLOYMENT_METADATA, SCAN_WATERMARKS, EmbeddedStore, MetadataStoreResource
from c2c_dagster_tests.kubernetes.conftest import (  # noqa: F401 - api, instance, namespace, proxy: fixtures
    api,
    collector_without,
    deployment,
    instance,
    metadata,
    namespace,
    proxy,
    snapshot,
    wait_pods,
)
from c2c_devstack.services import wait_until
from c2c_devstack.services.kubernetes import FaultProxy, FaultRule

pytestmark = pytest.mark.kubernetes

PODS_FIRST_PAGE = "/api/v1/pods?limit=1"  # the scan's LIST of pods, one pod a page
PODS_NEXT_PAGE = "/api/v1/pods?limit=1&continue="


@pytest.fixture
def web(api, namespace) -> str:
    """Three pods of one Deployment in the test's namespace."""
    from kubernetes import client

    client.AppsV1Api(api).create_namespaced_deployment(namespace, deployment("web", "registry.local/web:1", replicas=3))
    wait_pods(api, namespace, "web", 3)
    return namespace


def _versions(store: EmbeddedStore, namespace: str) -> Counter:
    """How many versions each object of the namespace has (open or closed)."""
    return Counter(d.get("pod_name") or d["workload"] for d in store.find(DEPLOYMENT_METADATA.name, "namespace", namespace))


def _watermark(store: EmbeddedStore) -> str | None:
    (doc,) = store.iter_all(SCAN_WATERMARKS.name)
    return doc["scanned_at"]


@pytest.mark.parametrize("forbidden", ["replicasets", "nodes"])
def test_a_403_on_one_type_then_a_good_scan_keep_one_version_per_unchanged_pod(
        k8s_cluster, api, web, tmp_path: Path, instance, forbidden: str, fault_report) -> None:
    resource = MetadataStoreResource(embedded_path=str(tmp_path / "store.sqlite"))
    store = EmbeddedStore(tmp_path / "store.sqlite")
    metadata(snapshot(k8s_cluster.kubeconfig, resource, instance))
    before, watermark = _versions(store, web), _watermark(store)
    assert sum(before.values()) == 4  # the Deployment and its 3 pods
    with collector_without(api, k8s_cluster, web, forbidden, tmp_path / "limited.yaml") as kubeconfig:
        partial = metadata(snapshot(kubeconfig, resource, instance))
    assert partial["partial"] is True and f"list {forbidden}" in partial["errors"][0] and "403" in partial["errors"][0]
    assert _versions(store, web) == before and _watermark(store) == watermark  # nothing new, not advanced
    good = metadata(snapshot(k8s_cluster.kubeconfig, resource, instance))
    assert good["partial"] is False and _watermark(store) > watermark
    after = _versions(store, web)
    assert after == before and set(after.values()) == {1}
    fault_report(
        fault=f"403 on LIST {forbidden} (a collector role without it), then a good scan",
        expected="partial scan naming the rule; no new version of an unchanged pod, then or after",
        observed=f"partial: {partial['new_documents']} new, {partial['refreshed_documents']} refreshed, watermark "
                 f"unchanged; good scan: {good['new_documents']} new in the cluster; versions per object of the "
                 f"namespace {sorted(set(after.values()))} ({len(after)} objects)")


def _scan_in_background(proxy: FaultProxy, tmp_path: Path, instance: dg.DagsterInstance,
                        **kubernetes: Any) -> tuple[threading.Thread, list[dg.ExecuteInProcessResult]]:
    """deployment_snapshots through the proxy, one pod a LIST page, in a thread: the test watches
    between the failed attempt and the retry (the asset waits 15 s before it)."""
    results: list[dg.ExecuteInProcessResult] = []
    resource = MetadataStoreResource(embedded_path=str(tmp_path / "store.sqlite"))
    thread = threading.Thread(target=lambda: results.append(snapshot(
        proxy.kubeconfig(tmp_path / "proxy.yaml"), resource, instance, page_size=1, **kubernetes)), daemon=True)
    thread.start()
    return thread, results


def _first_failure(instance: dg.DagsterInstance, timeout: float = 90) -> str:
    """The error of the run's first failed attempt, once the step is up for retry."""
    found: list[str] = []

    def retried() -> bool:
        for run in instance.get_runs():
            for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY):
                # The retry request wraps the asset's own error: its causes, innermost last.
                error, messages = entry.dagster_event.step_retry_data.error, []
                while error is not None:
                    messages.append(error.message.strip())
                    error = error.cause
                found.append(messages[1] if len(messages) > 1 else messages[0])
        return bool(found)

    wait_until(retried, what="the failed attempt", timeout=timeout, interval=0.2)
    return found[0]


def _faulted_scan(proxy: FaultProxy, tmp_path: Path, instance: dg.DagsterInstance, store: EmbeddedStore,
                  namespace: str, *, between: Callable[[], None] = lambda: None,
                  **kubernetes: Any) -> tuple[str, dict[str, Any], float]:
    """Run the scan through the faults already set on ``proxy``; check that the failed attempt
    wrote nothing and left the watermark, call ``between``, and return (the failed attempt's
    error, the retry's materialization metadata, seconds from start to success)."""
    versions, watermark = _versions(store, namespace), _watermark(store)
    started = time.monotonic()
    thread, results = _scan_in_background(proxy, tmp_path, instance, **kubernetes)
    error = _first_failure(instance)
    assert _versions(store, namespace) == versions and _watermark(store) == watermark
    between()
    thread.join(timeout=180)
    assert results and results[0].success, "the retry did not succeed"
    seconds = time.monotonic() - started
    assert _watermark(store) > watermark  # the retry's complete scan advanced it, once
    assert _versions(store, namespace) == versions  # nothing changed in the cluster: nothing new
    return error, metadata(results[0]), seconds


def _baseline(k8s_cluster, tmp_path: Path, instance: dg.DagsterInstance) -> EmbeddedStore:
    resource = MetadataStoreResource(embedded_path=str(tmp_path / "store.sqlite"))
    snapshot(k8s_cluster.kubeconfig, resource, instance)
    return EmbeddedStore(tmp_path / "store.sqlite")


def test_a_500_on_one_list_page_fails_the_attempt_and_the_retry_writes_once(
        k8s_cluster, proxy, web, tmp_path: Path, instance, fault_report) -> None:
    store = _baseline(k8s_cluster, tmp_path, instance)
    fault = FaultRule(PODS_NEXT_PAGE, status=500, times=1)
    proxy.rules.append(fault)
    error, result, seconds = _faulted_scan(proxy, tmp_path, instance, store, web)
    assert fault.hits == 1 and "failed with 500" in error and "fault proxy: injected 500" in error
    fault_report(
        fault="500 on the second page of the LIST of pods (fault proxy)",
        expected="attempt fails with nothing written, watermark unchanged; the retry writes the scan once",
        observed=f"attempt failed: {error.splitlines()[0][:140]}; store and watermark unchanged until "
                 f"the retry; scan succeeded after {seconds:.0f} s, {result['new_documents']} new versions, "
                 "one version per object")


def test_apiserver_killed_mid_list_and_restarted(k8s_cluster, proxy, web, tmp_path: Path, instance,
                                                 fault_report) -> None:
    store = _baseline(k8s_cluster, tmp_path, instance)
    hold = FaultRule(PODS_NEXT_PAGE, release=threading.Event(), times=1)
    proxy.rules.append(hold)
    down: list[float] = []

    def kill_when_held() -> None:
        wait_until(lambda: hold.hits > 0, what="the LIST's second page", timeout=60, interval=0.1)
        k8s_cluster.kill_apiserver()  # the first page was served, the second is asked of a dead server
        hold.release.set()

    killer = threading.Thread(target=kill_when_held, daemon=True)
    killer.start()

    def restart() -> None:
        started = time.monotonic()
        k8s_cluster.start_apiserver()
        down.append(time.monotonic() - started)

    try:
        error, result, seconds = _faulted_scan(proxy, tmp_path, instance, store, web, between=restart)
    finally:
        killer.join(timeout=60)
        if not down:  # never leave the session's cluster without its API server
            k8s_cluster.start_apiserver()
    assert "unreachable while listing pods" in error
    fault_report(
        fault="kube-apiserver SIGKILLed between two pages of the LIST of pods, restarted",
        expected="attempt fails as unreachable with nothing written, watermark unchanged; the retry writes once",
        observed=f"attempt failed: {error.splitlines()[0][:140]}; API server ready again after "
                 f"{down[0]:.0f} s; scan succeeded {seconds:.0f} s after it began, {result['new_documents']} new "
                 "versions, store unchanged until then")


def test_a_silent_api_server_times_out_without_watch_and_the_retry_recovers(
        k8s_cluster, proxy, web, tmp_path: Path, instance, fault_report) -> None:
    store = _baseline(k8s_cluster, tmp_path, instance)
    # Every request for the first page is held (the client's own retries included) until the
    # attempt has failed; then the API server answers again.
    silence = FaultRule(PODS_FIRST_PAGE, release=threading.Event(), times=None)
    proxy.rules.append(silence)

    def answer_again() -> None:
        proxy.rules.remove(silence)
        silence.release.set()

    error, result, seconds = _faulted_scan(proxy, tmp_path, instance, store, web, between=answer_again,
                                           request_timeout_seconds=2)
    assert "unreachable while listing pods" in error and "timed out" in error.lower()
    fault_report(
        fault="API server silent on the LIST of pods (read timeout 2 s, no watch)",
        expected="attempt fails naming the timeout, nothing written, watermark unchanged; the retry recovers",
        observed=f"attempt failed after {silence.hits} held request(s): {error.splitlines()[0][:140]}; "
                 f"scan succeeded after {seconds:.0f} s, {result['new_documents']} new versions")
