"""The builds a join can use: the store's terms look-ups (find_builds) and the in-memory
semi-join (relevant_documents) find the same builds, by every key correlate matches by, and the
join over them gives the same records as over every build."""

from __future__ import annotations

from pathlib import Path

from c2c_dagster.store import CI_BUILD_METADATA, EmbeddedStore
from c2c_dagster.traceability.build_lookup import BuildKeys, find_builds, relevant_documents
from c2c_dagster.traceability.correlate import BuildIndex, correlate
from c2c_dagster_tests.traceability.test_correlate import NOW, REPO, build, container, d, sha


def history() -> list[dict]:
    """Ten builds; the containers below can match five of them, each by another key."""
    builds = [build(n, d(f"b{n}")) for n in range(1, 8)]
    builds.append(build(8, d("index-8"), platforms=[d("amd64-8"), d("arm64-8")]))
    builds.append(build(9, None, tag="v9"))
    only_source = build(10, d("b10")).to_document() | {"commits": [], "source_commit": sha("release-10")}
    return [b.to_document() for b in builds] + [only_source]


def containers() -> list:
    return [
        container(f"{REPO}@{d('b2')}", d("b2"), name="by-digest"),
        container(f"{REPO}:anything", d("arm64-8"), name="by-platform-digest"),
        container(f"{REPO}:v9", d("pushed-by-hand"), name="by-tag"),
        container("other/image:x", d("x"), name="by-build-id", annotations={"c2c.io/build-id": "shop/web/main-5"}),
        container("other/image:y", d("y"), name="by-source-commit", annotations={"c2c.io/commit": sha("release-10")}),
    ]


def test_the_store_and_the_semi_join_find_the_same_builds(tmp_path: Path) -> None:
    docs = history()
    store = EmbeddedStore(tmp_path / "store.sqlite")
    store.upsert(CI_BUILD_METADATA.name, docs)
    from_store = find_builds(store, BuildKeys.of(containers()))
    in_memory = relevant_documents(docs, BuildKeys.of(containers()))
    expected = {"shop/web/main-2", "shop/web/main-8", "shop/web/main-9", "shop/web/main-5", "shop/web/main-10"}
    assert {build.build_id for build in from_store} == expected
    assert {doc["build_id"] for doc in in_memory} == expected


def test_a_join_over_the_relevant_builds_equals_one_over_every_build() -> None:
    docs = history()
    relevant = BuildIndex.of_documents(relevant_documents(docs, BuildKeys.of(containers())))
    records = correlate(containers(), relevant, updated_at=NOW)
    assert [r.to_document() for r in records] == [
        r.to_document() for r in correlate(containers(), BuildIndex.of_documents(docs), updated_at=NOW)]
    assert [(r.workload_name, r.build_id, r.match_key) for r in records] == [
        ("by-digest", "shop/web/main-2", "image_digest"),
        ("by-platform-digest", "shop/web/main-8", "platform_digest"),
        ("by-tag", "shop/web/main-9", "image_tag"),
        ("by-build-id", "shop/web/main-5", "build_id"),
        ("by-source-commit", "shop/web/main-10", "commit_id"),
    ]
