"""The data frames Grafana's datasources make of the real OpenSearch and Prometheus answers, as
DataFrameJSON (``{"schema": {...}, "data": {"values": [...]}}``, what ``dataFrameFromJSON`` in
``@grafana/data`` reads), for the display proof (display.py, test_dashboard_queries.py).

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

Prometheus: a port of Grafana's Prometheus datasource (Go backend ``pkg/promlib``, then the
frontend's ``result_transformer.ts``; neither can run here): ``converter/prom.go``
``readMatrixOrVectorMulti`` (a frame per series), ``querydata/response.go``
``addMetadataToMultiFrame``/``getName`` (``displayNameFromDS``, the value field named by
``__name__``), and the frontend's ``transformV2``/``transformDFToTable`` for ``format: table``.
Checked against promlib's own golden files and the frontend's own test cases
(test_prometheus_frames.py, data in data/prometheus_datasource). NaN and ±Inf are written as the
plugin SDK writes them: null in ``values``, the row under ``entities``.
"""

from __future__ import annotations

import math
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
        if self.labels is not None:  # Go's data.Labels{} is written as {}, a nil map not at all
            schema["labels"] = self.labels
        return schema


# How the plugin SDK writes float64s JSON cannot hold: null in ``values``, the row in ``entities``
# (what ``dataFrameFromJSON`` in @grafana/data reads back into NaN and ±Infinity).
ENTITIES = {"NaN": math.nan, "Inf": math.inf, "NegInf": -math.inf}


def _entity(value: Any) -> str | None:
    if not isinstance(value, float) or math.isfinite(value):
        return None
    return "NaN" if math.isnan(value) else "Inf" if value > 0 else "NegInf"


def encode_values(values: Sequence[Any]) -> tuple[list[Any], dict[str, list[int]] | None]:
    entities: dict[str, list[int]] = {}
    for row, value in enumerate(values):
        if (kind := _entity(value)) is not None:
            entities.setdefault(kind, []).append(row)
    return [None if _entity(v) else v for v in values], entities or None


def decode_values(values: Sequence[Any], entities: Mapping[str, Sequence[int]] | None) -> list[Any]:
    out = list(values)
    for kind, rows in (entities or {}).items():
        for row in rows:
            out[row] = ENTITIES[kind]
    return out


def frame_json(fields: Sequence[Field], *, name: str = "", ref_id: str = "A", meta: dict[str, Any] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"name": name, "refId": ref_id, "fields": [f.json() for f in fields]}
    if meta:
        schema["meta"] = meta
    encoded = [encode_values(f.values) for f in fields]
    data: dict[str, Any] = {"values": [values for values, _ in encoded]}
    if any(entities for _, entities in encoded):
        data["entities"] = [entities for _, entities in encoded]
    return {"schema": schema, "data": data}


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
LEGEND_FORMAT_AUTO = "__auto"
LEGEND_FORMAT = re.compile(r"\{\{[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\}\}")  # RE2's \s is these five
GO_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v",
              "\\": "\\\\", '"': '\\"'}


def _go_quote(value: str) -> str:
    """Go's ``%q`` of a string (strconv.Quote): C escapes, other unprintable runes as \\x/\\u/\\U."""
    out = []
    for ch in value:
        if ch in GO_ESCAPES:
            out.append(GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _metric_name_from_labels(labels: Mapping[str, str]) -> str:
    """``metricNameFromLabels``: ``name{a="b", c="d"}`` (the ``k="v"`` strings sorted), the bare name,
    ``{a="b"}`` without a name, ``{}`` without labels."""
    pairs = sorted(f"{k}={_go_quote(v)}" for k, v in labels.items() if k != "__name__")
    if not pairs:
        return labels["__name__"] if "__name__" in labels else "{}"
    return f"{labels.get('__name__', '')}{{{', '.join(pairs)}}}"


def series_display_name(expr: str, legend_format: str, labels: Mapping[str, str]) -> str:
    """``getName``: the legend format with ``{{label}}`` replaced (a missing label by nothing); with
    ``__auto`` nothing when the series has labels; else the series name; ``{}`` becomes the query.
    An empty name sets no ``displayNameFromDS``."""
    legend = _metric_name_from_labels(labels)
    if legend_format == LEGEND_FORMAT_AUTO:
        if labels:
            legend = ""
    elif legend_format:
        def label(match: re.Match[str]) -> str:
            name = match.group(0).replace("{{", "", 1).replace("}}", "", 1).strip()
            return labels.get(name, "")
        legend = LEGEND_FORMAT.sub(label, legend_format)
    return expr if legend == "{}" else legend


def _read_matrix_or_vector(data: Mapping[str, Any]) -> list[tuple[list[Field], dict[str, Any]]]:
    """``readMatrixOrVectorMulti``: a frame per series, ``Time`` and ``Value`` with the series'
    labels, meta type ``timeseries-multi`` (``numeric-multi`` for a vector)."""
    result_type = data["resultType"]
    assert result_type in ("matrix", "vector"), f"{result_type} results: not used by c2c's dashboards"
    frames = []
    for series in data["result"]:
        assert "histogram" not in series and "histograms" not in series, "native histograms: not used by c2c's dashboards"
        points: list[Any] = []
        for key, value in series.items():  # the converter appends "value" and "values" as they come
            if key == "value":
                points.append(value)
            elif key == "values":
                points.extend(value)
        labels = dict(series["metric"]) if "metric" in series else None
        times = [int(float(t) * 1000.0) for t, _ in points]  # time.UnixMilli(int64(fv * 1000.0))
        values = [float(v) for _, v in points]  # strconv.ParseFloat: NaN, +Inf, -Inf included
        meta = {"type": "numeric-multi" if result_type == "vector" else "timeseries-multi", "typeVersion": [0, 1],
                "custom": {"resultType": result_type}}
        frames.append(([Field("Time", "time", times), Field("Value", "number", values, labels=labels)], meta))
    return frames


def converter_frames(data: Mapping[str, Any], ref_id: str = "A") -> list[dict[str, Any]]:
    """The converter's frames alone (``ReadPrometheusStyleResult`` of a matrix or vector)."""
    return [frame_json(fields, ref_id=ref_id, meta=meta) for fields, meta in _read_matrix_or_vector(data)]


def promlib_frames(query: Mapping[str, Any], data: Mapping[str, Any], *,
                   step_ms: float | None = None) -> list[dict[str, Any]]:
    """What promlib's ``parseResponse`` makes of one query's answer (``data``: the API's resultType and
    result): the converter's frames, then ``addMetadataToMultiFrame`` (``Time``'s config.interval =
    the step, ``displayNameFromDS`` by ``getName``, the value field named by ``__name__``). No
    series: one frame without fields. ``query``: refId, expr (as sent, variables interpolated),
    legendFormat."""
    ref_id = query.get("refId", "A")
    frames = []
    for (time, value), meta in _read_matrix_or_vector(data):
        if step_ms:
            time.config = {"interval": step_ms}
        labels = value.labels or {}
        display = series_display_name(query.get("expr", ""), query.get("legendFormat") or "", labels)
        if display:
            value.config = {"displayNameFromDS": display}
        value.name = labels.get("__name__", value.name)
        frames.append(frame_json([time, value], ref_id=ref_id, meta=meta))
    return frames or [frame_json([], ref_id=ref_id)]


def _length(frame: Mapping[str, Any]) -> int:
    values = frame["data"]["values"]
    return len(values[0]) if values else 0


def _column(frame: Mapping[str, Any], index: int) -> list[Any]:
    """A field's values as dataFrameFromJSON gives them (entities back to NaN and ±Infinity)."""
    data = frame["data"]
    if index >= len(data["values"]):
        return []
    entities = data.get("entities") or []
    return decode_values(data["values"][index], entities[index] if index < len(entities) else None)


def table_frames(frames: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``transformDFToTable`` (@grafana/prometheus result_transformer.ts): one frame per refId:
    ``Time``, a string column per label (each frame's labels sorted, in order of first appearance,
    ``filterable``), then ``Value`` — ``Value #<refId>`` when the response has several table refIds;
    the rows sorted by time when the times go backwards; meta of the refId's first frame."""
    if not frames or (len(frames) == 1 and _length(frames[0]) == 0):
        return [dict(frame) for frame in frames]
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for frame in frames:
        groups.setdefault(frame["schema"].get("refId", ""), []).append(frame)
    out = []
    for ref_id, group in groups.items():
        label_names: list[str] = []
        for frame in group:
            fields = frame["schema"]["fields"]
            for name in sorted((fields[1].get("labels") or {}) if len(fields) > 1 else {}):
                if name not in label_names:
                    label_names.append(name)
        interval, times, values = None, [], []
        label_values: dict[str, list[str]] = {name: [] for name in label_names}
        previous, needs_sort = -math.inf, False
        for frame in group:
            fields = frame["schema"]["fields"]
            if interval is None and fields:
                interval = (fields[0].get("config") or {}).get("interval")
            for time in _column(frame, 0):
                times.append(time)
                needs_sort = needs_sort or time < previous
                previous = time
            labels = (fields[1].get("labels") or {}) if len(fields) > 1 else {}
            for value in _column(frame, 1):
                values.append(math.nan if value is None else float(value))  # parseSampleValue
                for name in label_names:
                    label_values[name].append(labels.get(name, ""))
        columns = [times, *label_values.values(), values]
        if needs_sort:  # sortDataFrame: a stable sort of the rows by time
            order = sorted(range(len(times)), key=lambda row: times[row])
            columns = [[column[row] for row in order] for column in columns]
        fields_out = [Field("Time", "time", columns[0], config={} if interval is None else {"interval": interval})]
        fields_out += [Field(name, "string", column, config={"filterable": True})
                       for name, column in zip(label_names, columns[1:-1], strict=True)]
        fields_out.append(Field(f"Value #{ref_id}" if len(groups) > 1 else "Value", "number", columns[-1]))
        meta = {**(group[0]["schema"].get("meta") or {}), "preferredVisualisationType": "rawPrometheus"}
        out.append(frame_json(fields_out, ref_id=ref_id, meta=meta))
    return out


def transform_v2(frames: Sequence[Mapping[str, Any]], targets: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The frontend's ``transformV2`` for a dashboard panel: frames of ``format: table`` targets
    through ``table_frames``, the others as they are (marked ``graph``), in that order."""
    by_ref = {target.get("refId", "A"): target for target in targets}
    for target in by_ref.values():
        assert target.get("format") in (None, "time_series", "table"), "heatmap format: not used by c2c's dashboards"
    for frame in frames:
        # transformV2 renames __auto series whose value field is named by __name__ with @grafana/data's
        # getFieldDisplayName; not ported, as no c2c dashboard uses __auto.
        assert by_ref[frame["schema"]["refId"]].get("legendFormat") != LEGEND_FORMAT_AUTO or not any(
            (f.get("labels") or {}).get("__name__") == f["name"] for f in frame["schema"]["fields"]), \
            "__auto legend on named series: not ported"
    tables = {ref for ref, target in by_ref.items() if target.get("format") == "table"}
    others = [{**frame, "schema": {**frame["schema"], "meta": {**(frame["schema"].get("meta") or {}),
                                                               "preferredVisualisationType": "graph"}}}
              for frame in frames if frame["schema"]["refId"] not in tables]
    return others + table_frames([frame for frame in frames if frame["schema"]["refId"] in tables])


def prometheus_panel_frames(queries: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """What a panel's Prometheus queries (each: the target with its expr as sent, and the answer's
    ``data``) give the panel: promlib's frames through ``transform_v2``."""
    frames = [frame for query, data in queries for frame in promlib_frames(query, data)]
    return transform_v2(frames, [query for query, _ in queries])
