"""The test Kubernetes cluster runs workloads end to end: Running pods with image digests.

Proves each real component does its part: the controller manager creates a ReplicaSet owned
by the Deployment and its pods, the scheduler binds them to kwok nodes, kwok reports them
Running with podIP/hostIP and the per-container imageID/containerID that c2c's traceability
reads (digest-pinned image -> that digest; c2c.test/image-digest-<container> annotation ->
that digest; otherwise a stable stand-in), deletes them on scale-down and completes Job pods.
Also that Argo CD's Application CRD is served.
"""

from __future__ import annotations

import hashlib
import uuid

import pytest

from c2c_devstack.services import wait_until

pytestmark = pytest.mark.kubernetes

PINNED_DIGEST = "sha256:" + hashlib.sha256(b"c2c pinned image").hexdigest()
ANNOTATED_DIGEST = "sha256:" + hashlib.sha256(b"c2c annotated image").hexdigest()


def _deployment(name: str, template_annotations: dict, containers: list, init_containers=()):
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": template_annotations},
                "spec": {"containers": containers, "initContainers": list(init_containers)},
            },
        },
    }


@pytest.fixture
def k8s(k8s_cluster):
    """(api client, a fresh namespace) on the session's cluster; the namespace is deleted after."""
    from kubernetes import client

    with k8s_cluster.api_client() as api:
        namespace = f"smoke-{uuid.uuid4().hex[:8]}"
        client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
        try:
            yield api, namespace
        finally:
            client.CoreV1Api(api).delete_namespace(namespace)


def _running_pods(core, namespace: str, app: str, replicas: int):
    """The app's pods once all ``replicas`` are Running (else None, to keep polling)."""
    pods = core.list_namespaced_pod(namespace, label_selector=f"app={app}").items
    if len(pods) == replicas and all(p.status.phase == "Running" for p in pods):
        return pods
    return None


def test_deployments_run_on_kwok_nodes_with_image_digests(k8s):
    from kubernetes import client

    api, namespace = k8s
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    kwok_nodes = {
        n.metadata.name
        for n in core.list_node(label_selector="kwok.x-k8s.io/node=fake").items
    }
    assert len(kwok_nodes) >= 2

    # "app": tag-only image whose digest comes from the pod annotation, an unannotated
    # sidecar (stand-in digest) and an init container (must end Completed).
    apps.create_namespaced_deployment(namespace, _deployment(
        "app",
        {"c2c.test/image-digest-app": ANNOTATED_DIGEST},
        containers=[
            {"name": "app", "image": "registry.local/app:1.0"},
            {"name": "sidecar", "image": "registry.local/sidecar:2.0"},
        ],
        init_containers=[{"name": "migrate", "image": "registry.local/migrate:1.0"}],
    ))
    # "pinned": image referenced by digest; the reported imageID is that digest.
    apps.create_namespaced_deployment(namespace, _deployment(
        "pinned", {}, containers=[{"name": "app", "image": f"registry.local/app@{PINNED_DIGEST}"}],
    ))

    # Controller manager: a ReplicaSet controlled by each Deployment.
    for name in ("app", "pinned"):
        deployment = apps.read_namespaced_deployment(name, namespace)

        def owned_replicaset(deployment=deployment):
            for rs in apps.list_namespaced_replica_set(namespace).items:
                for ref in rs.metadata.owner_references or []:
                    if ref.uid == deployment.metadata.uid and ref.controller:
                        return rs
            return None

        wait_until(owned_replicaset, what=f"ReplicaSet of {name}", timeout=60)

    # Scheduler + kwok: both Deployments' pods bound to kwok nodes and Running.
    pods = {}
    for name in ("app", "pinned"):
        wait_until(lambda name=name: _running_pods(core, namespace, name, 2),
                   what=f"{name} pods Running", timeout=60)
        pods[name] = _running_pods(core, namespace, name, 2)

    for pod in pods["app"] + pods["pinned"]:
        assert pod.spec.node_name in kwok_nodes
        assert pod.status.pod_ip and pod.status.host_ip
        conditions = {c.type: c.status for c in pod.status.conditions}
        for condition in ("PodScheduled", "Initialized", "ContainersReady", "Ready"):
            assert conditions.get(condition) == "True", (pod.metadata.name, conditions)
        for status in pod.status.container_statuses:
            assert status.ready and status.started and status.restart_count == 0
            assert status.state.running and status.state.running.started_at
            assert status.container_id.startswith("containerd://")
            assert status.image_id

    # Distinct pod IPs: kwok allocates from each node's own pod CIDR.
    all_pods = pods["app"] + pods["pinned"]
    assert len({p.status.pod_ip for p in all_pods}) == len(all_pods)

    for pod in pods["app"]:
        image_ids = {s.name: s.image_id for s in pod.status.container_statuses}
        assert image_ids["app"] == f"registry.local/app@{ANNOTATED_DIGEST}"
        stand_in = hashlib.sha256(b"registry.local/sidecar:2.0").hexdigest()
        assert image_ids["sidecar"] == f"registry.local/sidecar@sha256:{stand_in}"
        (init,) = pod.status.init_container_statuses
        assert init.state.terminated.reason == "Completed" and init.state.terminated.exit_code == 0
        assert init.image_id.startswith("registry.local/migrate@sha256:")

    for pod in pods["pinned"]:
        (status,) = pod.status.container_statuses
        assert status.image_id == f"registry.local/app@{PINNED_DIGEST}"

    # The Deployment controller sees the ready pods: the rollout completes.
    wait_until(
        lambda: apps.read_namespaced_deployment("app", namespace).status.available_replicas == 2,
        what="app Deployment available", timeout=60)

    # kwok's pod-delete stage: scaled-down pods go away instead of hanging in Terminating.
    apps.patch_namespaced_deployment_scale("pinned", namespace, {"spec": {"replicas": 0}})
    wait_until(lambda: not core.list_namespaced_pod(namespace, label_selector="app=pinned").items,
               what="pinned pods deleted", timeout=60)


def test_job_pods_complete(k8s):
    """kwok's pod-complete stage: a Job's pod exits 0 and keeps its image digest."""
    from kubernetes import client

    api, namespace = k8s
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    batch.create_namespaced_job(namespace, {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "task"},
        "spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "task", "image": f"registry.local/task@{PINNED_DIGEST}"}],
        }}},
    })
    wait_until(lambda: batch.read_namespaced_job("task", namespace).status.succeeded == 1,
               what="Job task succeeded", timeout=60)

    (pod,) = core.list_namespaced_pod(namespace, label_selector="job-name=task").items
    assert pod.status.phase == "Succeeded"
    (status,) = pod.status.container_statuses
    assert status.state.terminated.reason == "Completed"
    assert status.state.terminated.exit_code == 0
    assert status.image_id == f"registry.local/task@{PINNED_DIGEST}"
    assert status.container_id.startswith("containerd://")


def test_argocd_application_crd_is_served(k8s):
    from kubernetes import client

    api, namespace = k8s
    listed = client.CustomObjectsApi(api).list_namespaced_custom_object(
        "argoproj.io", "v1alpha1", namespace, "applications")
    assert listed["kind"] == "ApplicationList" and listed["items"] == []
