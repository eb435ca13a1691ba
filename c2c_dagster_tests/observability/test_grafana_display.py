"""The display step on its own, with Grafana's @grafana/data in Node and no services: every bar
gauge over a terms aggregation in the committed dashboards shows one bar per term (the plugin's
table frame, a row per term), where the reduce options Grafana's editor defaults to (``values:
false``) would show one bar, the last row's ("Count 1" for web 3, api 1); a last-level filters
bucket is "No data". The frames come from frames.py (the plugin's parser, ported and checked in
test_opensearch_frames.py); the panel JSON is the committed dashboards'."""

from __future__ import annotations

import copy

import pytest

from c2c_dagster_tests.observability import display
from c2c_dagster_tests.observability import frames as fr
from c2c_dagster_tests.observability.test_dashboards import panels

TERMS_BAR_GAUGES = [(name, p) for name, p in panels() if p["type"] == "bargauge"
                    and "bucketAggs" in p["targets"][0] and p["targets"][0]["bucketAggs"][-1]["type"] == "terms"]


def _answer(panel: dict, counts: dict[str, int]) -> dict:
    target = panel["targets"][0]
    [agg] = target["bucketAggs"]
    metric = target["metrics"][0]
    return {"aggregations": {agg["id"]: {"buckets": [
        {"key": key, "doc_count": n, **({metric["id"]: {"value": float(n)}} if metric["type"] != "count" else {})}
        for key, n in counts.items()]}}}


def test_every_terms_bar_gauge_shows_a_bar_per_term() -> None:
    assert len(TERMS_BAR_GAUGES) >= 6
    counts = {"web": 3, "api": 1}
    panels_in = [{"key": f"{name}/{p['title']}", "panel": p,
                  "frames": fr.opensearch_frames(p["targets"][0], _answer(p, counts), "at")} for name, p in TERMS_BAR_GAUGES]
    shown = display.run_node("display.cjs", {"timeZone": "utc", "panels": panels_in})
    for key, result in shown.items():
        assert [(v["title"], v["numeric"]) for v in result["values"]] == [("web", 3), ("api", 1)], key
    reduced = copy.deepcopy(TERMS_BAR_GAUGES[0][1])
    reduced["options"]["reduceOptions"]["values"] = False
    [one] = display.run_node("display.cjs", {"timeZone": "utc", "panels": [
        {"key": "reduced", "panel": reduced, "frames": fr.opensearch_frames(reduced["targets"][0],
                                                                            _answer(reduced, counts), "at")}]}).values()
    assert [v["numeric"] for v in one["values"]] == [1]  # the problem the reduce options had


@pytest.mark.parametrize("panel_type", ["stat", "bargauge"])
def test_no_frame_is_no_data(panel_type: str) -> None:
    panel = {"type": panel_type, "title": "t", "options": {"reduceOptions": {"values": False, "calcs": ["lastNotNull"]}},
             "fieldConfig": {"defaults": {}, "overrides": []}}
    [result] = display.run_node("display.cjs", {"timeZone": "utc", "panels": [
        {"key": "t", "panel": panel, "frames": []}]}).values()
    assert result["noData"] and result["values"] == []
