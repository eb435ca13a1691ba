"""The store contract: both backends upsert by id, look up and list by time identically."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from c2c_dagster.store import BulkWriteError, DocumentError, MetadataStore

CI = "ci-build-metadata"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
INDEX_DIGEST = "sha256:" + "c" * 64


def build(number: int, *, digest: str = DIGEST_A, commit: str = "3606e8f26e051e93d8784ae87879c77845029b33",
          ts: str = "2026-01-31T05:45:18Z", **extra) -> dict:
    """A build document in the seed's field names (section 3.6)."""
    return {
        "build_id": f"Node-JS/master-{number}",
        "job_name": "Node-JS/master",
        "build_number": number,
        "branch": "master",
        "image_name": "narendra115c/node-js",
        "image_tag": f"node-js-master-{number}-{commit[:7]}",
        "image_digest": digest,
        "commits": [
            {"commit_id": commit, "author": "Narendra Sivangula",
             "email": "narendrakumarsivangula@gmail.com", "message": "Update index.js"}
        ],
        "authors": ["Narendra Sivangula <narendrakumarsivangula@gmail.com>"],
        "build_status": "SUCCESS",
        "timestamp": ts,
        **extra,
    }


def test_rewriting_the_same_documents_leaves_the_count_unchanged(store: MetadataStore) -> None:
    docs = [build(n, ts=f"2026-01-31T05:{n:02d}:00Z") for n in range(1, 6)]
    assert store.upsert(CI, docs).written == 5
    assert store.count(CI) == 5
    store.upsert(CI, docs)
    assert store.count(CI) == 5
    # A changed document with the same id replaces the old one: still 5, new content.
    store.upsert(CI, [build(3, build_status="FAILURE", ts="2026-01-31T05:03:00Z")])
    assert store.count(CI) == 5
    assert store.get(CI, "Node-JS/master-3")["build_status"] == "FAILURE"


def test_get_by_id_and_missing_id(store: MetadataStore) -> None:
    store.upsert(CI, [build(67)])
    doc = store.get(CI, "Node-JS/master-67")
    assert doc["image_digest"] == DIGEST_A
    assert doc["commits"][0]["author"] == "Narendra Sivangula"
    assert store.get(CI, "Node-JS/master-999") is None


def test_lookup_by_digest_tag_build_and_commit(store: MetadataStore) -> None:
    store.upsert(
        CI,
        [
            build(1, digest=DIGEST_A, commit="1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", ts="2026-01-30T10:00:00Z"),
            build(2, digest=DIGEST_B, commit="2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", ts="2026-01-31T10:00:00Z",
                  platform_digests=[{"platform": "linux/amd64", "digest": INDEX_DIGEST}]),
            build(3, digest=DIGEST_B, commit="2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", ts="2026-02-01T10:00:00Z"),
        ],
    )
    by_digest = store.find(CI, "image_digest", DIGEST_B)
    # Newest first, in both backends.
    assert [d["build_number"] for d in by_digest] == [3, 2]
    assert [d["build_id"] for d in store.find(CI, "image_tag", "node-js-master-1-1111111")] == ["Node-JS/master-1"]
    assert [d["build_number"] for d in store.find(CI, "build_id", ["Node-JS/master-1", "Node-JS/master-3"])] == [3, 1]
    # Inside the commits array, full id and prefix (``c2c trace --commit`` takes a prefix).
    assert [d["build_number"] for d in store.find(CI, "commits.commit_id", "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")] == [3, 2]
    assert [d["build_number"] for d in store.find(CI, "commits.commit_id", "1111111", prefix=True)] == [1]
    assert [d["build_number"] for d in store.find(CI, "platform_digests.digest", INDEX_DIGEST)] == [2]
    assert store.find(CI, "image_digest", "sha256:" + "0" * 64) == []
    assert store.find(CI, "image_digest", []) == []
    with pytest.raises(KeyError, match="not a lookup field"):
        store.find(CI, "branch", "master")


def test_time_range_listing_is_half_open_and_oldest_first(store: MetadataStore) -> None:
    store.upsert(CI, [build(n, ts=f"2026-03-0{n}T12:00:00Z") for n in range(1, 6)])
    listed = store.list_range(CI, datetime(2026, 3, 2, 12, tzinfo=UTC), datetime(2026, 3, 4, 12, tzinfo=UTC))
    assert [d["build_number"] for d in listed] == [2, 3]
    assert [d["build_number"] for d in store.list_range(CI, start=datetime(2026, 3, 4, tzinfo=UTC))] == [4, 5]
    assert len(store.list_range(CI)) == 5


def test_merge_updates_given_fields_and_keeps_the_rest(store: MetadataStore) -> None:
    pod = {
        "doc_id": "c1/default/web/pod-1/abc",
        "cluster": "c1",
        "namespace": "default",
        "workload_name": "web",
        "pod_name": "pod-1",
        "first_seen": "2026-03-01T00:00:00Z",
        "last_seen": "2026-03-01T00:00:00Z",
        "snapshot_time": "2026-03-01T00:00:00Z",
    }
    store.upsert("deployment-metadata", [pod])
    store.upsert("deployment-metadata", [{"doc_id": pod["doc_id"], "last_seen": "2026-03-01T00:10:00Z"}], mode="merge")
    merged = store.get("deployment-metadata", pod["doc_id"])
    assert merged["first_seen"] == "2026-03-01T00:00:00Z"
    assert merged["last_seen"] == "2026-03-01T00:10:00Z"
    assert store.count("deployment-metadata") == 1
    assert [d["doc_id"] for d in store.find("deployment-metadata", "workload_name", "web")] == [pod["doc_id"]]


def test_iter_all_pages_through_every_document(store: MetadataStore) -> None:
    store.upsert(CI, [build(n, ts="2026-03-01T00:00:00Z") for n in range(1, 26)])
    seen = [d["build_number"] for d in store.iter_all(CI, batch_size=7)]
    assert sorted(seen) == list(range(1, 26))


def test_document_without_id_is_refused_and_nothing_is_written(store: MetadataStore) -> None:
    broken = build(2)
    del broken["build_id"]
    with pytest.raises(DocumentError, match="build_id"):
        store.upsert(CI, [build(1), broken])
    assert store.count(CI) == 0


def test_refused_documents_are_reported_by_id_and_the_rest_are_written(store: MetadataStore) -> None:
    with pytest.raises(BulkWriteError) as caught:
        store.upsert(CI, [build(1), build(2, build_number="sixty-seven"), build(3, timestamp="yesterday")])
    ids = sorted(e.doc_id for e in caught.value.errors)
    assert ids == ["Node-JS/master-2", "Node-JS/master-3"]
    assert all("mapper_parsing_exception" in e.reason for e in caught.value.errors)
    assert "Node-JS/master-2" in str(caught.value)
    assert caught.value.written == 1
    assert store.count(CI) == 1
    assert store.get(CI, "Node-JS/master-1") is not None


def test_finds_and_listings_larger_than_one_search_page_come_back_whole(store: MetadataStore) -> None:
    # A tiny page makes the OpenSearch store page with search_after (a large cluster's pods
    # exceed one search's 10,000-hit window); the embedded store has no pages and must agree.
    store.page_size = 4
    store.upsert(CI, [build(n, ts=f"2026-03-01T00:{n:02d}:00Z") for n in range(1, 12)])
    assert [d["build_number"] for d in store.find(CI, "image_digest", DIGEST_A, limit=100)] == list(range(11, 0, -1))
    assert [d["build_number"] for d in store.find(CI, "image_digest", DIGEST_A, limit=6)] == list(range(11, 5, -1))
    assert [d["build_number"] for d in store.list_range(CI)] == list(range(1, 12))


def test_find_with_fields_returns_only_those_fields_in_the_same_order(store: MetadataStore) -> None:
    # A reader comparing a few fields of many documents (a snapshot's previous versions) need not
    # hold them whole: both stores return what OpenSearch's _source includes return.
    store.page_size = 4
    docs = [build(n, ts=f"2026-03-01T00:{n:02d}:00Z", promoted=None if n == 5 else n % 2 == 0) for n in range(1, 12)]
    del docs[6]["promoted"]  # build 7 has no such field at all
    docs[0]["commits"].append({"commit_id": "1" * 40, "author": "Second Author"})  # two lookup keys, one document
    store.upsert(CI, docs)
    slim = store.find(CI, "image_digest", DIGEST_A, limit=100, fields=["build_number", "commits", "promoted", "absent"])
    assert [d["build_number"] for d in slim] == list(range(11, 0, -1))
    by_number = {d["build_number"]: d for d in slim}
    assert by_number[5] == {"build_number": 5, "commits": docs[4]["commits"], "promoted": None}  # a null is kept
    assert by_number[7] == {"build_number": 7, "commits": docs[6]["commits"]}  # an absent field stays absent
    assert by_number[1]["commits"] == docs[0]["commits"] and by_number[4]["promoted"] is True
    # Same matches, order and limit as whole documents, and a document matched twice comes once.
    whole = store.find(CI, "image_digest", DIGEST_A, limit=6)
    assert store.find(CI, "image_digest", DIGEST_A, limit=6, fields=["build_id"]) == [
        {"build_id": d["build_id"]} for d in whole]
    assert store.find(CI, "commits.commit_id", ["1" * 40, "3606e8f"], prefix=True, fields=["build_id"])[-1] == {
        "build_id": "Node-JS/master-1"}
    assert len(store.find(CI, "commits.commit_id", ["1" * 40, "3606e8f"], prefix=True, fields=["build_id"])) == 11
    with pytest.raises(ValueError, match="top-level document field names.*'commits.author'"):
        store.find(CI, "image_digest", DIGEST_A, fields=["build_id", "commits.author"])
    with pytest.raises(TypeError, match="a list of field names"):
        store.find(CI, "image_digest", DIGEST_A, fields="build_id")


def test_distinct_values_of_a_lookup_field_without_reading_documents(store: MetadataStore) -> None:
    assert store.distinct(CI, "image_name") == []  # nothing written yet: no index, no values
    store.upsert(CI, [build(n, image_name=f"registry.example.com/team/app-{n % 3}") for n in range(1, 2500)])
    store.upsert(CI, [build(9999, image_name="narendra115c/node-js")])
    assert store.distinct(CI, "image_name") == [
        "narendra115c/node-js", "registry.example.com/team/app-0", "registry.example.com/team/app-1",
        "registry.example.com/team/app-2"]
    assert len(store.distinct(CI, "build_id", limit=2600)) == 2500  # pages past one aggregation page
    with pytest.raises(KeyError, match="not a lookup field"):
        store.distinct(CI, "commits.message")


def test_earliest_time_of_the_documents_with_a_lookup_value(store: MetadataStore) -> None:
    assert store.earliest(CI, "job_name", "Node-JS/master") is None  # nothing written yet
    store.upsert(CI, [build(n, ts=f"2026-03-0{n}T12:00:00Z") for n in (3, 1, 2)])
    store.upsert(CI, [build(9, ts="2026-02-01T00:00:00Z", job_name="Other")])
    assert store.earliest(CI, "job_name", "Node-JS/master") == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert store.earliest(CI, "job_name", "Other") == datetime(2026, 2, 1, tzinfo=UTC)
    assert store.earliest(CI, "job_name", "Nobody") is None


def test_delete_range_removes_what_a_recomputation_no_longer_writes(store: MetadataStore) -> None:
    assert store.delete_range(CI, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)) == 0
    store.upsert(CI, [build(n, ts=f"2026-03-0{n}T12:00:00Z") for n in range(1, 6)])
    deleted = store.delete_range(CI, datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 5, tzinfo=UTC),
                                 keep=["Node-JS/master-3"])
    assert deleted == 2  # days 2 and 4; day 3 kept, days 1 and 5 outside [start, end)
    assert sorted(d["build_number"] for d in store.list_range(CI)) == [1, 3, 5]
    assert store.find(CI, "build_id", ["Node-JS/master-2", "Node-JS/master-4"]) == []


def test_a_document_that_is_no_json_is_refused_by_id(store: MetadataStore) -> None:
    # NaN is no JSON number: OpenSearch's parser refuses the document, the embedded store too
    # (its lookup indexes read the stored JSON), and the rest of the batch is written.
    with pytest.raises(BulkWriteError) as caught:
        store.upsert(CI, [build(1), build(2, branch=float("nan")), build(3, platform_digests=[{"digest": float("inf")}])])
    assert sorted(e.doc_id for e in caught.value.errors) == ["Node-JS/master-2", "Node-JS/master-3"]
    assert all(e.reason.startswith("mapper_parsing_exception") for e in caught.value.errors)
    assert caught.value.written == 1
    assert store.count(CI) == 1
    assert [d["build_number"] for d in store.find(CI, "image_digest", DIGEST_A)] == [1]


# What OpenSearch refuses under c2c's mappings, as OpenSearch names the reason's kind. The same
# cases run on both backends: the real node is the oracle, the embedded store must agree.
REFUSALS = {
    "an object in a keyword field": (CI, {"image_name": {"name": "narendra115c/node-js"}}, "mapper_parsing_exception"),
    "an object in a text field": (CI, {"ingest_problems": {"reason": "x"}}, "mapper_parsing_exception"),
    # 16,384 two-byte characters: 32,768 bytes of UTF-8, over Lucene's 32,766-byte term limit.
    "a keyword term over 32,766 bytes": (CI, {"branch": "é" * 16384}, "illegal_argument_exception"),
    "a long above its range": (CI, {"build_number": 2**63}, "mapper_parsing_exception"),
    "a long below its range, as a string": (CI, {"build_number": str(-(2**63) - 1)}, "mapper_parsing_exception"),
    "an integer above its range": ("delivery-metrics", {"deployments": 2**31}, "mapper_parsing_exception"),
}
ACCEPTED = {
    "a keyword term of exactly 32,766 bytes": (CI, {"branch": "a" * 32766}),
    "the largest long": (CI, {"build_number": 2**63 - 1}),
    "the smallest integer": ("delivery-metrics", {"deployments": -(2**31)}),
}


def _document(index: str, number: int, fields: dict) -> dict:
    if index == CI:
        return build(number, **fields)
    return {"row_id": f"row-{number}", "day": "2026-01-31", **fields}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_both_stores_refuse_what_opensearch_refuses_by_id_for_the_same_reason(store: MetadataStore, case: str) -> None:
    index, fields, kind = REFUSALS[case]
    good, bad = _document(index, 1, {}), _document(index, 2, fields)
    bad_id = "Node-JS/master-2" if index == CI else "row-2"
    with pytest.raises(BulkWriteError) as caught:
        store.upsert(index, [good, bad])
    assert [e.doc_id for e in caught.value.errors] == [bad_id]
    assert caught.value.errors[0].reason.startswith(kind), caught.value.errors[0].reason
    assert caught.value.errors[0].status == 400
    assert caught.value.written == 1 and store.count(index) == 1
    assert store.get(index, bad_id) is None


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_both_stores_accept_the_limits_themselves(store: MetadataStore, case: str) -> None:
    index, fields = ACCEPTED[case]
    assert store.upsert(index, [_document(index, 1, fields)]).written == 1


def test_scan_streams_the_documents_whose_fields_equal_the_given_values(store: MetadataStore) -> None:
    store.upsert(CI, [
        build(1, build_status="SUCCESS", digest_missing=False),
        build(2, build_status="FAILURE", digest_missing=True),
        build(3, build_status="FAILURE", digest_missing=False, commit="b" * 40),
    ])
    def ids(where: dict) -> list[str]:
        return sorted(doc["build_id"] for doc in store.scan(CI, where))
    assert ids({}) == ["Node-JS/master-1", "Node-JS/master-2", "Node-JS/master-3"]
    assert ids({"build_status": "FAILURE"}) == ["Node-JS/master-2", "Node-JS/master-3"]
    assert ids({"build_status": "FAILURE", "digest_missing": False}) == ["Node-JS/master-3"]
    assert ids({"commits.commit_id": "b" * 40}) == ["Node-JS/master-3"]  # a path into a list of objects
    assert ids({"build_status": "UNSTABLE"}) == []
    whole = next(iter(store.scan(CI, {"build_status": "SUCCESS"})))
    assert whole == store.get(CI, "Node-JS/master-1")  # the whole document, as stored
    assert list(store.scan("release-events", {})) == []  # nothing written there yet: empty, no error


def test_group_stats_counts_per_field_combination_with_the_newest_date(store: MetadataStore) -> None:
    store.upsert(CI, [
        build(1, build_status="SUCCESS", ts="2026-01-31T05:00:00Z", digest_missing=False),
        build(2, build_status="FAILURE", ts="2026-01-31T06:00:00Z", digest_missing=True),
        build(3, build_status="FAILURE", ts="2026-01-31T07:30:00Z", digest_missing=False),
        build(4, job_name="Other/main", build_status="SUCCESS", ts="2026-02-01T00:00:00Z"),  # no digest_missing
    ])
    groups = store.group_stats(CI, ["job_name", "build_status"], newest=["timestamp"])
    assert [(g.key, g.count) for g in groups] == [
        (("Node-JS/master", "FAILURE"), 2), (("Node-JS/master", "SUCCESS"), 1), (("Other/main", "SUCCESS"), 1)]
    newest = datetime(2026, 1, 31, 7, 30, tzinfo=UTC).timestamp()
    assert groups[0].latest == {"timestamp": newest}
    # Booleans key as "true"/"false" in both stores, a document without the field as None.
    flags = {g.key: g.count for g in store.group_stats(CI, ["digest_missing"])}
    assert flags == {("false",): 2, ("true",): 1, (None,): 1}
    failed = store.group_stats(CI, ["job_name"], where={"build_status": "FAILURE"})
    assert [(g.key, g.count, g.latest) for g in failed] == [(("Node-JS/master",), 2, {})]
    assert store.group_stats("release-events", ["argocd_app"]) == []
