"""Collection lists each type with paginated LISTs only, restarts a list on 410 Gone, turns a 403
into a named error with the ClusterRole rule (other types still read), and fails clearly when the
API server is unreachable; a workload deleted between LIST calls leaves its pods recorded as orphans;
a LIST page reads as ``json.loads`` reads it, its items decoded one at a time after the metadata."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import urllib3

from c2c_dagster.cluster.pager import ClusterUnreachableError, collect, parse_list_page
from c2c_dagster.kubernetes.collect import RESOURCE_TYPES
from c2c_dagster.kubernetes.snapshot import build_snapshot
from c2c_devstack.kube_objects import (
    FakeApi,
    collect_from,
    deployment,
    deployment_pods,
    node,
    replicaset,
    statefulset,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _cluster(deployments: int = 3, pods_each: int = 3) -> dict:
    objects: dict = {"nodes": [node("node-1")], "deployments": [], "replicasets": [], "pods": [],
                     "statefulsets": [statefulset("db", "pg", "postgres:16")]}
    for i in range(deployments):
        objects["deployments"].append(deployment("shop", f"web{i}", "registry.local/web:1", replicas=pods_each))
        objects["replicasets"].append(replicaset("shop", f"web{i}", "abc", replicas=pods_each))
        objects["pods"] += deployment_pods("shop", f"web{i}", "abc", pods_each, "registry.local/web:1")
    return objects


def test_pages_through_every_type_with_one_list_per_page_never_per_object() -> None:
    api = FakeApi(_cluster(deployments=3, pods_each=3))
    collection = collect(api, types=RESOURCE_TYPES, page_size=4)
    assert len(collection.of("pods")) == 9 and len(collection.of("deployments")) == 3
    pod_calls = [c for c in api.calls if c[0] == "/api/v1/pods"]
    assert [token for _, token in pod_calls] == [None, "4", "8"]  # 9 pods in pages of 4
    # One cluster-wide LIST path per type, nothing per object or per deployment.
    assert {path for path, _ in api.calls} == {
        "/api/v1/nodes", "/apis/apps/v1/deployments", "/apis/apps/v1/statefulsets", "/apis/apps/v1/daemonsets",
        "/apis/apps/v1/replicasets", "/apis/batch/v1/jobs", "/apis/argoproj.io/v1alpha1/applications",
        "/api/v1/pods"}
    assert not collection.partial


def test_namespace_scope_lists_each_type_once_per_namespace() -> None:
    objects = _cluster()
    api = FakeApi(objects)
    collection = collect(api, types=RESOURCE_TYPES, namespaces=["shop", "db"], page_size=100)
    paths = [path for path, _ in api.calls]
    assert paths.count("/api/v1/namespaces/shop/pods") == 1 and paths.count("/api/v1/namespaces/db/pods") == 1
    assert "/api/v1/nodes" in paths  # cluster-scoped stays cluster-wide
    assert "/apis/argoproj.io/v1alpha1/applications" in paths  # apps live in Argo CD's namespace
    assert len(collection.of("statefulsets")) == 1


def test_expired_continue_token_restarts_that_list_from_scratch() -> None:
    api = FakeApi(_cluster(deployments=2, pods_each=3), gone_once={"pods"})
    collection = collect(api, types=RESOURCE_TYPES, page_size=2)
    assert collection.restarts == 1
    names = [p["name"] for p in collection.of("pods")]
    assert len(names) == 6 and len(set(names)) == 6  # no page counted twice
    assert [t for p, t in api.calls if p == "/api/v1/pods"] == [None, "2", None, "2", "4"]


def test_forbidden_type_is_named_with_the_rule_to_add_and_other_types_are_still_read() -> None:
    collection = collect_from(_cluster(), forbidden={"statefulsets"})
    assert collection.partial
    (error,) = collection.errors
    assert (error.verb, error.resource, error.group, error.status) == ("list", "statefulsets", "apps", 403)
    assert error.rule == '{apiGroups: ["apps"], resources: ["statefulsets"], verbs: ["list"]}'
    text = error.describe()
    assert "list statefulsets (API group apps)" in text and "c2c-collector ClusterRole" in text
    assert "statefulsets" not in collection.complete
    assert len(collection.of("pods")) == 9 and "deployments" in collection.complete


def test_core_group_rule_uses_the_empty_group() -> None:
    collection = collect_from(_cluster(), forbidden={"nodes"})
    assert collection.errors[0].rule == '{apiGroups: [""], resources: ["nodes"], verbs: ["list"]}'


def test_missing_argocd_crd_is_not_an_error() -> None:
    collection = collect_from(_cluster(), absent={"applications"})
    assert not collection.partial and "applications" in collection.absent


def test_unreachable_api_server_raises_a_clear_error() -> None:
    def refused(path: str, limit: int, token: str | None) -> dict:
        raise urllib3.exceptions.MaxRetryError(None, path, reason=ConnectionRefusedError(111, "Connection refused"))

    with pytest.raises(ClusterUnreachableError, match=r"API server https://10\.0\.0\.1:6443 unreachable"):
        collect(refused, types=RESOURCE_TYPES, server="https://10.0.0.1:6443")


def test_workload_deleted_between_list_calls_leaves_orphaned_pods_not_a_crash() -> None:
    objects = _cluster(deployments=2, pods_each=2)

    def delete_web0_after_deployments_were_listed(path: str) -> None:
        # The Deployment and its ReplicaSet vanish after deployments were listed; its pods
        # are still listed (terminating), the reverse order of what the join would like.
        if path.endswith("/replicasets"):
            objects["replicasets"] = [rs for rs in objects["replicasets"] if "web0" not in rs["metadata"]["name"]]

    collection = collect(FakeApi(objects, on_list=delete_web0_after_deployments_were_listed), types=RESOURCE_TYPES,
                         page_size=10)
    snap = build_snapshot(collection, cluster="c1", snapshot_time=NOW)
    by_pod = {p.pod_name: p for p in snap.pods}
    # The Deployment was listed, so the pod-template-hash suffix still resolves it.
    assert by_pod["web0-abc-0"].workload == "Deployment/shop/web0"
    objects["deployments"] = [d for d in objects["deployments"] if d["metadata"]["name"] != "web0"]
    snap = build_snapshot(collect(FakeApi(objects), types=RESOURCE_TYPES, page_size=10), cluster="c1", snapshot_time=NOW)
    by_pod = {p.pod_name: p for p in snap.pods}
    assert by_pod["web0-abc-0"].workload == "ReplicaSet/shop/web0-abc"
    assert by_pod["web0-abc-0"].owner_resolved is False
    assert sorted(snap.orphaned_pods) == ["shop/web0-abc-0", "shop/web0-abc-1"]
    assert {w.workload for w in snap.workloads} == {"Deployment/shop/web1", "StatefulSet/db/pg"}


@pytest.mark.parametrize("text", [
    '{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"7","continue":"abc"},'
    '"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b","labels":{"x":"[,]"}}}]}',
    ' {\n "kind" : "PodList" ,\n "metadata" : {} ,\n "items" : [ ]\n}\n',
    '{"metadata":{"continue":""},"items":[ {"a":"\\u00e9\\"]"} , [1,2] ,\n{}\t]}',
    '{"items":[{"metadata":{"name":"a"}}],"metadata":{"continue":"t"}}',  # items first: decoded whole
    '{"kind":"Status","status":"Failure","message":"forbidden"}',
    '{}',
])
def test_list_page_parses_as_json_loads_does(text: str) -> None:
    page = parse_list_page(text.encode())
    expected = json.loads(text)
    assert {k: (list(v) if k == "items" else v) for k, v in page.items()} == expected


def test_list_page_items_after_metadata_are_decoded_one_at_a_time() -> None:
    page = parse_list_page(b'{"metadata":{"continue":"t"},"items":[{"n":1},{"n":2}]}')
    assert page["metadata"] == {"continue": "t"} and not isinstance(page["items"], list)
    items = iter(page["items"])
    assert next(items) == {"n": 1} and next(items) == {"n": 2}
    with pytest.raises(ValueError, match="expected ',' or ']'"):
        list(parse_list_page(b'{"metadata":{},"items":[{"n":1} {"n":2}]}')["items"])
