"""What real clusters hold beside CI's own images, on the real services (registry, control plane with
kwok as the runtime, Jenkins emulator, the real assets): third-party images, containers still pulling
their image, tags that moved. Each scenario asserts the records, their flags and the asset checks."""

from __future__ import annotations

from c2c_dagster.traceability.render import render
from c2c_dagster.traceability.resources import ImagePolicyResource
from c2c_dagster.traceability.trace import trace_workload
from c2c_dagster_tests.traceability.pipeline import Pipeline, sha
from c2c_devstack.services import wait_until

NGINX_DIGEST = "sha256:" + sha("nginx 1.27 as Docker Hub served it").ljust(64, "0")[:64]
PULLING = "c2c.test/image-pull"  # kwok holds such pods pulling (services/k8s/kwok-stages.yaml)


def by_workload(records: list[dict]) -> dict[tuple[str, str], dict]:
    return {(r["workload_name"], r["container_name"]): r for r in records}


def test_a_public_image_beside_a_ci_built_one_is_external_not_untraceable(pipeline: Pipeline) -> None:
    commit = sha("migrations")
    migrate = pipeline.push("migrate", "migrate-main-1-abc1234", "schema v7", revision=commit)
    pipeline.ci_build(1, "migrate", "migrate-main-1-abc1234", migrate, commit=commit)
    # The CI-built init container migrates the schema; nginx from Docker Hub serves. Two more
    # workloads name the same nginx the other ways Docker Hub can be written.
    pipeline.deploy("shop", None, replicas=1,
                    init_containers=[("migrate", pipeline.ref("migrate", "migrate-main-1-abc1234"), migrate)],
                    containers=[("nginx", "nginx:1.27", NGINX_DIGEST)])
    pipeline.deploy("edge", None, replicas=1, containers=[("nginx", "docker.io/library/nginx:1.27", NGINX_DIGEST)])
    pipeline.deploy("proxy", None, replicas=1,
                    containers=[("nginx", "index.docker.io/library/nginx:1.27", NGINX_DIGEST)])
    for name in ("shop", "edge", "proxy"):
        pipeline.wait_running(name, 1)

    records = by_workload(pipeline.run())
    init = records[("shop", "migrate")]
    assert (init["image_class"], init["build_id"], init["flags"]) == ("internal", "shop/web/main-1", [])
    for workload in ("shop", "edge", "proxy"):
        nginx = records[(workload, "nginx")]
        # Nothing configured: the registry CI pushed to is internal, Docker Hub's nginx is not.
        assert (nginx["image_class"], nginx["flags"], nginx["match_key"]) == ("external", [], "none"), workload
        assert (nginx["image_digest"], nginx["image_tag"], nginx["digest_state"]) == (NGINX_DIGEST, "1.27", "known")
    assert pipeline.flagged()["no_untraceable_workloads"] == []

    shown = render(trace_workload(pipeline.store, f"{pipeline.namespace}/shop"))
    assert "image     nginx:1.27  (external)" in shown and f"digest    {NGINX_DIGEST}" in shown
    assert "flags     none" in shown

    # Configured instead (a YAML policy file): only this namespace's "migrate" repository is
    # internal; a hand-pushed image beside it in the same registry is then external too.
    policy = pipeline.workdir / "image-policy.yaml"
    policy.write_text(f"internal:\n  - {pipeline.registry.host}/{pipeline.repo('migrate')}\n")
    pipeline.image_policy = ImagePolicyResource(policy_file=str(policy))
    vendored = pipeline.push("vendored-tool", "2.1", "a vendor's image, mirrored", revision=sha("vendor"))
    pipeline.deploy("tool", pipeline.ref("vendored-tool", "2.1"), digest=vendored, replicas=1)
    pipeline.wait_running("tool", 1)
    records = by_workload(pipeline.run())
    assert (records[("tool", "app")]["image_class"], records[("tool", "app")]["flags"]) == ("external", [])
    assert records[("shop", "migrate")]["image_class"] == "internal"


def test_a_container_still_pulling_is_pending_then_judged_once_its_digest_is_known(pipeline: Pipeline) -> None:
    commit = sha("pulling")
    digest = pipeline.push("web", "web-main-1-p0", "big image", revision=commit)
    pipeline.ci_build(1, "web", "web-main-1-p0", digest, commit=commit)
    hand = pipeline.push("cron", "nightly", "pushed by hand", revision=sha("laptop"))
    pipeline.deploy("web", pipeline.ref("web", "web-main-1-p0"), digest=digest, replicas=2,
                    annotations={PULLING: "ContainerCreating"})
    pipeline.deploy("cron", pipeline.ref("cron", "nightly"), digest=hand, replicas=1,
                    annotations={PULLING: "ImagePullBackOff"})

    def pulling() -> bool:
        pods = pipeline.core.list_namespaced_pod(pipeline.namespace).items
        return len(pods) == 3 and all(
            p.status.container_statuses and p.status.container_statuses[0].image_id == ""
            and p.status.container_statuses[0].state.waiting for p in pods)

    wait_until(pulling, what="pods pulling their images (kwok stage pod-pulling)", timeout=90)
    records = by_workload(pipeline.run())
    web, cron = records[("web", "app")], records[("cron", "app")]
    assert (web["digest_state"], web["image_digest"], web["pending_reason"]) == ("pending", None, "ContainerCreating")
    assert (web["image"], web["image_tag"]) == (pipeline.ref("web", "web-main-1-p0"), "web-main-1-p0")
    assert web["flags"] == [] and len(web["pods"]) == 2
    assert (cron["digest_state"], cron["pending_reason"], cron["flags"]) == ("pending", "ImagePullBackOff", [])
    assert pipeline.flagged()["no_untraceable_workloads"] == []
    assert "pending: not reported by the runtime yet (ContainerCreating)" in render(
        trace_workload(pipeline.store, f"{pipeline.namespace}/web"))

    # The pulls finish: the runtime reports the digests, and the containers are judged.
    for pod in pipeline.core.list_namespaced_pod(pipeline.namespace).items:
        pipeline.core.patch_namespaced_pod(pod.metadata.name, pipeline.namespace,
                                           {"metadata": {"annotations": {PULLING: None}}})
    pipeline.wait_running("web", 2)
    pipeline.wait_running("cron", 1)
    records = by_workload(pipeline.run())
    web, cron = records[("web", "app")], records[("cron", "app")]
    assert (web["digest_state"], web["image_digest"], web["build_id"], web["flags"]) == (
        "known", digest, "shop/web/main-1", [])
    assert (cron["image_digest"], cron["flags"]) == (hand, ["untraceable"])
    assert pipeline.flagged()["no_untraceable_workloads"] == [cron["record_id"]]
    # The pending record is history no trace shows as "ran before": nothing ran then.
    answer = trace_workload(pipeline.store, f"{pipeline.namespace}/web")
    assert [r.image_digest for r in answer.running] == [digest] and answer.previously == []


def test_a_tag_that_moved_is_flagged_and_a_tag_that_did_not_is_not(pipeline: Pipeline) -> None:
    one, two, three = sha("stable-1"), sha("stable-2"), sha("web-3")
    d1 = pipeline.push("app", "stable", "stable one", revision=one)
    pipeline.ci_build(1, "app", "stable", d1, commit=one)
    pipeline.deploy("api", pipeline.ref("app", "stable"), digest=d1, replicas=1)
    # CI pushes "stable" again: the registry now serves another image under the same tag.
    d2 = pipeline.push("app", "stable", "stable two", revision=two)
    pipeline.ci_build(2, "app", "stable", d2, commit=two)
    pipeline.deploy("worker", pipeline.ref("app", "stable"), digest=d2, replicas=1)
    # The job-build-sha tag scheme: pushed once, never moved.
    d3 = pipeline.push("web", "web-main-3-2f1e0c2", "web three", revision=three)
    pipeline.ci_build(3, "web", "web-main-3-2f1e0c2", d3, commit=three)
    pipeline.deploy("web", pipeline.ref("web", "web-main-3-2f1e0c2"), digest=d3, replicas=1)
    for name in ("api", "worker", "web"):
        pipeline.wait_running(name, 1)

    records = by_workload(pipeline.run())
    for name, build in (("api", "shop/web/main-1"), ("worker", "shop/web/main-2")):
        assert records[(name, "app")]["build_id"] == build
        assert "tag_moved" in records[(name, "app")]["flags"]
        assert records[(name, "app")]["tag_digests"] == sorted([d1, d2])
    assert records[("web", "app")]["flags"] == []  # a tag pinned by nothing but never moved: no flag
    flagged = pipeline.flagged()
    assert sorted(flagged["no_moved_tags"]) == sorted(r["record_id"] for k, r in records.items() if k[0] != "web")
    # Each runs a digest CI did record for "stable": no mismatch. Only the moved tag tells them apart.
    assert flagged["no_digest_mismatch"] == []

    # Not pinned by digest is advice, off by default: on by policy, it marks every tag-only spec.
    pipeline.image_policy = ImagePolicyResource(advise_digest_pinning=True)
    records = by_workload(pipeline.run())
    assert records[("web", "app")]["flags"] == ["not_pinned"]


def test_a_tag_re_pushed_by_hand_under_running_pods_is_seen_through_the_registry(pipeline: Pipeline) -> None:
    first = pipeline.push("hot", "fix-1", "hotfix as deployed", revision=sha("hot-1"))
    pipeline.ci_build(1, "web", "web-main-1-0000000", pipeline.push("web", "web-main-1-0000000", "w", revision=sha("w")),
                      commit=sha("w"))  # CI has pushed to this registry: it is internal
    pipeline.deploy("hot", pipeline.ref("hot", "fix-1"), digest=first, replicas=1)
    pipeline.wait_running("hot", 1)
    assert by_workload(pipeline.run())[("hot", "app")]["flags"] == ["untraceable"]
    # Someone pushes another image under the same tag; the running pod still runs the first.
    second = pipeline.push("hot", "fix-1", "hotfix, second attempt", revision=sha("hot-2"))
    assert second != first
    record = by_workload(pipeline.run())[("hot", "app")]
    assert record["image_digest"] == first
    assert record["flags"] == ["untraceable", "tag_moved"] and record["tag_digests"] == sorted([first, second])
    assert record["image_revision"] == sha("hot-1")  # what the registry's label says of the running image


def _metadata(pipeline: Pipeline) -> dict:
    (materialization,) = pipeline.last_run.asset_materializations_for_node("traceability_records")
    return {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}


def test_a_tag_ci_pushed_then_re_pushed_by_hand_is_seen_moved_through_one_registry_question(pipeline: Pipeline) -> None:
    commit = sha("release-7")
    built = pipeline.push("shop", "release-7", "release 7 as CI built it", revision=commit)
    pipeline.ci_build(1, "shop", "release-7", built, commit=commit)
    # Three workloads run the tag CI pushed, as CI recorded it.
    for name in ("front", "back", "jobs"):
        pipeline.deploy(name, pipeline.ref("shop", "release-7"), digest=built, replicas=1)
    for name in ("front", "back", "jobs"):
        pipeline.wait_running(name, 1)
    records = by_workload(pipeline.run())
    assert {r["flags"] == [] and r["build_id"] == "shop/web/main-1" for r in records.values()} == {True}
    assert _metadata(pipeline)["registry_tag_lookups"] >= 1

    # Someone pushes another image to the same tag by hand, outside CI; the pods still run the build.
    by_hand = pipeline.push("shop", "release-7", "patched by hand on the registry", revision=sha("hand"))
    assert by_hand != built and pipeline.registry.manifest_digest(pipeline.repo("shop"), "release-7") == by_hand
    records = by_workload(pipeline.run())
    for name in ("front", "back", "jobs"):
        record = records[(name, "app")]
        assert (record["image_digest"], record["build_id"], record["match_key"]) == (built, "shop/web/main-1", "image_digest")
        # The registry's digest beside the one running: the tag moved, nothing else is wrong.
        assert record["flags"] == ["tag_moved"] and record["tag_digests"] == sorted([built, by_hand])
    assert sorted(pipeline.flagged()["no_moved_tags"]) == sorted(r["record_id"] for r in records.values())
    # The registry was asked once for the tag the three workloads share (what the registry's own
    # access log shows for this repository), however many workloads name it.
    asked = [line for line in pipeline.registry.access_log("c2c-registry-client")
             if line.startswith(f"HEAD /v2/{pipeline.repo('shop')}/manifests/release-7 ")]
    assert len(asked) == 2  # one per run, two runs


def test_a_registry_that_does_not_answer_leaves_the_run_whole_and_says_so(pipeline: Pipeline) -> None:
    from c2c_devstack.services import free_port

    commit = sha("elsewhere")
    built = pipeline.push("api", "api-main-1-abc", "api", revision=commit)
    pipeline.ci_build(1, "api", "api-main-1-abc", built, commit=commit)
    pipeline.deploy("api", pipeline.ref("api", "api-main-1-abc"), digest=built, replicas=1)
    # An internal image from a registry that is down (a closed port): the run still records it.
    closed = f"127.0.0.1:{free_port()}"
    pipeline.image_policy = ImagePolicyResource(internal_registries=[pipeline.registry.host, closed])
    pipeline.deploy("legacy", f"{closed}/shop/legacy:v3", digest=built, replicas=1)
    for name in ("api", "legacy"):
        pipeline.wait_running(name, 1)
    records = by_workload(pipeline.run())
    assert records[("api", "app")]["flags"] == []
    assert "tag_moved" not in records[("legacy", "app")]["flags"]
    errors = _metadata(pipeline)["registry_tag_errors"]
    assert f"{closed}/shop/legacy:v3" in errors and "unreachable" in errors[f"{closed}/shop/legacy:v3"]
