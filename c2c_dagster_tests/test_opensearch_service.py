"""Proves the OpenSearch fixture is a real OpenSearch 2.19 node that indexes, aggregates and upserts.

The node is built from Maven Central jars (see ``services/opensearch``), so this checks what a
stand-in could not fake: the version it reports, explicit mappings, bulk indexing through
opensearch-py, a ``terms`` aggregation over a keyword field, idempotent re-indexing by ``_id``
and a Painless scripted update.
"""

from __future__ import annotations

import pytest
import requests
from opensearchpy import OpenSearch, helpers

pytestmark = pytest.mark.opensearch

INDEX = "c2c-smoke-builds"

DOCS = [
    {"_id": "b1", "commit": "a1b2c3", "job": "api", "result": "SUCCESS", "duration_ms": 1200},
    {"_id": "b2", "commit": "a1b2c3", "job": "web", "result": "SUCCESS", "duration_ms": 900},
    {"_id": "b3", "commit": "d4e5f6", "job": "api", "result": "FAILURE", "duration_ms": 300},
    {"_id": "b4", "commit": "d4e5f6", "job": "api", "result": "SUCCESS", "duration_ms": 1100},
]


@pytest.fixture()
def client(opensearch_service) -> OpenSearch:
    client = OpenSearch(hosts=[opensearch_service.url], timeout=30)
    if client.indices.exists(index=INDEX):
        client.indices.delete(index=INDEX)
    yield client
    client.indices.delete(index=INDEX, ignore_unavailable=True)
    client.close()


def _bulk(client: OpenSearch) -> None:
    actions = [
        {"_index": INDEX, "_id": doc["_id"], "_source": {k: v for k, v in doc.items() if k != "_id"}}
        for doc in DOCS
    ]
    indexed, errors = helpers.bulk(client, actions, refresh=True)
    assert (indexed, errors) == (len(DOCS), [])


def test_node_reports_opensearch_2_19(opensearch_service) -> None:
    info = requests.get(opensearch_service.url, timeout=10).json()
    assert info["version"]["distribution"] == "opensearch"
    assert info["version"]["number"].startswith("2.19")
    assert opensearch_service.version == info["version"]["number"]
    assert info["cluster_name"] == "c2c-test"


def test_mapping_bulk_terms_aggregation_and_idempotent_reindex(client: OpenSearch) -> None:
    client.indices.create(
        index=INDEX,
        body={
            # One node: replicas could never be assigned, so ask for none and stay green.
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {
                "dynamic": "strict",
                "properties": {
                    "commit": {"type": "keyword"},
                    "job": {"type": "keyword"},
                    "result": {"type": "keyword"},
                    "duration_ms": {"type": "long"},
                },
            },
        },
    )
    mapping = client.indices.get_mapping(index=INDEX)[INDEX]["mappings"]
    assert mapping["properties"]["job"] == {"type": "keyword"}

    _bulk(client)
    assert client.count(index=INDEX)["count"] == 4

    response = client.search(
        index=INDEX,
        body={
            "size": 0,
            "aggs": {
                "by_job": {
                    "terms": {"field": "job"},
                    "aggs": {"total_ms": {"sum": {"field": "duration_ms"}}},
                }
            },
        },
    )
    buckets = {
        b["key"]: (b["doc_count"], b["total_ms"]["value"])
        for b in response["aggregations"]["by_job"]["buckets"]
    }
    assert buckets == {"api": (3, 2600.0), "web": (1, 900.0)}

    # Same _ids again: documents are replaced, not duplicated (what c2c's re-syncs rely on).
    _bulk(client)
    assert client.count(index=INDEX)["count"] == 4
    assert client.get(index=INDEX, id="b3")["_version"] == 2

    # A strict mapping really is enforced by the server.
    with pytest.raises(Exception, match="strict_dynamic_mapping_exception"):
        client.index(index=INDEX, id="bad", body={"unknown_field": 1})

    # Painless is loaded: a scripted update runs server-side.
    client.update(
        index=INDEX,
        id="b3",
        body={"script": {"lang": "painless", "source": "ctx._source.result = params.r", "params": {"r": "RETRIED"}}},
        refresh=True,
    )
    assert client.get(index=INDEX, id="b3")["_source"]["result"] == "RETRIED"
