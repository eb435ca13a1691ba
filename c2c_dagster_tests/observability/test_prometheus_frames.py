"""frames.py's port of Grafana's Prometheus datasource makes the frames Grafana makes, with
Grafana's own records as the oracle (data/prometheus_datasource, see its SOURCE.md; AGPL-3.0):

- promlib's golden files: for range_simple/missing/nan/infinity/auto a stored query, Prometheus's
  recorded answer and the frames promlib's ``parseResponse`` made of it (``displayNameFromDS`` from
  the legend format or the series name, ``__auto``, a series without labels named by its query,
  NaN and +Inf); for the converter alone, a matrix, a vector with +Inf, -Inf and NaN samples and
  series without ``__name__``, and a matrix with all three.
- the frontend's own test cases for ``format: table`` (``result_transformer.test.ts``, restated
  here): label columns, ``Value #<refId>`` with several table queries, an empty query, rows sorted
  by time, the time field's interval, table and time series queries in one panel.

Compared: each frame's field names, types, labels, config (``displayNameFromDS``, the time field's
``interval``), values (NaN and ±Inf as the plugin SDK writes them: null plus ``entities``) and
``meta.type``, which is what display.cjs reads. Not compared: ``typeInfo`` (Go's storage type: no
code of @grafana/data 12.4.6 reads it), ``meta.executedQueryString`` and ``meta.custom.calculatedMinStep``
(the query inspector's and incremental querying's; nothing displayed reads them), ``status``.
Nothing here talks to a service: the answers are Grafana's recordings; the last test runs @grafana/data
in Node (display.cjs) on the frames.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from c2c_dagster_tests.observability import display
from c2c_dagster_tests.observability import frames as fr

DATA = Path(__file__).resolve().parent / "data" / "prometheus_datasource"
RANGE_CASES = ("range_simple", "range_missing", "range_nan", "range_infinity", "range_auto")
CONVERTER_CASES = ("prom-matrix", "prom-vector", "prom-matrix-with-nans")


def _jsonc(path: Path) -> dict[str, Any]:
    return json.loads("\n".join(line for line in path.read_text().splitlines() if not line.startswith("//")))


def _shape(frame: dict[str, Any]) -> dict[str, Any]:
    """The attributes display.cjs depends on, as ``dataFrameFromJSON`` reads them."""
    fields = frame["schema"]["fields"]
    data = frame["data"]
    entities = data.get("entities") or [None] * len(fields)
    return {"meta.type": (frame["schema"].get("meta") or {}).get("type"),
            "fields": [{"name": f["name"], "type": f["type"], "labels": f.get("labels"), "config": f.get("config") or {},
                        "values": values, "entities": ents or None}
                       for f, values, ents in zip(fields, data["values"], entities, strict=True)]}


def _stored_query(case: str, golden: list[dict[str, Any]]) -> tuple[dict[str, Any], float]:
    """framing_test.go's storedPrometheusQuery as the target; the expr as promlib sent it (its
    executedQueryString: promlib interpolates ``$__rate_interval`` itself, c2c's grafana_requests
    does it for the display proof)."""
    stored = json.loads((DATA / f"{case}.query.json").read_text())
    sent = golden[0]["schema"]["meta"]["executedQueryString"]
    expr = sent.removeprefix("Expr: ").rsplit("\nStep: ", 1)[0]
    assert expr.split("[")[0] == stored.get("Expr", "").split("[")[0]
    return {"refId": stored["RefId"], "expr": expr, "legendFormat": stored.get("LegendFormat", "")}, stored["Step"] * 1000


@pytest.mark.parametrize("case", RANGE_CASES)
def test_promlib_parse_response_makes_grafanas_frames(case: str) -> None:
    golden = _jsonc(DATA / f"{case}.result.golden.jsonc")["frames"]
    query, step_ms = _stored_query(case, golden)
    answer = json.loads((DATA / f"{case}.result.json").read_text())
    ours = fr.promlib_frames(query, answer["data"], step_ms=step_ms)
    assert [_shape(f) for f in ours] == [_shape(f) for f in golden]


@pytest.mark.parametrize("case", CONVERTER_CASES)
def test_the_converter_makes_grafanas_frames(case: str) -> None:
    golden = _jsonc(DATA / f"{case}-frame.jsonc")["frames"]
    answer = json.loads((DATA / f"{case}.json").read_text())
    assert [_shape(f) for f in fr.converter_frames(answer["data"])] == [_shape(f) for f in golden]


def test_the_special_values_and_names_the_goldens_hold() -> None:
    """What the golden comparison above covers, said outright."""
    nan = _shape(_jsonc(DATA / "range_nan.result.golden.jsonc")["frames"][0])["fields"][1]
    assert nan["values"] == [None, None, None] and nan["entities"] == {"NaN": [0, 1, 2]}
    assert nan["config"] == {"displayNameFromDS": '{handler="/api/v1/query_range", job="prometheus"}'}
    inf = _shape(_jsonc(DATA / "range_infinity.result.golden.jsonc")["frames"][0])["fields"][1]
    assert inf["labels"] == {} and inf["config"] == {"displayNameFromDS": "1 / 0"}  # no labels: the query
    auto = _shape(_jsonc(DATA / "range_auto.result.golden.jsonc")["frames"][0])["fields"][1]
    assert auto["config"]["displayNameFromDS"].startswith("histogram_quantile(0.95")  # __auto, no labels: the query
    named = _shape(_jsonc(DATA / "range_simple.result.golden.jsonc")["frames"][0])["fields"][1]
    assert named["name"] == "prometheus_http_requests_total"  # the value field is named by __name__
    vector = [_shape(f)["fields"][1] for f in _jsonc(DATA / "prom-vector-frame.jsonc")["frames"]]
    assert [v["entities"] for v in vector[2:]] == [{"Inf": [0]}, {"NegInf": [0]}, {"NaN": [0]}]


@pytest.mark.parametrize(("legend", "labels", "expected"), [
    ("__auto", {"job": "a"}, ""),  # labels: no displayNameFromDS (the frame's labels name it)
    ("__auto", {}, "sum(up)"),
    ("{{job}} {{ missing }}", {"job": "a"}, "a "),
    ("", {"__name__": "up"}, "up"),
    ("", {"b": 'say "hi"\n', "a0": "x", "a": "y"}, '{a0="x", a="y", b="say \\"hi\\"\\n"}'),  # Go sorts the k="v" strings, %q
])
def test_get_name(legend: str, labels: dict[str, str], expected: str) -> None:
    """``getName``/``metricNameFromLabels`` where the goldens have no example (read from response.go)."""
    assert fr.series_display_name("sum(up)", legend, labels) == expected


def test_no_series_gives_one_frame_without_fields() -> None:
    """parseResponse adds ``data.NewFrame("")`` to an empty answer (response.go)."""
    [frame] = fr.promlib_frames({"refId": "A", "expr": "up"}, {"resultType": "vector", "result": []})
    assert frame["schema"]["fields"] == [] and frame["data"]["values"] == []


# -- format: table: the frontend's own cases (result_transformer.test.ts) -----------------------------
def _frame(ref_id: str, times: list[float], values: list[float], labels: dict[str, str] | None = None,
           meta: dict[str, Any] | None = None, interval: float | None = None) -> dict[str, Any]:
    """createDataFrame({refId, fields: [time, value]}) of the Jest cases, as DataFrameJSON."""
    return fr.frame_json([fr.Field("time", "time", times, config={"interval": interval} if interval else {}),
                          fr.Field("value", "number", values, labels=labels)], ref_id=ref_id, meta=meta)


def _columns(frame: dict[str, Any]) -> dict[str, list[Any]]:
    return {f["name"]: values for f, values in zip(frame["schema"]["fields"], frame["data"]["values"], strict=True)}


def test_a_table_query_becomes_one_sorted_table() -> None:
    """'results with table format and multiple data frames should be transformed to 1 table dataFrame'."""
    frames = [_frame("A", [4, 5, 6], [4, 5, 6], {"label1": "value1", "label2": "value2"}),
              _frame("A", [2, 3, 7], [2, 3, 7], {"label3": "value3", "label4": "value4"})]
    [table] = fr.transform_v2(frames, [{"refId": "A", "format": "table"}])
    columns = _columns(table)
    assert list(columns) == ["Time", "label1", "label2", "label3", "label4", "Value"]
    assert columns["Time"] == [2, 3, 4, 5, 6, 7] and columns["Value"] == [2, 3, 4, 5, 6, 7]
    assert columns["label1"] == ["", "", "value1", "value1", "value1", ""]  # rows follow the sort
    assert table["schema"]["meta"]["preferredVisualisationType"] == "rawPrometheus"


def test_one_table_query_has_a_value_column() -> None:
    """'results with table format should be transformed to table dataFrames' (and transformDFToTable's
    'response length 1')."""
    [table] = fr.transform_v2([_frame("A", [6, 5, 4], [6, 5, 4], {"label1": "value1", "label2": "value2"})],
                              [{"refId": "A", "format": "table"}])
    assert list(_columns(table)) == ["Time", "label1", "label2", "Value"]
    assert _columns(table)["label1"][0] == "value1"


def test_several_table_queries_name_their_values_by_refid() -> None:
    """'transforms dataFrame and empty dataFrame mock responses to table dataFrames': ``Value #A``,
    and an empty query still gives its (empty) ``Value #B`` table."""
    frames = [_frame("A", [6, 5, 4], [6, 5, 4], {"label1": "value1", "label2": "value2"}),
              fr.frame_json([], ref_id="B")]
    first, second = fr.table_frames(frames)
    assert list(_columns(first)) == ["Time", "label1", "label2", "Value #A"]
    assert _columns(first)["label1"][0] == "value1"
    assert [(f["name"], f.get("labels")) for f in second["schema"]["fields"]] == [("Time", None), ("Value #B", None)]
    assert second["data"]["values"] == [[], []]


def test_each_table_keeps_its_queries_meta_and_the_time_interval() -> None:
    """'transforms dataframes with metadata resolving from their refIds' and 'retains time field's
    config.interval'."""
    meta = {"typeVersion": [0, 1], "custom": {"resultType": "vector"}}
    frames = [_frame("A", [6, 5, 4], [6, 5, 4], {"label1": "v"}, {**meta, "executedQueryString": "Expr: a"}),
              _frame("B", [6, 5, 4], [6, 5, 4], {"label1": "v"}, {**meta, "executedQueryString": "Expr: b"})]
    a, b = fr.table_frames(frames)
    assert (a["schema"]["meta"]["executedQueryString"], b["schema"]["meta"]["executedQueryString"]) == ("Expr: a", "Expr: b")
    [table] = fr.table_frames([_frame("A", [1, 2, 3], [5, 10, 5], interval=1)])
    assert table["schema"]["fields"][0]["config"] == {"interval": 1}


def test_table_and_time_series_queries_in_one_panel() -> None:
    """'results with table and time_series format should be correctly transformed': the time series
    first (marked graph), then the table; one table refId, so its column is ``Value``."""
    labels = {"label1": "value1", "label2": "value2"}
    series, table = fr.transform_v2([_frame("A", [6, 5, 4], [6, 5, 4], labels), _frame("B", [6, 5, 4], [6, 5, 4], labels)],
                                    [{"refId": "A", "format": "table"}, {"refId": "B", "format": "time_series"}])
    assert len(series["schema"]["fields"]) == 2 and series["schema"]["meta"]["preferredVisualisationType"] == "graph"
    assert len(table["schema"]["fields"]) == 4 and table["schema"]["meta"]["preferredVisualisationType"] == "rawPrometheus"
    assert table["schema"]["fields"][-1]["name"] == "Value"


def test_recorded_answers_through_the_whole_table_path() -> None:
    """Two table queries over promlib's recorded vector (+Inf, -Inf, NaN samples): each value column
    holds the converter's golden values with their entities, the label columns its labels."""
    answer = json.loads((DATA / "prom-vector.json").read_text())["data"]
    golden = [_shape(f)["fields"] for f in _jsonc(DATA / "prom-vector-frame.jsonc")["frames"]]
    a, b = fr.prometheus_panel_frames([({"refId": "A", "expr": "up", "format": "table"}, answer),
                                       ({"refId": "B", "expr": "up", "format": "table"}, answer)])
    for table, ref in ((a, "A"), (b, "B")):
        shape = _shape(table)["fields"]
        assert [f["name"] for f in shape] == ["Time", "__name__", "instance", "job", "level", "location", f"Value #{ref}"]
        assert shape[0]["values"] == [t for fields in golden for t in fields[0]["values"]]
        assert shape[-1]["values"] == [v for fields in golden for v in fields[1]["values"]]
        assert shape[-1]["entities"] == {"Inf": [2], "NegInf": [3], "NaN": [4]}
        assert shape[4]["values"] == [fields[1]["labels"].get("level", "") for fields in golden]
    decoded = fr.decode_values(a["data"]["values"][-1], a["data"]["entities"][-1])
    assert decoded[:2] == [1, 0] and decoded[2:4] == [math.inf, -math.inf] and math.isnan(decoded[4])


def test_grafana_data_reads_the_special_values_back() -> None:
    """@grafana/data's own ``dataFrameFromJSON`` (display.cjs, Node) reads the null + entities
    encoding back into ±Infinity and NaN: a bar gauge and a table over promlib's recorded vector
    show ∞ and -∞ (a bare NaN in the JSON, as frames.py wrote it before, fails JSON.parse)."""
    answer = json.loads((DATA / "prom-vector.json").read_text())["data"]
    target = {"refId": "A", "expr": "up", "legendFormat": "{{location}} {{level}}", "instant": True}
    gauge = {"type": "bargauge", "title": "g", "targets": [target], "fieldConfig": {"defaults": {}, "overrides": []},
             "options": {"reduceOptions": {"values": False, "calcs": ["lastNotNull"]}}}
    table = {"type": "table", "title": "t", "targets": [{**target, "format": "table"}], "options": {},
             "fieldConfig": {"defaults": {}, "overrides": []}}
    shown = display.run_node("display.cjs", {"timeZone": "utc", "panels": [
        {"key": "g", "panel": gauge, "frames": fr.prometheus_panel_frames([(target, answer)])},
        {"key": "t", "panel": table, "frames": fr.prometheus_panel_frames([(table["targets"][0], answer)])}]})
    assert [(v["title"], v["numeric"], v["text"]) for v in shown["g"]["values"][2:]] == [
        ("moon error", "Infinity", "∞"), ("moon info", "-Infinity", "-∞"), ("moon debug", "NaN", "")]
    assert [row[-1] for row in shown["t"]["rows"]] == ["1", "0", "∞", "-∞", "NaN"]
