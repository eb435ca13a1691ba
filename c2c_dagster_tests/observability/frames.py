"""The data frames Grafana's datasources make of the real OpenSearch and Prometheus answers, as
DataFrameJSON (``{"schema": {...}, "data": {"values": [...]}}``, what ``dataFrameFromJSON`` in
``@grafana/data`` reads), for the display proof (test_dashboard_display.py).

OpenSearch: a line-by-line port of grafana/opensearch-datasource's backend response parser
(``pkg/opensearch/response_parser.go`` at 2.34, the plugin's version; Go, so it cannot run in Node
and its plugin binary is not available here): ``parseResponse`` (raw_data, else bucket
aggregations), ``processRawDataResponse`` (``_id``/``_type``/``_index``, ``flatten`` to depth 10,
the time field from ``fields`` parsed as RFC 3339 into a time field, names sorted with the time
field first, ``processDocsToDataFrameFields`` typing each column by its first non-null value and
anything else as raw JSON), ``processBuckets`` (aggregation ids sorted; array buckets add
``props[field] = key``, keyed buckets — ``filters`` — add ``props["filter"] = label``; at the last
level a date histogram goes to ``processMetrics``, anything else to ``processAggregationDocs``),
``processMetrics`` (one time-series frame per metric, labels = props + metric/field/metricId),
``processAggregationDocs`` (one table frame: a string column per prop, the bucket key column, a
column per metric named by ``getMetricName``; it reads ``buckets`` as an array only, so keyed
``filters`` buckets at the last level give no frame at all), ``nameFields``/``getFieldName``
(``displayNameFromDS`` of time-series value fields) and ``trimDatapoints``.

Prometheus: Grafana 12's Prometheus datasource (``pkg/promlib``: ``converter/prom.go`` reads a
matrix or vector into one frame per series, fields ``Time`` and ``Value`` with the series' labels;
``querydata/response.go`` ``addMetadataToMultiFrame`` sets ``displayNameFromDS`` from the
legend format, else the series name ``__name__{a="b", ...}``), and for ``format: table`` the
frontend's ``transformDFToTable`` (``@grafana/prometheus`` ``result_transformer.ts``): one frame,
``Time``, a string column per label (sorted), then ``Value`` (``Value #<refId>`` when the panel has
several queries). This is a port too: Grafana's server is not available here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

MAX_FLATTEN_DEPTH = 10
METRIC_NAMES = {"count": "Count", "avg": "Average", "sum": "Sum", "max": "Max", "min": "Min",
                "extended_stats": "Extended Stats", "percentiles": "Percentiles", "cardinality": "Unique Count",
                "moving_avg": "Moving Average", "moving_fn": "Moving Function", "cumulative_sum": "Cumulative Sum",
                "derivative": "Derivative", "bucket_script": "Bucket Script", "raw_document": "Raw Document"}
ALIAS = re.compile(r"\{\{([\s\S]+?)\}\}")


class Field:
    """A data.Field under construction: name, type (``string``, ``number``, ``time``, ``boolean``,
    ``other``), labels, config and values."""

    def __init__(self, name: str, type_: str, values: list[Any] | None = None,
                 labels: dict[str, str] | None = None, config: dict[str, Any] | None = None) -> None:
        self.name, self.type, self.values = name, type_, list(values or [])
        self.labels, self.config = labels, config or {}

    def json(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"name": self.name, "type": self.type, "config": self.config}
        if self.labels:
            schema["labels"] = self.labels
        return schema


def frame_json(fields: Sequence[Field], *, name: str = "", ref_id: str = "A", meta: dict[str, Any] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"name": name, "refId": ref_id, "fields": [f.json() for f in fields]}
    if meta:
        schema["meta"] = meta
    return {"schema": schema, "data": {"values": [f.values for f in fields]}}


# -- OpenSearch (response_parser.go) ---------------------------------------------------------------
def _flatten(target: Mapping[str, Any], max_depth: int, depth: int = 0, prev: str = "",
             out: dict[str, Any] | None = None) -> dict[str, Any]:
    """``flatten``/``step``: non-empty objects to dotted keys down to ``max_depth``."""
    out = {} if out is None else out
    for key, value in target.items():
        new_key = f"{prev}.{key}".strip(".")
        if isinstance(value, Mapping) and value and depth < max_depth:
            _flatten(value, max_depth, depth + 1, new_key, out)
        else:
            out[new_key] = value
    return out


def _rfc3339_ms(value: Any) -> int | None:
    """Go's time.Parse(time.RFC3339Nano, s), in epoch ms; None where it fails."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
        return None
    head, _, rest = value.partition(".")
    frac = re.match(r"\d*", rest).group(0) if rest else ""
    zone = value[len(head) + (1 + len(frac) if rest else 0):]
    parsed = datetime.fromisoformat(head + (zone.replace("Z", "+00:00")))
    return int(parsed.timestamp() * 1000) + int((frac + "000")[:3])


def _timestamp(hit: Mapping[str, Any], time_field: str) -> int | None:
    """``getTimestamp``: ``fields[time_field]`` (a one-element list), else ``_source[time_field]``."""
    times = (hit.get("fields") or {}).get(time_field)
    if isinstance(times, list) and len(times) == 1 and isinstance(times[0], str):
        return _rfc3339_ms(times[0])
    return _rfc3339_ms((hit.get("_source") or {}).get(time_field))


class _Time(int):
    """A value the parser made a time.Time (typed apart from JSON numbers)."""


def _field_type(value: Any) -> str:
    if isinstance(value, _Time):
        return "time"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"  # JSON numbers decode to float64
    if isinstance(value, str):
        return "string"
    return "other"  # json.RawMessage: lists, objects, null


def raw_data_frames(response: Mapping[str, Any], time_field: str, ref_id: str) -> list[dict[str, Any]]:
    """``processRawDataResponse``."""
    documents: list[dict[str, Any]] = []
    names: set[str] = set()
    for hit in response["hits"]["hits"]:
        doc: dict[str, Any] = {"_id": hit.get("_id"), "_type": hit.get("_type"), "_index": hit.get("_index")}
        if isinstance(hit.get("_source"), Mapping):
            doc.update(_flatten(hit["_source"], MAX_FLATTEN_DEPTH))
        stamp = _timestamp(hit, time_field)
        if stamp is not None:
            doc[time_field] = _Time(stamp)
        names.update(doc)
        documents.append(doc)
    front = [time_field] if time_field in names else []
    ordered = front + sorted(names - set(front))
    fields = []
    for name in ordered:  # processDocsToDataFrameFields
        first = next((doc[name] for doc in documents if doc.get(name) is not None), None)
        kind = _field_type(first)
        if kind == "other":  # json.RawMessage: the value as JSON
            fields.append(Field(name, "other", [doc.get(name) for doc in documents], config={"filterable": True}))
            continue
        matches = (lambda v: isinstance(v, _Time)) if kind == "time" else (lambda v: _field_type(v) == kind)
        values = [(int(doc[name]) if kind == "time" else doc[name]) if matches(doc.get(name)) else None
                  for doc in documents]
        fields.append(Field(name, kind, values, config={"filterable": True}))
    return [frame_json(fields, ref_id=ref_id)] if documents or fields else [frame_json([], ref_id=ref_id)]


def _metric_name(metric_type: str) -> str:
    return METRIC_NAMES.get(metric_type, metric_type)


def _float(value: Any) -> float | None:
    """``castToFloat``: numbers, numeric strings; "NaN" and anything else is null."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.lower() != "nan":
        try:
            return float(value)
        except ValueError:
            return None
    return None


class _Parser:
    def __init__(self, target: Mapping[str, Any]) -> None:
        self.target = target
        self.frames: list[dict[str, Any]] = []  # {"fields": [Field], "meta": ...}

    def agg(self, agg_id: str) -> Mapping[str, Any] | None:
        return next((a for a in self.target["bucketAggs"] if a["id"] == agg_id), None)

    def process_buckets(self, aggs: Mapping[str, Any], props: dict[str, str], depth: int) -> None:
        max_depth = len(self.target["bucketAggs"]) - 1
        for agg_id in sorted(aggs):
            agg_def = self.agg(agg_id)
            es_agg = aggs[agg_id]
            if agg_def is None or not isinstance(es_agg, Mapping):
                continue
            if depth == max_depth:
                if agg_def["type"] == "date_histogram":
                    self.process_metrics(es_agg, props)
                else:
                    self.process_aggregation_docs(es_agg, agg_def, props)
                continue
            buckets = es_agg.get("buckets")
            for bucket in buckets if isinstance(buckets, list) else []:
                new_props = dict(props)
                key = bucket.get("key")
                if isinstance(key, str):
                    new_props[agg_def.get("field", "")] = key
                elif isinstance(key, (int, float)) and not isinstance(key, bool):
                    new_props[agg_def.get("field", "")] = str(int(key))
                if isinstance(bucket.get("key_as_string"), str):
                    new_props[agg_def.get("field", "")] = bucket["key_as_string"]
                self.process_buckets(bucket, new_props, depth + 1)
            for label in sorted(buckets) if isinstance(buckets, Mapping) else []:
                self.process_buckets(buckets[label], {**props, "filter": label}, depth + 1)

    def process_metrics(self, es_agg: Mapping[str, Any], props: Mapping[str, str]) -> None:
        buckets = es_agg.get("buckets") if isinstance(es_agg.get("buckets"), list) else []
        for metric in self.target["metrics"]:
            if metric.get("hide"):
                continue
            times, values = [], []
            if metric["type"] == "count":
                labels = {**props, "metric": "count"}
                for bucket in buckets:
                    times.append(int(bucket["key"]))
                    values.append(_float(bucket.get("doc_count")))
            else:
                assert metric["type"] not in ("percentiles", "extended_stats"), "not used by c2c's dashboards"
                labels = {**props, "metric": metric["type"], "field": metric.get("field", ""), "metricId": metric["id"]}
                for bucket in buckets:
                    value_obj = bucket.get(metric["id"])
                    if not isinstance(value_obj, Mapping):
                        continue
                    times.append(int(bucket["key"]))
                    values.append(_float(value_obj.get("normalized_value" if "normalized_value" in value_obj else "value")))
            self.frames.append({"fields": [Field("Time", "time", times), Field("Value", "number", values, labels=labels)],
                                "meta": {"type": "timeseries-multi"}})

    def process_aggregation_docs(self, es_agg: Mapping[str, Any], agg_def: Mapping[str, Any],
                                 props: Mapping[str, str]) -> None:
        prop_keys = sorted(props)
        if self.frames:
            fields = [f for frame in self.frames for f in frame["fields"]]
        else:
            fields = [Field(key, "string") for key in prop_keys]
        frames: list[dict[str, Any]] = []
        agg_field = agg_def.get("field", "")
        buckets = es_agg.get("buckets")
        for bucket in buckets if isinstance(buckets, list) else []:  # MustArray: a keyed object is no buckets
            key = bucket.get("key")
            key_value = key if isinstance(key, str) else _float(key)
            found = False
            for field in fields:
                for prop in prop_keys:
                    if field.name == prop:
                        field.values.append(props[prop])
                if field.name == agg_field:
                    found = True
                    field.values.append(key_value)
            if not found:
                fields.append(Field(agg_field, "string" if isinstance(key, str) else "number", [key_value],
                                    config={"filterable": True}))
            for metric in self.target["metrics"]:
                if metric["type"] == "count":
                    self._add_metric_value(fields, _metric_name("count"), _float(bucket.get("doc_count")))
                else:
                    assert metric["type"] not in ("percentiles", "extended_stats"), "not used by c2c's dashboards"
                    name = _metric_name(metric["type"])
                    if sum(1 for m in self.target["metrics"] if m["type"] == metric["type"]) > 1:
                        name += " " + metric.get("field", "")
                    self._add_metric_value(fields, name, _float((bucket.get(metric["id"]) or {}).get("value")))
            frames = [{"fields": list(fields), "meta": None}]
        self.frames = frames

    @staticmethod
    def _add_metric_value(fields: list[Field], name: str, value: float | None) -> None:
        field = next((f for f in fields if f.name == name), None)
        if field is None:
            field = Field(name, "number")
            fields.append(field)
        field.values.append(value)

    def name_fields(self) -> None:
        metric_types = {f.labels["metric"] for frame in self.frames for f in frame["fields"]
                        if f.labels and "metric" in f.labels}
        for frame in self.frames:
            if frame["meta"] and frame["meta"]["type"] == "timeseries-multi":
                frame["fields"][1].config["displayNameFromDS"] = self.field_name(frame, len(metric_types))

    def field_name(self, frame: Mapping[str, Any], metric_type_count: int) -> str:
        """``getFieldName`` (no pipeline aggregations in c2c's dashboards)."""
        alias = self.target.get("alias") or ""
        if len(frame["fields"]) < 2:
            return alias
        labels = frame["fields"][1].labels
        metric_type = labels.pop("metric", "")
        metric_name = _metric_name(metric_type)
        field = labels.pop("field", "")
        if alias:
            name = alias
            for match in ALIAS.finditer(alias):
                group = match.group(1)
                if group.startswith("term "):
                    name = name.replace(match.group(0), labels.get(group[5:], ""), 1)
                if group in labels:
                    name = name.replace(match.group(0), labels[group], 1)
                if group == "metric":
                    name = name.replace(match.group(0), metric_name, 1)
                if group == "field":
                    name = name.replace(match.group(0), field, 1)
            return name
        if field:
            metric_name += " " + field
        labels.pop("metricId", None)
        if not labels:
            return metric_name
        name = "".join(v + " " for v in labels.values()).strip()
        return name if metric_type_count == 1 else f"{name} {metric_name}"

    def trim(self) -> None:
        histogram = next((a for a in self.target["bucketAggs"] if a["type"] == "date_histogram"), None)
        trim_edges = (histogram or {}).get("settings", {}).get("trimEdges")
        if histogram is None or trim_edges is None:
            return
        edges = int(trim_edges)
        for frame in self.frames:
            rows = len(frame["fields"][0].values) if frame["fields"] else 0
            if edges and rows > edges * 2:
                for field in frame["fields"]:
                    field.values = field.values[edges:-edges]


def opensearch_frames(target: Mapping[str, Any], response: Mapping[str, Any], time_field: str) -> list[dict[str, Any]]:
    """``parseResponse`` for one Lucene query's ``_msearch`` answer."""
    ref_id = target.get("refId", "A")
    if target["metrics"][0]["type"] == "raw_data":
        return raw_data_frames(response, time_field, ref_id)
    parser = _Parser(target)
    parser.process_buckets(response.get("aggregations") or {}, {}, 0)
    parser.name_fields()
    parser.trim()
    return [frame_json(frame["fields"], ref_id=ref_id, meta=frame["meta"]) for frame in parser.frames]


# -- Prometheus ---------------------------------------------------------------------------------------
def _legend(legend: str, labels: Mapping[str, str]) -> str:
    return re.sub(r"\{\{\s*(.+?)\s*\}\}", lambda m: labels.get(m.group(1), ""), legend)


def _series_name(labels: Mapping[str, str], expr: str) -> str:
    """promlib ``getName`` without a legend: ``__name__{a="b", c="d"}``; a series without labels
    is named by its query."""
    if not labels:
        return expr
    rest = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    name = labels.get("__name__", "")
    return f"{name}{{{rest}}}" if rest else name


def prometheus_frames(target: Mapping[str, Any], data: Mapping[str, Any], *, queries_in_panel: int = 1) -> list[dict[str, Any]]:
    """One query's ``data`` (resultType vector or matrix) as Grafana's Prometheus datasource shapes it."""
    ref_id = target.get("refId", "A")
    series = []
    for result in data["result"]:
        labels = dict(result["metric"])
        points = result["values"] if data["resultType"] == "matrix" else [result["value"]]
        series.append((labels, [int(float(t) * 1000) for t, _ in points], [float(v) for _, v in points]))
    if target.get("format") == "table":
        names = sorted({k for labels, _, _ in series for k in labels})
        value_name = "Value" if queries_in_panel == 1 else f"Value #{ref_id}"
        fields = [Field("Time", "time", [t for _, times, _ in series for t in times])]
        fields += [Field(n, "string", [labels.get(n, "") for labels, times, _ in series for _ in times]) for n in names]
        fields.append(Field(value_name, "number", [v for _, _, values in series for v in values]))
        return [frame_json(fields, ref_id=ref_id, meta={"type": "table"})]
    legend = target.get("legendFormat") or ""
    frames = []
    for labels, times, values in series:
        display = _legend(legend, labels) if legend and legend != "__auto" else _series_name(labels, target.get("expr", ""))
        frames.append(frame_json([Field("Time", "time", times),
                                  Field("Value", "number", values, labels=labels, config={"displayNameFromDS": display})],
                                 ref_id=ref_id, meta={"type": "timeseries-multi"}))
    return frames
