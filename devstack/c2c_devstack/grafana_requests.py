"""The requests Grafana would send for a dashboard's panels and template variables, sent for real
(shared by the dashboard query-proof test and the dashboards-over-a-year benchmark).

Grafana cannot run here, so this module does what it and its datasources do with a dashboard JSON,
step by step, and sends the result to the real OpenSearch node and the real Prometheus. The
translation follows the sources of the versions the dashboards are written for:

Template variables (Grafana ``templateSrv``): ``$name`` / ``${name}`` are replaced by the selected
value; "All" without a custom all value is every option. Formats: Lucene (the OpenSearch
datasource interpolates queries with ``lucene``): a single value is escaped with Grafana's
``luceneEscape``, several become ``("a" OR "b")``; Prometheus (``interpolateQueryExpr``): a
variable without multi/"All" is inserted as it is (``prometheusRegularEscape``), otherwise each
value is regex-escaped (``prometheusSpecialRegexEscape``) and several are joined ``(a|b)``; a custom
all value (``*``) is inserted as it is. "All" over no options is an empty list, which the Lucene
format writes ``__empty__`` (grafana/scenes ``formatRegistry.ts``; ``MultiValueVariable`` keeps
"All" selected when a query returns no options). A panel's ``timeFrom`` override (``10y``) is
Grafana's date math ``now-10y``: calendar years (moment's ``subtract``), not 365-day ones.

OpenSearch (grafana/opensearch-datasource 2.34, ``pkg/opensearch/lucene_handler.go`` and
``client/search_request.go``, ``client/models.go``): one ``POST <url>/_msearch`` line pair per
query, header ``{"search_type": "query_then_fetch", "ignore_unavailable": true, "index": <the
datasource's index>}``; body ``size`` 0, ``query.bool.filter`` = a ``range`` on the datasource's
time field (``gte``/``lte`` the dashboard range in epoch ms, ``format: epoch_millis``) and, when
the query string is not empty, a ``query_string`` (``analyze_wildcard: true``) — one filter is
written as an object, several as a list. Bucket aggregations nest in the order the panel lists
them (keyed by their ids): ``date_histogram`` (field, ``interval``, ``min_doc_count`` as an int,
``extended_bounds`` = the range, ``format: epoch_millis``; an ``auto`` interval is written
``$__interval`` (``addDateHistogramAgg``) and ``client.go`` replaces that with
``tsdb.CalculateInterval``'s text: range / 1500 rounded by ``roundInterval``, at least the
datasource's 5 s default minimum, as ``FormatDuration`` writes it), ``terms`` (field, ``size``,
``order`` — ``_term`` sent as ``_key`` — and ``min_doc_count``), ``filters`` (one ``query_string``
per filter, keyed by its label). Metrics other than ``count`` go into the innermost bucket as
``{"<id>": {"<type>": {"field": ...}}}``. A ``raw_data`` query has no aggregations: ``size`` from
its settings (default 500), ``sort`` on the time field (``unmapped_type: boolean``) then
``_doc``, and ``fields: [{"field": <time field>, "format": "strict_date_optional_time_nanos"}]``;
its documents are flattened as the plugin's response parser does (objects to dotted keys, lists
kept whole). Variable queries (``{"find": "terms", ...}``; ``src/QueryBuilder.ts``
``getTermsQuery``): a ``terms`` aggregation ``"1"`` on the field, ``size`` 500, ordered by
``_key`` ascending, under the same range filter and the variable's query string.

Prometheus (Grafana's Prometheus datasource): an instant query is ``GET /api/v1/query`` at the
range's end; a range query ``GET /api/v1/query_range`` with ``step`` = Grafana's
``calculateInterval`` (range / maxDataPoints, rounded by ``roundInterval``, at least the
datasource's scrape interval), start and end floored to the step; ``$__rate_interval`` =
max(step + scrape interval, 4 x scrape interval). maxDataPoints is the panel's width in pixels,
taken as ``gridPos.w x 80`` (a 1920-pixel screen). ``label_values(selector, label)`` is
``GET /api/v1/label/<label>/values?match[]=<selector>&start=&end=``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from c2c_dashboards.sources import INDEX_SOURCES, PROMETHEUS

LUCENE_SPECIAL = re.compile(r'([!*+\-=<>\s&|()\[\]{}^~?:\\/"])')
PROM_REGEX_SPECIAL = re.compile(r"[$^*{}\[\]'+?.()|]")
VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)(?::(\w+))?\}")
RANGE = re.compile(r"^now-(\d+)([smhdw])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# A panel's relative time override (``timeFrom``), as Grafana's panel editor writes it.
OVERRIDE = re.compile(r"^(\d+)([smhdwy])$")
# Grafana's rangeutil.roundInterval: (upper bound, interval) in ms.
ROUNDING = ((15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000), (3500, 2000),
            (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000), (45000, 30000), (90000, 60000),
            (210000, 120000), (450000, 300000), (750000, 600000), (1050000, 900000), (1500000, 1200000),
            (2700000, 1800000), (5400000, 3600000), (9000000, 7200000), (16200000, 10800000),
            (32400000, 21600000), (86400000, 43200000), (604800000, 86400000))


def lucene_escape(value: str) -> str:
    return LUCENE_SPECIAL.sub(r"\\\1", value)


def prom_regex_escape(value: str) -> str:
    return PROM_REGEX_SPECIAL.sub(lambda m: "\\\\" + m.group(0), value.replace("\\", "\\\\\\\\"))


def round_interval(ms: float) -> int:
    return next((rounded for bound, rounded in ROUNDING if ms < bound), 604800000)


@dataclass(frozen=True)
class TimeRange:
    from_ms: int
    to_ms: int

    @classmethod
    def of(cls, board: Mapping[str, Any], now: float | None = None) -> TimeRange:
        """The dashboard's own default range, ``now-<n><unit>`` to ``now``."""
        match = RANGE.match(board["time"]["from"])
        assert match and board["time"]["to"] == "now", board["time"]
        end = int((now if now is not None else time.time()) * 1000)
        return cls(end - int(match.group(1)) * UNITS[match.group(2)] * 1000, end)


    def for_panel(self, panel: Mapping[str, Any]) -> TimeRange:
        """The range Grafana queries a panel over: its ``timeFrom`` override (``10y``: the last ten
        years up to the dashboard's end) in place of the dashboard's start, else the dashboard's."""
        override = panel.get("timeFrom")
        if not override:
            return self
        match = OVERRIDE.match(override)
        assert match, f"panel {panel.get('title')!r}: unsupported timeFrom {override!r}"
        amount, unit = int(match.group(1)), match.group(2)
        if unit == "y":  # calendar years, as moment subtracts them (29 February becomes the 28th)
            end = datetime.fromtimestamp(self.to_ms / 1000, UTC)
            try:
                start = end.replace(year=end.year - amount)
            except ValueError:
                start = end.replace(year=end.year - amount, day=28)
            return TimeRange(int(start.timestamp() * 1000), self.to_ms)
        return TimeRange(self.to_ms - amount * UNITS[unit] * 1000, self.to_ms)


@dataclass
class Selection:
    """The variables' current values: a list of values (several when "All" is chosen)."""

    variables: Mapping[str, Mapping[str, Any]]  # name -> the variable's JSON
    values: dict[str, list[str]] = field(default_factory=dict)
    all_selected: set[str] = field(default_factory=set)

    def choose(self, name: str, value: str | None, options: Sequence[str]) -> None:
        """``value`` None means "All"."""
        if value is None:
            assert self.variables[name].get("includeAll"), f"{name} has no All"
            self.all_selected.add(name)
            self.values[name] = list(options)
        else:
            self.values[name] = [value]

    def _format(self, name: str, fmt: str) -> str:
        variable, values = self.variables[name], self.values[name]
        if name in self.all_selected and variable.get("allValue"):
            return variable["allValue"]
        multi = bool(variable.get("multi") or variable.get("includeAll"))
        if fmt == "lucene":
            if not values:
                return "__empty__"
            if len(values) == 1 and name not in self.all_selected:
                return lucene_escape(values[0])
            return "(" + " OR ".join(f'"{lucene_escape(v)}"' for v in values) + ")"
        if fmt == "prometheus":
            if not multi:
                return values[0].replace("\\", "\\\\").replace("'", "\\\\'")
            escaped = [prom_regex_escape(v) for v in values]
            return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
        assert fmt == "raw", fmt
        return ",".join(values)

    def interpolate(self, text: str, fmt: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            if name not in self.values:
                return match.group(0)  # not a variable of this dashboard ($__interval and the like)
            return self._format(name, match.group(3) or fmt)

        return VARIABLE.sub(replace, text)


@dataclass
class Datasources:
    """Where the dashboards' datasource variables point in the test: the real services."""

    opensearch_url: str
    index_prefix: str
    prometheus_url: str
    scrape_interval_s: float

    def index(self, var: str) -> tuple[str, str]:
        """(physical index, time field) of an OpenSearch datasource variable."""
        source = next(s for s in INDEX_SOURCES if s.var == var)
        return f"{self.index_prefix}{source.index}", source.time_field


def _var_of(ref: Mapping[str, str]) -> str:
    return ref["uid"].strip("${}")


# -- OpenSearch -------------------------------------------------------------------------------------
def _filters(time_field: str, time_range: TimeRange, query: str) -> Any:
    filters: list[dict[str, Any]] = [{"range": {time_field: {"gte": time_range.from_ms, "lte": time_range.to_ms,
                                                             "format": "epoch_millis"}}}]
    if query:
        filters.append({"query_string": {"query": query, "analyze_wildcard": True}})
    return filters[0] if len(filters) == 1 else filters


def format_duration(ms: int) -> str:
    """The plugin's ``tsdb.FormatDuration``."""
    for unit, size in (("y", 365 * 86400000), ("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000)):
        if ms >= size:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def auto_interval(time_range: TimeRange, min_ms: int = 5000) -> str:
    """What ``$__interval`` becomes in the plugin's request (``tsdb.CalculateInterval`` without
    terms: ``resolveInterval(span, min)``)."""
    span = (time_range.to_ms - time_range.from_ms) / 1500
    return format_duration(max(round_interval(span), min_ms) if span >= min_ms else min_ms)


def _bucket(agg: Mapping[str, Any], time_field: str, time_range: TimeRange) -> dict[str, Any]:
    settings = agg.get("settings") or {}
    if agg["type"] == "date_histogram":
        interval = settings.get("interval", "auto")
        if interval in ("auto", "$__interval"):
            interval = auto_interval(time_range)
        return {"date_histogram": {"field": agg.get("field") or time_field, "interval": interval,
                                   "min_doc_count": int(settings.get("min_doc_count", 0)),
                                   "extended_bounds": {"min": time_range.from_ms, "max": time_range.to_ms},
                                   "format": "epoch_millis"}}
    if agg["type"] == "terms":
        terms: dict[str, Any] = {"field": agg["field"], "size": int(settings.get("size") or 500) or 500}
        if settings.get("orderBy"):
            key = "_key" if settings["orderBy"] == "_term" else settings["orderBy"]
            terms["order"] = {key: settings.get("order", "desc")}
        if "min_doc_count" in settings:
            terms["min_doc_count"] = int(settings["min_doc_count"])
        return {"terms": terms}
    if agg["type"] == "filters":
        return {"filters": {"filters": {f.get("label") or f["query"]: {"query_string": {
            "query": f["query"], "analyze_wildcard": True}} for f in settings["filters"]}}}
    raise AssertionError(f"bucket aggregation {agg['type']} is not used by c2c's dashboards")


def opensearch_body(target: Mapping[str, Any], query: str, time_field: str, time_range: TimeRange) -> dict[str, Any]:
    """The ``_msearch`` body the plugin sends for one (already interpolated) query."""
    body: dict[str, Any] = {"size": 0, "query": {"bool": {"filter": _filters(time_field, time_range, query)}}}
    metrics = target["metrics"]
    if metrics[0]["type"] == "raw_data":
        settings = metrics[0].get("settings") or {}
        order = settings.get("order", "desc")
        body["size"] = int(settings.get("size") or 500)
        body["sort"] = [{time_field: {"order": order, "unmapped_type": "boolean"}}, {"_doc": {"order": order}}]
        body["fields"] = [{"field": time_field, "format": "strict_date_optional_time_nanos"}]
        return body
    node = body
    for agg in target["bucketAggs"]:
        child = _bucket(agg, time_field, time_range)
        node.setdefault("aggs", {})[agg["id"]] = child
        node = child
    for metric in metrics:
        if metric["type"] != "count":
            node.setdefault("aggs", {})[metric["id"]] = {metric["type"]: {"field": metric["field"]}}
    return body


def msearch(datasources: Datasources, index: str, body: Mapping[str, Any]) -> dict[str, Any]:
    header = {"search_type": "query_then_fetch", "ignore_unavailable": True, "index": index}
    payload = json.dumps(header) + "\n" + json.dumps(body) + "\n"
    response = requests.post(f"{datasources.opensearch_url}/_msearch", params={"max_concurrent_shard_requests": 5},
                             data=payload, headers={"Content-Type": "application/x-ndjson"}, timeout=30)
    response.raise_for_status()
    [answer] = response.json()["responses"]
    assert "error" not in answer, f"OpenSearch refused {json.dumps(body)}: {answer['error']}"
    return answer


def flatten(source: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The plugin's raw-data flattening: nested objects to dotted keys; lists stay whole."""
    out: dict[str, Any] = {}
    for key, value in source.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name))
        else:
            out[name] = value
    return out


def _rows(aggs: Mapping[str, Any], bucket_aggs: Sequence[Mapping[str, Any]], metrics: Sequence[Mapping[str, Any]],
          keys: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    if not bucket_aggs:
        values = {m["id"]: (aggs["doc_count"] if m["type"] == "count" else aggs[m["id"]]["value"]) for m in metrics}
        return [(keys, values)]
    agg = bucket_aggs[0]
    buckets = aggs[agg["id"]]["buckets"]
    items = buckets.items() if isinstance(buckets, Mapping) else ((b.get("key"), b) for b in buckets)
    return [row for key, bucket in items for row in _rows(bucket, bucket_aggs[1:], metrics, (*keys, key))]


@dataclass
class OpenSearchResult:
    request: dict[str, Any]
    response: dict[str, Any] = field(default_factory=dict)  # the _msearch answer, as the plugin parses it
    time_field: str = ""
    documents: list[dict[str, Any]] = field(default_factory=list)  # raw_data, flattened
    rows: list[tuple[tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)  # (bucket keys, metric id -> value)

    def total(self, metric_id: str = "1") -> float:
        return sum(values[metric_id] or 0 for _, values in self.rows)

    def by(self, position: int, metric_id: str = "1") -> dict[Any, float]:
        """Metric summed per value of one bucket level (e.g. per term, over all days)."""
        out: dict[Any, float] = {}
        for keys, values in self.rows:
            out[keys[position]] = out.get(keys[position], 0) + (values[metric_id] or 0)
        return out


def run_opensearch(target: Mapping[str, Any], selection: Selection, datasources: Datasources,
                   time_range: TimeRange) -> OpenSearchResult:
    index, time_field = datasources.index(_var_of(target["datasource"]))
    body = opensearch_body(target, selection.interpolate(target["query"], "lucene"), time_field, time_range)
    for agg in target["bucketAggs"]:  # filter queries are interpolated too (as the plugin's editor does)
        for filter_query in (agg.get("settings") or {}).get("filters", []):
            assert "$" not in filter_query["query"]
    answer = msearch(datasources, index, body)
    if target["metrics"][0]["type"] == "raw_data":
        docs = [{**flatten(hit["_source"]), "_id": hit["_id"], "_index": hit["_index"]} for hit in answer["hits"]["hits"]]
        return OpenSearchResult(body, answer, time_field, documents=docs)
    return OpenSearchResult(body, answer, time_field,
                            rows=_rows(answer.get("aggregations") or {}, target["bucketAggs"], target["metrics"]))


def opensearch_terms(find: Mapping[str, Any], selection: Selection, datasources: Datasources, var: str,
                     time_range: TimeRange) -> list[str]:
    """A ``{"find": "terms"}`` variable query's options."""
    index, time_field = datasources.index(var)
    query = selection.interpolate(find.get("query") or "*", "lucene")
    body = {"size": 0, "query": {"bool": {"filter": [
        {"range": {time_field: {"gte": time_range.from_ms, "lte": time_range.to_ms, "format": "epoch_millis"}}},
        {"query_string": {"analyze_wildcard": True, "query": query}}]}},
        "aggs": {"1": {"terms": {"field": find["field"], "size": find.get("size", 500), "order": {"_key": "asc"}}}}}
    answer = msearch(datasources, index, body)
    return [str(b["key"]) for b in (answer.get("aggregations") or {}).get("1", {}).get("buckets", [])]


# -- Prometheus -------------------------------------------------------------------------------------
def prometheus_get(datasources: Datasources, path: str, params: Mapping[str, Any]) -> Any:
    response = requests.get(f"{datasources.prometheus_url}/api/v1/{path}", params=params, timeout=30)
    body = response.json()
    assert body.get("status") == "success", f"Prometheus refused {params}: {body}"
    return body["data"]


@dataclass
class PrometheusResult:
    query: str
    series: list[tuple[dict[str, str], float]]  # labels, value (instant) or last value (range)
    points: list[tuple[dict[str, str], list[tuple[float, float]]]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # the API's "data" (resultType and result)

    def by(self, label: str) -> dict[str, float]:
        return {labels.get(label, ""): value for labels, value in self.series}

    @property
    def value(self) -> float:
        assert len(self.series) == 1, self.series
        return self.series[0][1]


def prometheus_intervals(panel: Mapping[str, Any], time_range: TimeRange, scrape_ms: float) -> tuple[float, float]:
    """(``$__interval``, ``$__rate_interval``) in ms for a panel over ``time_range``, the
    datasource's ``timeInterval`` being ``scrape_ms``."""
    interval_ms = max(round_interval((time_range.to_ms - time_range.from_ms) / (panel["gridPos"]["w"] * 80)), scrape_ms)
    return interval_ms, max(interval_ms + scrape_ms, 4 * scrape_ms)


def run_prometheus(target: Mapping[str, Any], panel: Mapping[str, Any], selection: Selection,
                   datasources: Datasources, time_range: TimeRange) -> PrometheusResult:
    interval_ms, rate_interval_ms = prometheus_intervals(panel, time_range, datasources.scrape_interval_s * 1000)
    expr = selection.interpolate(target["expr"], "prometheus").replace(
        "$__rate_interval", f"{int(rate_interval_ms // 1000)}s")
    if target.get("instant"):
        data = prometheus_get(datasources, "query", {"query": expr, "time": time_range.to_ms / 1000})
        return PrometheusResult(expr, [(r["metric"], float(r["value"][1])) for r in data["result"]], data=data)
    step = interval_ms / 1000
    start = (time_range.from_ms / 1000 // step) * step
    end = (time_range.to_ms / 1000 // step) * step
    data = prometheus_get(datasources, "query_range", {"query": expr, "start": start, "end": end, "step": step})
    points = [(r["metric"], [(float(t), float(v)) for t, v in r["values"]]) for r in data["result"]]
    return PrometheusResult(expr, [(labels, values[-1][1]) for labels, values in points if values], points, data)


def prometheus_label_values(query: str, selection: Selection, datasources: Datasources, time_range: TimeRange) -> list[str]:
    match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", selection.interpolate(query, "prometheus"))
    assert match, query
    return prometheus_get(datasources, f"label/{match.group(2)}/values", {
        "match[]": match.group(1), "start": time_range.from_ms / 1000, "end": time_range.to_ms / 1000})


# -- a whole dashboard ------------------------------------------------------------------------------
def variable_options(board: Mapping[str, Any], name: str, selection: Selection, datasources: Datasources,
                     time_range: TimeRange) -> list[str]:
    """Run one query variable (after the variables before it are chosen), sorted as it says."""
    variable = selection.variables[name]
    query = variable["query"]
    if variable["datasource"]["type"] == PROMETHEUS.plugin:
        options = prometheus_label_values(query, selection, datasources, time_range)
    else:
        options = opensearch_terms(json.loads(query), selection, datasources, _var_of(variable["datasource"]), time_range)
    return sorted(options) if variable.get("sort") == 1 else options


def run_target(target: Mapping[str, Any], panel: Mapping[str, Any], selection: Selection, datasources: Datasources,
               time_range: TimeRange) -> OpenSearchResult | PrometheusResult:
    time_range = time_range.for_panel(panel)
    if target["datasource"]["type"] == PROMETHEUS.plugin:
        return run_prometheus(target, panel, selection, datasources, time_range)
    return run_opensearch(target, selection, datasources, time_range)
