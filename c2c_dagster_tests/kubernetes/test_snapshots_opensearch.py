"""deployment_snapshots writes to the real OpenSearch with the same history semantics as the
embedded store: versions found by digest, an unchanged re-scan adds nothing, a scale-down closes
versions (the ``current`` lookup key is cleared by a merge of null), and the mapping accepts every
document field."""

from __future__ import annotations

import uuid

import pytest

from c2c_dagster.kubernetes.history import read_open_versions
from c2c_dagster.store import DEPLOYMENT_METADATA, MetadataStoreResource, OpenSearchStore
from c2c_dagster_tests.kubernetes.conftest import CLUSTER, deployment, metadata, snapshot, wait_pods
from c2c_devstack.kube_objects import digest_of
from c2c_devstack.services import wait_until

pytestmark = [pytest.mark.kubernetes, pytest.mark.opensearch]
INDEX = DEPLOYMENT_METADATA.name


def test_snapshot_history_in_real_opensearch(k8s_cluster, opensearch_service, api, namespace, instance):
    from kubernetes import client

    prefix = f"t{uuid.uuid4().hex[:8]}-"
    resource = MetadataStoreResource(opensearch_url=opensearch_service.url, index_prefix=prefix,
                                     opensearch_replicas=0)
    store = OpenSearchStore(opensearch_service.url, index_prefix=prefix, number_of_replicas=0)
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(namespace, deployment("web", "registry.local/web:5", replicas=3))
    wait_pods(api, namespace, "web", 3)

    first = metadata(snapshot(k8s_cluster.kubeconfig, resource, instance, namespaces=[namespace]))
    assert first["new_documents"] == 4 and first["pods"] == 3
    pods = store.find(INDEX, "containers.image_digest", digest_of("registry.local/web:5"))
    assert len(pods) == 3 and {p["doc_type"] for p in pods} == {"pod"}
    assert all(p["current"] == CLUSTER and p["node"]["instance_type"] == "kwok.fake" for p in pods)

    again = metadata(snapshot(k8s_cluster.kubeconfig, resource, instance, namespaces=[namespace]))
    assert (again["new_documents"], again["refreshed_documents"]) == (0, 4)
    assert store.count(INDEX) == 4

    apps.patch_namespaced_deployment_scale("web", namespace, {"spec": {"replicas": 1}})
    wait_pods(api, namespace, "web", 1)
    wait_until(lambda: apps.read_namespaced_deployment("web", namespace).status.replicas == 1,
               what="scaled down", timeout=30)
    down = metadata(snapshot(k8s_cluster.kubeconfig, resource, instance, namespaces=[namespace]))
    assert down["gone_objects"] == 2 and down["new_documents"] == 1  # the Deployment's new replica count
    open_versions = read_open_versions(store, CLUSTER, [namespace])
    assert sorted(v.doc_type for v in open_versions) == ["pod", "workload"]
    assert store.count(INDEX) == 5
    store.close()
