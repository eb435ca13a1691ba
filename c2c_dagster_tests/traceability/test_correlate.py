"""The correlation rules, scenario by scenario, on known truth (pure: no services)."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from c2c_core.builds import is_failed_build
from c2c_dagster.documents.builds import BuildDocument
from c2c_dagster.traceability import correlate as join
from c2c_dagster.traceability.correlate import BuildIndex, RunningContainer, RunningPod, SyncInfo, record_id

REPO = "registry.local/shop/web"
NOW = "2026-02-01T00:00:00Z"


def d(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def sha(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()


def build(number: int, digest: str | None, *, tag: str | None = None, status: str = "SUCCESS",
          commit: str | None = None, at: str | None = None, platforms: list[str] | None = None) -> BuildDocument:
    commit = commit or sha(str(number))
    doc = {
        "build_id": f"shop/web/main-{number}",
        "job_name": "shop/web/main",
        "build_number": number,
        "build_status": status,
        "image_name": REPO,
        "image_tag": tag or f"web-main-{number}-{commit[:7]}",
        "commits": [{"commit_id": commit, "author": "Ada", "email": "ada@x.io", "message": "m"}],
        "authors": ["Ada <ada@x.io>"],
        "source_commit": commit,
        "timestamp": at or f"2026-01-{number:02d}T00:00:00Z",
    }
    if digest:
        doc["image_digest"] = digest
    if platforms:
        doc["platform_digests"] = [{"platform": f"linux/p{i}", "digest": p} for i, p in enumerate(platforms)]
    return BuildDocument.from_document(doc)


def correlate(*args, **kwargs) -> list[dict]:
    """The records as they are stored."""
    return [record.to_document() for record in join.correlate(*args, **kwargs)]


def container(image: str, *digests: str | None, name: str = "web", rollout: bool = False, app: str | None = None,
              annotations: dict | None = None) -> RunningContainer:
    return RunningContainer(
        cluster="prod", namespace="shop", workload_kind="Deployment", workload_name=name, container="web",
        image=image, pods=[RunningPod(f"{name}-{i}", f"node-{i % 2}", dg, f"2026-01-20T00:0{i}:00Z")
                           for i, dg in enumerate(digests)],
        rollout_in_progress=rollout, argocd_app=app, annotations=annotations or {},
    )


def one(records: list[dict]) -> dict:
    assert len(records) == 1, records
    return records[0]


def test_exact_digest_match_carries_build_commits_and_pods() -> None:
    index = BuildIndex([build(1, d("one"))])
    record = one(correlate([container(f"{REPO}@{d('one')}", d("one"), d("one"))], index, updated_at=NOW))
    assert record["record_id"] == f"prod/shop/Deployment/web/web/{d('one')}"
    assert (record["build_id"], record["match_key"], record["match_confidence"]) == ("shop/web/main-1", "image_digest", "exact")
    assert record["commit_ids"] == [sha("1")]
    assert [p["name"] for p in record["pods"]] == ["web-0", "web-1"]
    assert record["first_seen"] == "2026-01-20T00:00:00Z"
    assert record["flags"] == []


def test_retag_of_the_same_digest_prefers_the_tag_the_spec_names_else_the_first_build() -> None:
    index = BuildIndex([build(1, d("same"), tag="v1"), build(2, d("same"), tag="v1-promoted")])
    by_tag = one(correlate([container(f"{REPO}:v1-promoted", d("same"))], index, updated_at=NOW))
    assert by_tag["build_id"] == "shop/web/main-2"
    assert by_tag["flags"] == []  # a promotion re-tags the same digest: no tag moved
    by_digest = one(correlate([container(f"{REPO}@{d('same')}", d("same"))], index, updated_at=NOW))
    assert by_digest["build_id"] == "shop/web/main-1"


def test_rebuild_of_the_same_commit_with_a_new_digest_matches_the_rebuild() -> None:
    commit = sha("c")
    index = BuildIndex([build(1, d("first"), commit=commit), build(2, d("second"), commit=commit)])
    record = one(correlate([container(f"{REPO}@{d('second')}", d("second"))], index, updated_at=NOW))
    assert record["build_id"] == "shop/web/main-2"
    assert record["commit_ids"] == [commit]


def test_multi_arch_platform_digest_matches_the_index_build_and_the_other_way_round() -> None:
    index = BuildIndex([build(1, d("index"), platforms=[d("amd64"), d("arm64")])])
    record = one(correlate([container(f"{REPO}:v1", d("arm64"))], index, updated_at=NOW))
    assert (record["build_id"], record["match_key"]) == ("shop/web/main-1", "platform_digest")
    assert "untraceable" not in record["flags"] and "digest_mismatch" not in record["flags"]

    # CI recorded a single-platform digest; the node runs an index containing it.
    index = BuildIndex([build(2, d("amd64-only"))])
    record = one(correlate([container(f"{REPO}@{d('idx')}", d("idx"))], index,
                           index_members={d("idx"): [d("amd64-only"), d("arm")]}, updated_at=NOW))
    assert (record["build_id"], record["match_key"], record["match_confidence"]) == ("shop/web/main-2", "index_digest", "exact")


def test_two_workloads_on_one_image_each_get_a_record() -> None:
    index = BuildIndex([build(1, d("shared"))])
    records = correlate([container(f"{REPO}@{d('shared')}", d("shared"), name="web"),
                         container(f"{REPO}@{d('shared')}", d("shared"), name="worker")], index, updated_at=NOW)
    assert [(r["workload_name"], r["build_id"]) for r in records] == [("web", "shop/web/main-1"), ("worker", "shop/web/main-1")]
    assert len({r["record_id"] for r in records}) == 2


def test_an_image_no_ci_built_is_untraceable() -> None:
    index = BuildIndex([build(1, d("one"))])
    record = one(correlate([container("docker.io/library/nginx:1.27", d("hand-pushed"))], index, updated_at=NOW))
    assert record["build_id"] is None and record["match_key"] == "none"
    assert record["flags"] == ["untraceable"]  # nothing says it is not ours (no policy given)


def test_a_moved_tag_is_a_digest_mismatch_matched_by_tag() -> None:
    index = BuildIndex([build(1, d("built"), tag="v1")])
    record = one(correlate([container(f"{REPO}:v1", d("pulled"))], index, updated_at=NOW))
    assert (record["build_id"], record["match_key"], record["match_confidence"]) == ("shop/web/main-1", "image_tag", "tag")
    assert record["flags"] == ["untraceable", "digest_mismatch"]


def test_failed_build_whose_image_was_pushed_anyway() -> None:
    index = BuildIndex([build(1, d("bad"), status="FAILURE")])
    record = one(correlate([container(f"{REPO}@{d('bad')}", d("bad"))], index, updated_at=NOW))
    assert record["flags"] == ["failed_build_deployed"]


def test_failed_build_deployed_follows_the_one_failed_build_rule() -> None:
    # Every Jenkins result, and a build whose result is unknown (Jenkins would not describe it):
    # flagged exactly when c2c_core.builds calls the result a failed build (UNSTABLE is not).
    results = ["SUCCESS", "UNSTABLE", "FAILURE", "NOT_BUILT", "ABORTED", None]
    builds = [replace(build(n, d(f"r{n}")), build_status=r) for n, r in enumerate(results, 1)]
    records = correlate([container(f"{REPO}@{d(f'r{n}')}", d(f"r{n}"), name=f"w{n}") for n in range(1, 7)],
                        BuildIndex(builds), updated_at=NOW)
    flagged = {r["build_status"]: "failed_build_deployed" in r["flags"] for r in records}
    assert flagged == {r: is_failed_build(r) for r in results}
    assert flagged == {"SUCCESS": False, "UNSTABLE": False, "FAILURE": True, "NOT_BUILT": True, "ABORTED": True,
                       None: False}


def test_mixed_versions_outside_a_rollout_only() -> None:
    index = BuildIndex([build(1, d("old")), build(2, d("new"))])
    steady = correlate([container(f"{REPO}:x", d("old"), d("new"))], index, updated_at=NOW)
    assert all("mixed_versions" in r["flags"] for r in steady)
    rolling = correlate([container(f"{REPO}:x", d("old"), d("new"), rollout=True)], index, updated_at=NOW)
    assert {r["build_id"] for r in rolling} == {"shop/web/main-1", "shop/web/main-2"}
    assert not any("mixed_versions" in r["flags"] for r in rolling)
    # A pod still pulling (no digest yet) is not a second version.
    pulling = correlate([container(f"{REPO}@{d('old')}", d("old"), None)], index, updated_at=NOW)
    assert not any("mixed_versions" in r["flags"] for r in pulling)
    assert record_id(container("x", None), None).endswith("/unknown")


def test_argocd_revision_is_kept_apart_from_the_app_commit_and_drift_is_flagged() -> None:
    config_repo_revision = sha("config-repo")
    index = BuildIndex([build(1, d("one"), tag="v1")])
    sync = SyncInfo(app="argocd/web", revision=config_repo_revision, images=(f"{REPO}:v1",))
    record = one(correlate([container(f"{REPO}:v1", d("one"), app="argocd/web")], index,
                           syncs={"argocd/web": sync}, updated_at=NOW))
    assert record["argocd_revision"] == config_repo_revision
    assert record["commit_ids"] == [sha("1")] and config_repo_revision not in record["commit_ids"]
    assert "drift" not in record["flags"]
    drifted = one(correlate([container(f"{REPO}:v2-hotfix", d("one"), app="argocd/web")], index,
                            syncs={"argocd/web": sync}, updated_at=NOW))
    assert "drift" in drifted["flags"]


def test_build_id_and_commit_keys_when_no_digest_or_tag_matches() -> None:
    index = BuildIndex([build(7, d("seven"))])
    by_id = one(correlate([container("other/registry:x", d("unknown"), annotations={"c2c.io/build-id": "shop/web/main-7"})],
                          index, updated_at=NOW))
    assert (by_id["build_id"], by_id["match_key"], by_id["match_confidence"]) == ("shop/web/main-7", "build_id", "build_id")
    by_label = one(correlate([container("other/registry:x", d("unknown"))], index,
                             revision_of=lambda digest: sha("7"), updated_at=NOW))
    assert (by_label["build_id"], by_label["match_key"]) == ("shop/web/main-7", "commit_id")
    assert "untraceable" in by_label["flags"]


def test_mid_rollout_old_pods_are_judged_by_the_image_they_asked_for() -> None:
    index = BuildIndex([build(1, d("old"), tag="v1"), build(2, d("new"), tag="v2")])
    rolling = RunningContainer(
        cluster="prod", namespace="shop", workload_kind="Deployment", workload_name="web", container="web",
        image=f"{REPO}:v2", rollout_in_progress=True,
        pods=[RunningPod("web-old", "n0", d("old"), image=f"{REPO}:v1"), RunningPod("web-new", "n1", d("new"), image=f"{REPO}:v2")],
    )
    records = {r["image_digest"]: r for r in correlate([rolling], index, updated_at=NOW)}
    assert (records[d("old")]["build_id"], records[d("old")]["image"]) == ("shop/web/main-1", f"{REPO}:v1")
    assert (records[d("new")]["build_id"], records[d("new")]["image"]) == ("shop/web/main-2", f"{REPO}:v2")
    # Neither is a digest mismatch: each runs what CI built for the tag its pods asked for.
    assert all(r["flags"] == [] for r in records.values())
