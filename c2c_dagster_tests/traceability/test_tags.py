"""A tag moved when it was seen pointing at more than one image: across builds, pods now and before, and
registry answers; an index and its platform manifests are one image (pure rules)."""

from __future__ import annotations

from c2c_dagster.documents.traceability import TraceabilityRecord
from c2c_dagster.traceability.correlate import BuildIndex
from c2c_dagster.traceability.tags import moved_tags, observed_digests, tag_key
from c2c_dagster_tests.traceability.test_correlate import NOW, REPO, build, container, correlate, d, one


def test_tags_normalise_with_docker_hub_aliases_and_latest_by_default() -> None:
    assert tag_key("nginx") == tag_key("docker.io/library/nginx:latest") == ("registry-1.docker.io/library/nginx", "latest")
    assert tag_key(f"{REPO}:v1@{d('x')}") == (REPO, "v1")
    assert tag_key("Not Valid") is None


def test_a_tag_ci_pushed_twice_moved_and_both_workloads_on_it_say_so() -> None:
    index = BuildIndex([build(1, d("one"), tag="stable"), build(2, d("two"), tag="stable"), build(3, d("three"))])
    old = container(f"{REPO}:stable", d("one"), name="api")
    new = container(f"{REPO}:stable", d("two"), name="worker")
    pinned = container(f"{REPO}@{d('three')}", d("three"), name="cron")
    moved = moved_tags(observed_digests([old, new, pinned], index))
    assert moved == {(REPO, "stable"): sorted([d("one"), d("two")])}
    records = {r["workload_name"]: r for r in correlate([old, new, pinned], index, updated_at=NOW, moved=moved)}
    assert records["api"]["flags"] == ["tag_moved"] and records["worker"]["flags"] == ["tag_moved"]
    assert records["api"]["tag_digests"] == sorted([d("one"), d("two")])
    assert records["cron"]["flags"] == [] and records["cron"]["tag_digests"] is None


def test_pods_history_and_the_registry_are_observations_too() -> None:
    index = BuildIndex([])
    # Nodes pulled latest at different times: two digests under one spec.
    nodes = container("nginx", d("before"), d("after"), name="edge")
    assert moved_tags(observed_digests([nodes], index)) == {
        ("registry-1.docker.io/library/nginx", "latest"): sorted([d("before"), d("after")])}
    # Earlier records of the cluster: v1 ran as another digest last week.
    web = container(f"{REPO}:v1", d("now"))
    earlier = [TraceabilityRecord(image=f"{REPO}:v1", image_digest=d("last-week"), running=False)]
    assert moved_tags(observed_digests([web], index, earlier_records=earlier))
    # The registry says v1 now points elsewhere than what runs.
    assert moved_tags(observed_digests([web], index, registry_tags={(REPO, "v1"): d("re-pushed")}))
    assert moved_tags(observed_digests([web], index, registry_tags={(REPO, "v1"): d("now")})) == {}


def test_a_multi_arch_index_and_its_platform_manifests_are_one_image() -> None:
    index = BuildIndex([build(1, d("index"), tag="v1", platforms=[d("amd64"), d("arm64")])])
    amd, arm = container(f"{REPO}:v1", d("amd64"), name="a"), container(f"{REPO}:v1", d("arm64"), name="b")
    assert moved_tags(observed_digests([amd, arm], index)) == {}
    # Known from the registry only: the tag resolves to an index whose members the nodes run.
    bare = BuildIndex([])
    members = {d("index"): (d("amd64"), d("arm64"))}
    assert moved_tags(observed_digests([amd, arm], bare, registry_tags={(REPO, "v1"): d("index")}, members=members)) == {}


def test_external_images_are_never_untraceable_pending_containers_are_not_judged_and_pinning_is_advice() -> None:
    index = BuildIndex([build(1, d("init"))])
    policy = {"nginx:1.27": "external"}
    nginx = container("nginx:1.27", d("nginx"), name="edge")
    record = one(correlate([nginx], index, updated_at=NOW, classify=lambda image: policy.get(image, "internal")))
    assert (record["image_class"], record["flags"], record["image_tag"]) == ("external", [], "1.27")
    pulling = container(f"{REPO}:v9", None, None, name="web")
    record = one(correlate([pulling], index, updated_at=NOW))
    assert (record["digest_state"], record["image_digest"], record["flags"]) == ("pending", None, [])
    assert (record["image"], record["image_tag"]) == (f"{REPO}:v9", "v9")
    by_tag = one(correlate([container(f"{REPO}:web-main-1-356a192", d("init"))], index, updated_at=NOW))
    assert by_tag["flags"] == []  # off by default
    advised = one(correlate([container(f"{REPO}:web-main-1-356a192", d("init"))], index, updated_at=NOW,
                            advise_digest_pinning=True))
    assert advised["flags"] == ["not_pinned"]


def test_each_distinct_tag_of_an_internal_image_is_asked_once_pinned_and_pulling_ones_never() -> None:
    from c2c_dagster.traceability.tags import tags_to_ask

    workloads = [container(f"{REPO}:v1", d("a"), d("a"), name=f"w{i}") for i in range(5)]  # 5 workloads, one tag
    workloads += [
        container(f"{REPO}:v2", d("b"), name="other"),
        container(f"{REPO}@{d('c')}", d("c"), name="pinned"),  # runs what it pins: the tag is not the question
        container(f"{REPO}:v3@{d('c')}", d("c"), name="pinned-with-tag"),
        container(f"{REPO}:v4", None, name="pulling"),  # runs nothing yet
        container("nginx:1.27", d("nginx"), name="edge"),  # external, its digest known to nobody ...
        container("nginx:1.26", d("old-nginx"), name="edge-old"),  # ... and one whose digest is not asked
    ]
    asked = tags_to_ask(workloads, classify=lambda image: "external" if "nginx" in image else "internal",
                        unknown_digests={d("nginx")})
    assert asked == {(REPO, "v1"): f"{REPO}:v1", (REPO, "v2"): f"{REPO}:v2",
                     ("registry-1.docker.io/library/nginx", "1.27"): "registry-1.docker.io/library/nginx:1.27"}
    # Without a policy every image is internal.
    assert (REPO, "v4") not in tags_to_ask(workloads) and len(tags_to_ask(workloads)) == 4


def test_the_registry_answer_for_a_tag_ci_pushed_moves_it_when_it_names_another_image() -> None:
    from c2c_dagster.registry.resources import TagAnswer
    from c2c_dagster.traceability.plan import ClusterView, plan_records
    from c2c_dagster.traceability.image_policy import ImagePolicy

    index = BuildIndex([build(1, d("built"), tag="release-7")])
    running = [container(f"{REPO}:release-7", d("built"), name=name) for name in ("front", "back")]
    policy = ImagePolicy(internal=())
    same = ClusterView(running, {}, index, tags={(REPO, "release-7"): TagAnswer(digest=d("built"))})
    assert {tuple(r.flags) for r in plan_records(same, policy, now=NOW).records} == {()}
    moved = ClusterView(running, {}, index, tags={(REPO, "release-7"): TagAnswer(digest=d("by-hand"))})
    records = plan_records(moved, policy, now=NOW).records
    assert [(r.flags, r.tag_digests) for r in records] == [(["tag_moved"], sorted([d("built"), d("by-hand")]))] * 2
    # A refusal says nothing about the tag: no flag.
    refused = ClusterView(running, {}, index, tags={(REPO, "release-7"): TagAnswer(error="403 Forbidden")})
    assert {tuple(r.flags) for r in plan_records(refused, policy, now=NOW).records} == {()}
    assert refused.tag_errors == {f"{REPO}:release-7": "403 Forbidden"}
    # The tag now names a multi-arch index whose amd64 manifest is what runs: the same image.
    arch = ClusterView([container(f"{REPO}:release-7", d("amd64"))], {}, BuildIndex([]),
                       tags={(REPO, "release-7"): TagAnswer(digest=d("index"), platform_digests=(d("amd64"), d("arm64")))})
    assert "tag_moved" not in plan_records(arch, policy, now=NOW).records[0].flags
