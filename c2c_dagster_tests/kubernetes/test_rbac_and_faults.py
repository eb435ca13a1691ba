"""k8s/rbac/collector.yaml is valid for the real API server (server-side dry-run, then applied),
and the c2c-collector service account it grants can run a complete snapshot but cannot read
Secrets (proved by acting as it, by impersonation and by SubjectAccessReview); a role without
statefulsets yields a partial snapshot naming the rule to add; an unreachable or silent API server
fails with a clear error before anything is written."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
import yaml

from c2c_dagster.cluster.pager import ClusterUnreachableError
from c2c_dagster.kubernetes.assets import deployment_snapshots
from c2c_dagster.kubernetes.collect import collect_cluster
from c2c_dagster.store import DEPLOYMENT_METADATA, EmbeddedStore, MetadataStoreResource
from c2c_dagster_tests.kubernetes.conftest import (
    COLLECTOR_RBAC,
    collector_without,
    deployment,
    metadata,
    service_account_kubeconfig,
    snapshot,
    wait_pods,
)

pytestmark = pytest.mark.kubernetes
MANIFEST = COLLECTOR_RBAC
COLLECTOR = "system:serviceaccount:c2c:c2c-collector"
PATHS = {
    "Namespace": "/api/v1/namespaces/{name}",
    "ServiceAccount": "/api/v1/namespaces/{namespace}/serviceaccounts/{name}",
    "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}",
    "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{name}",
}


def _apply(api, doc: dict, *, dry_run: bool) -> None:
    """Server-side apply, as ``kubectl apply --server-side [--dry-run=server]`` does it."""
    meta = doc["metadata"]
    query = [("fieldManager", "c2c-tests"), ("force", "true")] + ([("dryRun", "All")] if dry_run else [])
    api.call_api(PATHS[doc["kind"]].format(**meta), "PATCH", query_params=query, body=doc,
                 header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
                 auth_settings=["BearerToken"], _preload_content=False)


def _apply_manifest(api) -> list[dict]:
    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    # Each object is validated by the API server first (schema, admission, RBAC escalation
    # checks), then applied; one by one, since a dry-run creates nothing the next may need
    # (the ServiceAccount's namespace).
    for doc in docs:
        _apply(api, doc, dry_run=True)
        _apply(api, doc, dry_run=False)
    return docs


def _impersonating(k8s_cluster, user: str):
    client = k8s_cluster.api_client()
    client.set_default_header("Impersonate-User", user)
    return client


def _allowed(api, user: str, verb: str, resource: str, group: str = "") -> bool:
    from kubernetes import client

    review = client.AuthorizationV1Api(api).create_subject_access_review({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": user, "resourceAttributes": {"verb": verb, "resource": resource, "group": group}}})
    return bool(review.status.allowed)


def test_collector_role_allows_a_complete_snapshot_and_forbids_secrets(k8s_cluster, api, namespace, tmp_path,
                                                                      instance):
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    docs = _apply_manifest(api)
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    assert all(set(rule["verbs"]) == {"get", "list", "watch"} for rule in role["rules"])
    client.AppsV1Api(api).create_namespaced_deployment(namespace, deployment("web", "registry.local/web:1",
                                                                             replicas=1))
    wait_pods(api, namespace, "web", 1)

    # Acting as the service account with its own token: the asset's real path.
    kubeconfig = service_account_kubeconfig(api, k8s_cluster, "c2c", "c2c-collector", tmp_path / "sa.yaml")
    resource = MetadataStoreResource(embedded_path=str(tmp_path / "store.sqlite"))
    result = metadata(snapshot(kubeconfig, resource, instance))
    assert result["partial"] is False and result["errors"] == []
    assert result["argocd_applications_listed"] is True
    store = EmbeddedStore(tmp_path / "store.sqlite")
    assert store.find(DEPLOYMENT_METADATA.name, "namespace", namespace)

    # The same identity by impersonation: every LIST of the scan works, Secrets do not.
    with _impersonating(k8s_cluster, COLLECTOR) as as_collector:
        collection = collect_cluster(as_collector, namespaces=[namespace])
        assert not collection.partial and collection.of("pods")
        core = client.CoreV1Api(as_collector)
        with pytest.raises(ApiException) as forbidden:
            core.list_secret_for_all_namespaces()
        assert forbidden.value.status == 403
        with pytest.raises(ApiException) as forbidden:
            core.list_namespaced_config_map(namespace)
        assert forbidden.value.status == 403

    for verb, resource_name, group, allowed in [
        ("list", "pods", "", True), ("watch", "nodes", "", True), ("list", "statefulsets", "apps", True),
        ("list", "jobs", "batch", True), ("get", "applications", "argoproj.io", True),
        ("list", "secrets", "", False), ("get", "secrets", "", False), ("list", "configmaps", "", False),
        ("delete", "pods", "", False), ("patch", "deployments", "apps", False),
        ("list", "cronjobs", "batch", False),  # not read: a Job's ownerReference names its CronJob
    ]:
        assert _allowed(api, COLLECTOR, verb, resource_name, group) is allowed, (verb, resource_name)


def test_role_without_statefulsets_gives_a_partial_snapshot_naming_the_rule(k8s_cluster, api, namespace, tmp_path,
                                                                            instance):
    from kubernetes import client

    client.AppsV1Api(api).create_namespaced_deployment(namespace, deployment("web", "registry.local/web:1", replicas=1))
    wait_pods(api, namespace, "web", 1)
    with collector_without(api, k8s_cluster, namespace, "statefulsets", tmp_path / "limited.yaml") as kubeconfig:
        resource = MetadataStoreResource(embedded_path=str(tmp_path / "store.sqlite"))
        result = metadata(snapshot(kubeconfig, resource, instance))
    assert result["partial"] is True
    (error,) = result["errors"]
    assert "list statefulsets (API group apps) cluster-wide failed with 403" in error
    assert '{apiGroups: ["apps"], resources: ["statefulsets"], verbs: ["list"]}' in error
    # Everything else was still read, and what was written says it came from a partial snapshot.
    assert result["pods"] >= 1
    docs = EmbeddedStore(tmp_path / "store.sqlite").find(DEPLOYMENT_METADATA.name, "namespace", namespace)
    assert docs and all(d["partial"] is True for d in docs)


def _kubeconfig_for(server: str, path: Path) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "x"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}], "current-context": "c"}))
    return path


def test_unreachable_api_server_fails_clearly_and_writes_nothing(tmp_path, instance):
    from kubernetes import config

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = f"https://127.0.0.1:{port}"
    with config.new_client_from_config(config_file=str(_kubeconfig_for(server, tmp_path / "k.yaml"))) as api:
        api.configuration.retries = 0
        with pytest.raises(ClusterUnreachableError, match=rf"API server {server} unreachable while listing nodes"):
            collect_cluster(api, timeout_seconds=2)
    # The asset retries such failures; nothing reaches the store before the whole cluster is read.
    assert deployment_snapshots.op.retry_policy is not None
    assert deployment_snapshots.op.retry_policy.max_retries >= 1


def test_silent_api_server_times_out_with_a_clear_error(tmp_path):
    from kubernetes import config

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_say_nothing() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_and_say_nothing, daemon=True)
    thread.start()
    server = f"https://127.0.0.1:{listener.getsockname()[1]}"
    try:
        with config.new_client_from_config(config_file=str(_kubeconfig_for(server, tmp_path / "k.yaml"))) as api:
            api.configuration.retries = 0
            with pytest.raises(ClusterUnreachableError, match="unreachable while listing nodes"):
                collect_cluster(api, timeout_seconds=1)
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()
