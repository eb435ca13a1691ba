"""Correctness on known truth, every scenario on the real services: real registry digests, the
real control plane (kwok as the runtime), the Jenkins emulator, and the real assets joining them.
Each scenario asserts the record's build, commits and flags."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import requests

from c2c_dagster_tests.traceability.pipeline import Pipeline, sha


def only(records: list[dict]) -> dict:
    assert len(records) == 1, records
    return records[0]


def test_a_retag_of_the_same_digest_is_traced_to_the_build_whose_tag_runs(pipeline: Pipeline) -> None:
    commit = sha("retag")
    digest = pipeline.push("web", "v1", "retag", revision=commit)
    assert pipeline.retag("web", "v1", "v1-prod") == digest
    pipeline.ci_build(1, "web", "v1", digest, commit=commit)
    pipeline.ci_build(2, "web", "v1-prod", digest, commit=commit)
    pipeline.deploy("web", pipeline.ref("web", "v1-prod"), digest=digest)
    pipeline.wait_running("web", 2)
    record = only(pipeline.run())
    assert (record["build_id"], record["match_key"], record["match_confidence"]) == ("shop/web/main-2", "image_digest", "exact")
    assert record["commit_ids"] == [commit]
    assert record["flags"] == []  # two tags, one digest: nothing moved
    assert len(record["pods"]) == 2 and all(p["nodeName"] for p in record["pods"])


def test_a_rebuild_of_the_same_commit_with_a_new_digest(pipeline: Pipeline) -> None:
    commit = sha("rebuild")
    first = pipeline.push("api", "b1", "rebuild one", revision=commit)
    second = pipeline.push("api", "b2", "rebuild two", revision=commit)
    assert first != second
    pipeline.ci_build(1, "api", "b1", first, commit=commit)
    pipeline.ci_build(2, "api", "b2", second, commit=commit)
    pipeline.deploy("api", pipeline.ref("api", second))  # pinned by digest
    pipeline.wait_running("api", 2)
    record = only(pipeline.run())
    assert (record["build_id"], record["image_digest"], record["commit_ids"]) == ("shop/web/main-2", second, [commit])
    assert record["flags"] == []


def test_a_multi_arch_index_matches_the_platform_digest_a_node_runs(pipeline: Pipeline) -> None:
    commit = sha("multiarch")
    registry, repo = pipeline.registry, pipeline.repo("multi")
    index_ref = pipeline.ref("multi", "v1")
    manifest_list = f"{pipeline.namespace}-multi"
    registry.buildah("manifest", "create", manifest_list)
    for arch in ("amd64", "arm64"):
        pipeline.push("multi", arch, f"{arch} build", revision=commit)
        registry.buildah("manifest", "add", "--os", "linux", "--arch", arch, manifest_list,
                         f"containers-storage:{pipeline.ref('multi', arch)}")
    registry.buildah("manifest", "push", "--all", "--tls-verify=false", manifest_list, f"docker://{index_ref}")
    index = registry.manifest_digest(repo, "v1")
    listed = requests.get(f"{registry.url}/v2/{repo}/manifests/v1", timeout=10,
                          headers={"Accept": "application/vnd.oci.image.index.v1+json"}).json()["manifests"]
    platforms = {m["platform"]["architecture"]: m["digest"] for m in listed}
    pipeline.ci_build(1, "multi", "v1", index, commit=commit,
                      platforms=[{"platform": f"linux/{arch}", "digest": d} for arch, d in sorted(platforms.items())])
    # The node runs the arm64 manifest of the index the spec names by tag.
    pipeline.deploy("multi", index_ref, digest=platforms["arm64"], replicas=1)
    pipeline.wait_running("multi", 1)
    record = only(pipeline.run())
    assert (record["build_id"], record["match_key"], record["match_confidence"]) == ("shop/web/main-1", "platform_digest", "exact")
    assert record["image_digest"] == platforms["arm64"] != index
    assert "digest_mismatch" not in record["flags"] and "untraceable" not in record["flags"]


def test_a_rollback_is_a_release_event_back_to_an_earlier_digest(pipeline: Pipeline) -> None:
    one, two = sha("rb-1"), sha("rb-2")
    d1 = pipeline.push("web", "r1", "release one", revision=one)
    d2 = pipeline.push("web", "r2", "release two", revision=two)
    pipeline.ci_build(1, "web", "r1", d1, commit=one)
    pipeline.ci_build(2, "web", "r2", d2, commit=two)
    pipeline.deploy("web", pipeline.ref("web", d1), replicas=1)
    pipeline.wait_running("web", 1)
    assert only(pipeline.run())["build_id"] == "shop/web/main-1"
    pipeline.deploy("web", pipeline.ref("web", d2), replicas=1)
    pipeline.wait_running("web", 1)
    assert only(pipeline.run())["build_id"] == "shop/web/main-2"
    pipeline.deploy("web", pipeline.ref("web", d1), replicas=1)
    pipeline.wait_running("web", 1)
    assert only(pipeline.run())["build_id"] == "shop/web/main-1"
    events = pipeline.release_events()
    assert [(e["from_build_id"], e["to_build_id"], e["rollback"]) for e in events] == [
        ("shop/web/main-1", "shop/web/main-2", False), ("shop/web/main-2", "shop/web/main-1", True)]
    assert events[0]["to_commit_ids"] == [two]
    # The record of the digest that stopped running stays, as history.
    assert [r["image_digest"] for r in pipeline.records(running=False)] == [d2]


def test_two_workloads_on_one_image(pipeline: Pipeline) -> None:
    commit = sha("shared")
    digest = pipeline.push("shared", "v1", "shared image", revision=commit)
    pipeline.ci_build(1, "shared", "v1", digest, commit=commit)
    for name in ("web", "worker"):
        pipeline.deploy(name, pipeline.ref("shared", digest), replicas=1)
    pipeline.wait_running("web", 1)
    pipeline.wait_running("worker", 1)
    records = pipeline.run()
    assert [(r["workload_name"], r["build_id"], r["flags"]) for r in records] == [
        ("web", "shop/web/main-1", []), ("worker", "shop/web/main-1", [])]


def test_an_image_no_ci_built_is_untraceable(pipeline: Pipeline) -> None:
    digest = pipeline.push("handmade", "latest", "pushed by hand", revision=sha("laptop"))
    pipeline.deploy("handmade", pipeline.ref("handmade", "latest"), digest=digest, replicas=1)
    pipeline.wait_running("handmade", 1)
    record = only(pipeline.run())
    assert record["build_id"] is None and record["match_key"] == "none"
    assert record["flags"] == ["untraceable"]


def test_a_failed_build_whose_image_was_pushed_anyway(pipeline: Pipeline) -> None:
    commit = sha("failed")
    digest = pipeline.push("web", "broken", "tests failed after push", revision=commit)
    pipeline.ci_build(1, "web", "broken", digest, commit=commit, status="FAILURE")
    pipeline.deploy("web", pipeline.ref("web", digest), replicas=1)
    pipeline.wait_running("web", 1)
    record = only(pipeline.run())
    assert (record["build_id"], record["build_status"]) == ("shop/web/main-1", "FAILURE")
    assert record["flags"] == ["failed_build_deployed"]


def test_a_commit_label_ties_an_image_ci_did_not_record(pipeline: Pipeline) -> None:
    # CI built commit C (digest recorded), then someone rebuilt C by hand: no digest matches,
    # but the image's revision label, read from the real registry, names the commit.
    commit = sha("label")
    built = pipeline.push("web", "ci", "from ci", revision=commit)
    by_hand = pipeline.push("web", "hand", "from a laptop", revision=commit)
    pipeline.ci_build(1, "web", "ci", built, commit=commit)
    pipeline.deploy("web", pipeline.ref("web", by_hand), replicas=1)
    pipeline.wait_running("web", 1)
    record = only(pipeline.run())
    assert (record["build_id"], record["match_key"], record["match_confidence"]) == ("shop/web/main-1", "commit_id", "commit")
    assert record["flags"] == ["untraceable"]


def test_a_rollout_in_progress_is_not_mixed_versions(pipeline: Pipeline) -> None:
    one, two = sha("ro-1"), sha("ro-2")
    d1 = pipeline.push("web", "v1", "rollout one", revision=one)
    d2 = pipeline.push("web", "v2", "rollout two", revision=two)
    pipeline.ci_build(1, "web", "v1", d1, commit=one)
    pipeline.ci_build(2, "web", "v2", d2, commit=two)
    pipeline.deploy("web", pipeline.ref("web", "v1"), digest=d1, replicas=2)
    pipeline.wait_running("web", 2)
    pipeline.run()
    # v2's first pod is held Pending: old pods keep running, the rollout stays in progress.
    pipeline.deploy("web", pipeline.ref("web", "v2"), digest=d2, replicas=2, hold_new_pods=True)
    pipeline.wait_running("web", 2, pending=1)
    records = pipeline.run()
    old = only([r for r in records if r["image_digest"] == d1])
    assert (old["build_id"], old["image"]) == ("shop/web/main-1", pipeline.ref("web", "v1"))
    assert "mixed_versions" not in old["flags"] and "digest_mismatch" not in old["flags"]
    # The held pod has no digest yet: recorded as pending, never guessed, not judged.
    pending = only([r for r in records if r["image_digest"] is None])
    assert pending["match_key"] in ("image_tag", "none")
    assert (pending["digest_state"], pending["flags"]) == ("pending", [])


@pytest.mark.argocd
def test_argocd_config_revision_stays_apart_from_the_app_commit_and_drift_shows(pipeline: Pipeline, argocd,
                                                                                 tmp_path: Path) -> None:
    from kubernetes import client

    from c2c_dagster.argocd.sensors import argocd_sync_sensor
    from c2c_devstack.services.argocd import ConfigRepo, deployment_manifest, manifests_yaml

    app_commit = sha("app source")
    digest = pipeline.push("web", "v1", "argo managed", revision=app_commit)
    pipeline.ci_build(1, "web", "v1", digest, commit=app_commit)

    # The GitOps repo names the image by tag; the real Argo CD syncs it (automated, no self-heal,
    # so a hand edit stays). The pod annotation tells kwok the digest containerd would pull.
    config = ConfigRepo.create(tmp_path / "gitops")

    def release(image: str, pod_digest: str, **changes) -> str:
        manifest = deployment_manifest("web", image, pod_annotations={"c2c.test/image-digest": pod_digest})
        manifest["spec"].update(changes)
        return config.commit({"web/deployment.yaml": manifests_yaml(manifest)}, f"release {image}")

    config_commit = release(pipeline.ref("web", "v1"), digest)
    app_namespace = argocd.create_namespace()
    try:
        argocd.create_application(app_namespace, "web", dest_namespace=pipeline.namespace,
                                  sources=[{"repoURL": config.url, "path": "web", "targetRevision": "main"}],
                                  retry={"limit": 0})
        argocd.wait_for_operation(app_namespace, "web", revision=config_commit)
        pipeline.wait_running("web", 1)
        resources = pipeline.resources()

        def sensor_tick(cursor: str | None) -> str:
            context = dg.build_sensor_context(cursor=cursor, instance=pipeline.instance, resources={
                "kubernetes": resources["kubernetes"], "store": resources["store"]})
            return argocd_sync_sensor(context).cursor

        cursor = sensor_tick(None)
        assert pipeline.store.find("argocd-sync-events", "revision", config_commit)

        record = only(pipeline.run())
        # Argo CD's tracking annotation (<app namespace>_<app>) links the workload to the app.
        assert record["argocd_app"] == f"{app_namespace}/web"
        assert record["argocd_revision"] == config_commit
        assert record["commit_ids"] == [app_commit] and config_commit not in record["commit_ids"]
        assert record["build_id"] == "shop/web/main-1"
        assert "drift" not in record["flags"]

        # A release Argo CD fails to apply (the API server refuses replicas -1): the app keeps
        # running what the last successful sync deployed, and that sync stays its config revision.
        broken = pipeline.push("web", "v2", "never ran", revision=sha("v2"))
        failed_commit = release(pipeline.ref("web", "v2"), broken, replicas=-1)
        argocd.refresh(app_namespace, "web")
        failed = argocd.wait_for_operation(app_namespace, "web", revision=failed_commit)
        assert failed["status"]["operationState"]["phase"] == "Failed"
        cursor = sensor_tick(cursor)
        record = only(pipeline.run())
        assert (record["argocd_revision"], record["image_digest"]) == (config_commit, digest)
        assert "drift" not in record["flags"]

        # Someone edits the Deployment by hand to an image no sync declared: drift.
        hotfix = pipeline.push("web", "hotfix", "kubectl edit", revision=sha("hotfix"))
        pipeline.apps.patch_namespaced_deployment("web", pipeline.namespace, {"spec": {"template": {
            "metadata": {"annotations": {"c2c.test/image-digest": hotfix}},
            "spec": {"containers": [{"name": "web", "image": pipeline.ref("web", "hotfix")}]}}}})
        pipeline.wait_running("web", 1)
        drifted = only(pipeline.run())
        assert drifted["image_digest"] == hotfix
        assert drifted["flags"] == ["untraceable", "drift"]
    finally:
        with argocd.cluster.api_client() as api:
            client.CustomObjectsApi(api).delete_collection_namespaced_custom_object(
                "argoproj.io", "v1alpha1", app_namespace, "applications")
            client.CoreV1Api(api).delete_namespace(app_namespace)
