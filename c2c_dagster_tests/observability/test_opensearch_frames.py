"""frames.py's port of the OpenSearch datasource's response parser makes the frames the plugin
itself makes: the plugin's own snapshot tests (grafana/opensearch-datasource
pkg/opensearch/snapshot_tests/testdata, Apache-2.0, copied into data/opensearch_datasource: a
query, OpenSearch's recorded answer and the frames the plugin's Go code produced from it) are the
oracle. Also: keyed ``filters`` buckets at the last level give no frame, as in the plugin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from c2c_dagster_tests.observability import frames as fr

DATA = Path(__file__).resolve().parent / "data" / "opensearch_datasource"
CASES = ("lucene_metric_max_group_by_terms", "lucene_metric_sum_group_by_date_histogram", "lucene_raw_data")


def _golden(case: str) -> list[dict[str, Any]]:
    text = (DATA / f"{case}.expected_result_generated_snapshot.golden.jsonc").read_text()
    return json.loads("\n".join(line for line in text.splitlines() if not line.startswith("//")))["frames"]


def _shape(frame: dict[str, Any]) -> list[tuple]:
    fields = frame["schema"]["fields"]
    return [(f["name"], f["type"], f.get("labels") or None, (f.get("config") or {}).get("displayNameFromDS"), values)
            for f, values in zip(fields, frame["data"]["values"], strict=True)]


@pytest.mark.parametrize("case", CASES)
def test_the_port_makes_the_plugins_frames(case: str) -> None:
    [query] = json.loads((DATA / f"{case}.query_input.json").read_text())
    [response] = json.loads((DATA / f"{case}.response_from_opensearch.json").read_text())["responses"]
    ours = fr.opensearch_frames(query, response, query["timeField"])
    theirs = _golden(case)
    assert len(ours) == len(theirs)
    for mine, plugin in zip(ours, theirs, strict=True):
        assert _shape(mine) == _shape(plugin)
        assert (mine["schema"].get("meta") or {}).get("type") == (plugin["schema"].get("meta") or {}).get("type")


def test_last_level_filters_buckets_give_no_frame() -> None:
    """What the plugin does with a filters aggregation that has no aggregation under it:
    processAggregationDocs reads ``buckets`` as an array, and keyed buckets are an object."""
    target = {"refId": "A", "metrics": [{"id": "1", "type": "avg", "field": "duration_ms"}],
              "bucketAggs": [{"id": "2", "type": "filters", "settings": {"filters": [{"query": "*", "label": "all"}]}}]}
    response = {"aggregations": {"2": {"buckets": {"all": {"doc_count": 5, "1": {"value": 74000.0}}}}}}
    assert fr.opensearch_frames(target, response, "timestamp") == []
    terms = {**target, "bucketAggs": [{"id": "2", "type": "terms", "field": "_index"}]}
    answer = {"aggregations": {"2": {"buckets": [{"key": "builds", "doc_count": 5, "1": {"value": 74000.0}}]}}}
    [frame] = fr.opensearch_frames(terms, answer, "timestamp")
    assert _shape(frame) == [("_index", "string", None, None, ["builds"]), ("Average", "number", None, None, [74000.0])]
