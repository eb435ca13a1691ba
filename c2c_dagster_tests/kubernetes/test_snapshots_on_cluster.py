"""deployment_snapshots on the real control plane (kwok nodes): a rollout's snapshot shows the old
and the new ReplicaSet's pods, scaling up and down opens and closes pod versions, a pod patched
into CrashLoopBackOff is recorded with its restarts and reasons, an Argo CD-managed workload carries
its Application and a post-sync run snapshots only that app; re-scans of an unchanged cluster write
no new documents."""

from __future__ import annotations

import pytest

from c2c_dagster.kubernetes.history import resolve_versions_last_seen
from c2c_dagster.store import DEPLOYMENT_METADATA, EmbeddedStore, MetadataStoreResource
from c2c_dagster_tests.kubernetes.conftest import CLUSTER, deployment, metadata, snapshot, wait_pods
from c2c_devstack.kube_objects import digest_of
from c2c_devstack.services import wait_until

pytestmark = pytest.mark.kubernetes
INDEX = DEPLOYMENT_METADATA.name
# kwok's pod-ready stage holds a pod Pending for this long (services/k8s/kwok-stages.yaml).
HOLD_PENDING = {"pod-ready.stage.kwok.x-k8s.io/delay": "1h"}


def _store(tmp_path) -> tuple[MetadataStoreResource, EmbeddedStore]:
    path = tmp_path / "store.sqlite"
    return MetadataStoreResource(embedded_path=str(path)), EmbeddedStore(path)


def _current(store: EmbeddedStore, namespace: str) -> tuple[dict[str, dict], dict[str, dict]]:
    """(workloads by key, pods by name) of the open versions in one namespace."""
    docs = store.find(INDEX, "current_ns", f"{CLUSTER}/{namespace}", limit=10000)
    return ({d["workload"]: d for d in docs if d["doc_type"] == "workload"},
            {d["pod_name"]: d for d in docs if d["doc_type"] == "pod"})


def test_rollout_snapshot_shows_old_and_new_replicaset_pods(k8s_cluster, api, namespace, tmp_path, instance):
    from kubernetes import client

    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(namespace, deployment("web", "registry.local/web:1.0", replicas=2))
    wait_pods(api, namespace, "web", 2)
    resource, store = _store(tmp_path)
    first = metadata(snapshot(k8s_cluster.kubeconfig, resource, instance))
    assert first["partial"] is False and first["new_documents"] >= 3

    # maxSurge 1 / maxUnavailable 0, and the new pod held Pending by kwok: the rollout stops
    # with both ReplicaSets running pods, deterministically.
    apps.patch_namespaced_deployment("web", namespace, {"spec": {"template": {
        "metadata": {"annotations": HOLD_PENDING},
        "spec": {"containers": [{"name": "app", "image": "registry.local/web:2.0"}]}}}})
    wait_pods(api, namespace, "web", 3, phase=None,
              check=lambda pods: sorted(p.status.phase for p in pods) == ["Pending", "Running", "Running"])
    wait_until(lambda: apps.read_namespaced_deployment("web", namespace).status.observed_generation == 2,
               what="rollout observed", timeout=30)
    versions_before = len(store.find(INDEX, "namespace", namespace, limit=10000))
    during = metadata(snapshot(k8s_cluster.kubeconfig, resource, instance))
    workloads, pods = _current(store, namespace)
    web = workloads[f"Deployment/{namespace}/web"]
    assert web["revision"] == "2" and web["generation"] == 2 and web["observedGeneration"] == 2
    assert web["rollout_complete"] is False
    assert sorted(rs["revision"] for rs in web["replicasets"]) == ["1", "2"]
    assert web["containers"][0]["image"] == "registry.local/web:2.0"
    by_revision = {}
    for pod in pods.values():
        by_revision.setdefault(pod["revision"], []).append(pod)
    assert len(by_revision["1"]) == 2 and len(by_revision["2"]) == 1
    assert {p["containers"][0]["image"] for p in by_revision["1"]} == {"registry.local/web:1.0"}
    assert all(p["phase"] == "Running" and p["containers"][0]["image_digest"] == digest_of("registry.local/web:1.0")
               for p in by_revision["1"])
    (new,) = by_revision["2"]
    # Still "pulling": no imageID yet, so no digest — recorded as unknown, never guessed.
    assert new["phase"] == "Pending" and new["containers"][0]["image_digest"] is None
    assert during["digests_unknown"] >= 1
    # History: the workload and the one new pod are new versions; the old pods are unchanged, and
    # read against the scan's watermark they were seen by it. Counted in this namespace: the scan
    # reads the whole cluster the session shares, where other tests' objects may change meanwhile
    # (a namespace being deleted under load: 3 new documents once).
    assert len(store.find(INDEX, "namespace", namespace, limit=10000)) - versions_before == 2
    assert during["new_documents"] >= 2
    (old_pod,) = resolve_versions_last_seen(store, [by_revision["1"][0]])
    assert old_pod["first_seen"] < old_pod["last_seen"]


def test_scale_up_and_down_opens_and_closes_pod_versions(k8s_cluster, api, namespace, tmp_path, instance):
    from kubernetes import client

    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(namespace, deployment("api", "registry.local/api:3", replicas=1))
    wait_pods(api, namespace, "api", 1)
    resource, store = _store(tmp_path)
    snapshot(k8s_cluster.kubeconfig, resource, instance)
    assert len(_current(store, namespace)[1]) == 1

    apps.patch_namespaced_deployment_scale("api", namespace, {"spec": {"replicas": 4}})
    wait_pods(api, namespace, "api", 4)
    wait_until(lambda: apps.read_namespaced_deployment("api", namespace).status.ready_replicas == 4,
               what="4 ready", timeout=30)
    snapshot(k8s_cluster.kubeconfig, resource, instance)
    workloads, pods = _current(store, namespace)
    assert len(pods) == 4 and workloads[f"Deployment/{namespace}/api"]["replicas"]["desired"] == 4
    assert workloads[f"Deployment/{namespace}/api"]["replicas"]["ready"] == 4
    assert {p["node"]["zone"] for p in pods.values()} <= {"zone-a", "zone-b", "zone-c"}
    assert all(p["node"]["instance_type"] == "kwok.fake" and p["podIP"] and p["hostIP"] for p in pods.values())

    apps.patch_namespaced_deployment_scale("api", namespace, {"spec": {"replicas": 2}})
    wait_pods(api, namespace, "api", 2)
    wait_until(lambda: apps.read_namespaced_deployment("api", namespace).status.replicas == 2,
               what="scaled down", timeout=30)
    down = metadata(snapshot(k8s_cluster.kubeconfig, resource, instance))
    workloads, pods = _current(store, namespace)
    assert len(pods) == 2 and workloads[f"Deployment/{namespace}/api"]["replicas"]["desired"] == 2
    assert down["gone_objects"] >= 2
    gone = [d for d in store.find(INDEX, "namespace", namespace, limit=1000) if d.get("gone")]
    assert len(gone) == 2 and all(d["doc_type"] == "pod" and d["current"] is None for d in gone)

    # Unchanged: the next scan adds no version in this namespace and rewrites none (its
    # watermark does); read against it, every open version was last seen by that scan.
    versions = store.find(INDEX, "namespace", namespace, limit=1000)
    unchanged = metadata(snapshot(k8s_cluster.kubeconfig, resource, instance))
    for _ in range(2):
        # A LIST that fails under load makes the scan partial (seen once in CI, 2 cores at load
        # 6): it proves nothing about what it did not list, so it refreshes what it saw instead of
        # writing a watermark. That is right, and not what this step is about: scan again.
        if not unchanged["partial"]:
            break
        assert unchanged["scan_watermark"] == "not advanced (scoped or partial)", unchanged
        unchanged = metadata(snapshot(k8s_cluster.kubeconfig, resource, instance))
    assert not unchanged["partial"], unchanged["errors"]
    assert len(store.find(INDEX, "namespace", namespace, limit=1000)) == len(versions)
    assert unchanged["refreshed_documents"] == 0 and unchanged["new_documents"] == 0
    assert unchanged["documents_written"] == 1 + unchanged["closed_documents"]  # other tests' namespaces churn
    seen = {d["last_seen"] for d in resolve_versions_last_seen(store, _current(store, namespace)[1].values())}
    assert seen == {unchanged["scan_watermark"]} and seen != {d["last_seen"] for d in pods.values()}


def test_crashlooping_pod_is_recorded_with_restarts_and_reasons(k8s_cluster, api, namespace, tmp_path, instance):
    from kubernetes import client

    core = client.CoreV1Api(api)
    client.AppsV1Api(api).create_namespaced_deployment(namespace, deployment("worker", "registry.local/w:1",
                                                                             replicas=1))
    (pod,) = wait_pods(api, namespace, "worker", 1)
    running = pod.status.container_statuses[0]

    def crash(restarts: int) -> None:
        # kwok's stages select Pending pods only (and Job pods), so a Running pod's status is
        # ours to write, as a kubelet would after the container died.
        core.patch_namespaced_pod_status(pod.metadata.name, namespace, {"status": {
            "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
            "containerStatuses": [{
                "name": "app", "image": running.image, "imageID": running.image_id,
                "containerID": running.container_id, "ready": False, "started": False, "restartCount": restarts,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting"}},
                "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137,
                                             "startedAt": "2026-01-01T00:00:00Z",
                                             "finishedAt": "2026-01-01T00:01:00Z"}},
            }]}})

    crash(3)
    resource, store = _store(tmp_path)
    snapshot(k8s_cluster.kubeconfig, resource, instance)
    (doc,) = _current(store, namespace)[1].values()
    (container,) = doc["containers"]
    assert (container["state"], container["reason"], container["restartCount"]) == ("waiting", "CrashLoopBackOff", 3)
    assert (container["last_state"], container["last_state_reason"], container["last_exitCode"]) == (
        "terminated", "OOMKilled", 137)
    assert doc["ready"] is False and doc["phase"] == "Running"
    assert store.find(INDEX, "pod_name", pod.metadata.name)[0]["containers"][0]["image_digest"] == \
        digest_of("registry.local/w:1")

    # Another restart is another version: the crash history is kept, one version per change.
    crash(4)
    second = metadata(snapshot(k8s_cluster.kubeconfig, resource, instance))
    versions = sorted(store.find(INDEX, "pod_name", pod.metadata.name), key=lambda d: d["first_seen"])
    assert [v["containers"][0]["restartCount"] for v in versions] == [3, 4]
    assert versions[0]["until"] == versions[1]["first_seen"] and versions[1]["current"] == CLUSTER
    assert second["new_documents"] >= 1


def test_argocd_managed_workload_and_scoped_post_sync_snapshot(k8s_cluster, api, namespace, tmp_path, instance):
    from kubernetes import client

    custom = client.CustomObjectsApi(api)
    argocd_ns = f"{namespace}-argocd"
    client.CoreV1Api(api).create_namespace({"metadata": {"name": argocd_ns}})
    try:
        for name, destination in (("shop", namespace), ("ghost", "namespace-that-does-not-exist")):
            custom.create_namespaced_custom_object("argoproj.io", "v1alpha1", argocd_ns, "applications", {
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                "metadata": {"name": name, "namespace": argocd_ns},
                "spec": {"project": "default",
                         "source": {"repoURL": "https://git.example/config.git", "path": name,
                                    "targetRevision": "main"},
                         "destination": {"server": "https://kubernetes.default.svc", "namespace": destination}},
            })
        apps = client.AppsV1Api(api)
        apps.create_namespaced_deployment(namespace, deployment(
            "cart", "registry.local/cart:7", replicas=1, labels={"app.kubernetes.io/instance": "shop"}))
        apps.create_namespaced_deployment(namespace, deployment("manual", "registry.local/manual:1", replicas=1))
        wait_pods(api, namespace, "cart", 1)
        wait_pods(api, namespace, "manual", 1)

        resource, store = _store(tmp_path)
        scan = metadata(snapshot(k8s_cluster.kubeconfig, resource, instance))
        assert scan["argocd_applications_listed"] is True and scan["partial"] is False
        workloads, pods = _current(store, namespace)
        assert workloads[f"Deployment/{namespace}/cart"]["argocd_app"] == f"{argocd_ns}/shop"
        assert workloads[f"Deployment/{namespace}/manual"]["argocd_app"] is None
        assert {p["argocd_app"] for p in pods.values()} == {f"{argocd_ns}/shop", None}

        # What the Argo CD sensor asks for after a sync of "shop": only that app's objects,
        # listed in its namespace; the manual Deployment is neither rewritten nor closed.
        apps.patch_namespaced_deployment("cart", namespace, {"spec": {"template": {"spec": {
            "containers": [{"name": "app", "image": "registry.local/cart:8"}]}}}})
        wait_pods(api, namespace, "cart", 1,
                  check=lambda ps: ps[0].spec.containers[0].image == "registry.local/cart:8")
        post = metadata(snapshot(k8s_cluster.kubeconfig, resource, instance, mode="post-sync",
                                 namespaces=[namespace], argocd_app=f"{argocd_ns}/shop",
                                 sync_event_id=f"{argocd_ns}/shop/2"))
        assert post["mode"] == "post-sync" and post["workloads"] == 1 and post["pods"] == 1
        workloads, pods = _current(store, namespace)
        cart = workloads[f"Deployment/{namespace}/cart"]
        assert cart["mode"] == "post-sync" and cart["sync_event_id"] == f"{argocd_ns}/shop/2"
        assert workloads[f"Deployment/{namespace}/manual"]["mode"] == "scan"
        cart_pods = [p for p in pods.values() if p["workload_name"] == "cart"]
        assert [p["containers"][0]["image"] for p in cart_pods] == ["registry.local/cart:8"]
        assert len(pods) == 2  # the manual pod stays open
    finally:
        client.CoreV1Api(api).delete_namespace(argocd_ns)


def test_cronjob_pods_and_bare_pods_with_init_and_ephemeral_containers(k8s_cluster, api, namespace, tmp_path,
                                                                       instance):
    from kubernetes import client

    core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
    # A suspended CronJob and a Job it owns (what the CronJob controller would create at a tick,
    # without waiting a minute for one); the Job controller makes the pod, kwok completes it.
    cron = batch.create_namespaced_cron_job(namespace, {
        "metadata": {"name": "nightly"},
        "spec": {"schedule": "0 3 * * *", "suspend": True, "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "report", "image": "registry.local/report:9"}]}}}}}})
    batch.create_namespaced_job(namespace, {
        "metadata": {"name": "nightly-29000000", "ownerReferences": [{
            "apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly", "uid": cron.metadata.uid,
            "controller": True, "blockOwnerDeletion": True}]},
        "spec": {"template": {"metadata": {"labels": {"app": "nightly"}}, "spec": {
            "restartPolicy": "Never", "containers": [{"name": "report", "image": "registry.local/report:9"}]}}}})
    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "toolbox", "labels": {"app": "toolbox"}},
        "spec": {"initContainers": [{"name": "setup", "image": "busybox:1.36"}],
                 "containers": [{"name": "shell", "image": "busybox"}]}})
    wait_pods(api, namespace, "nightly", 1, phase="Succeeded")
    wait_pods(api, namespace, "toolbox", 1)
    # An ephemeral debug container, added the way `kubectl debug` does (its own subresource).
    core.patch_namespaced_pod_ephemeralcontainers("toolbox", namespace, {"spec": {"ephemeralContainers": [
        {"name": "debugger", "image": "nicolaka/netshoot:v0.13", "targetContainerName": "shell"}]}})

    resource, store = _store(tmp_path)
    snapshot(k8s_cluster.kubeconfig, resource, instance)
    _, pods = _current(store, namespace)
    (job_pod,) = [p for p in pods.values() if p["pod_name"].startswith("nightly-")]
    assert job_pod["workload"] == f"CronJob/{namespace}/nightly" and job_pod["phase"] == "Succeeded"
    assert job_pod["containers"][0]["state"] == "terminated" and job_pod["containers"][0]["reason"] == "Completed"
    toolbox = pods["toolbox"]
    assert toolbox["workload"] == f"Pod/{namespace}/toolbox" and toolbox["workload_kind"] == "Pod"
    containers = {c["name"]: c for c in toolbox["containers"]}
    assert {n: c["type"] for n, c in containers.items()} == {"setup": "init", "shell": "regular",
                                                               "debugger": "ephemeral"}
    assert containers["setup"]["reason"] == "Completed" and containers["setup"]["image_digest"]
    assert containers["shell"]["image_pin"] == "latest" and containers["shell"]["image_digest"]
    # No kubelet reports the debug container's status: its digest is unknown, not guessed.
    assert containers["debugger"]["image_digest"] is None and containers["debugger"]["image_tag"] == "v0.13"
