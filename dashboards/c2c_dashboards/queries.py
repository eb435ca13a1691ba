"""Panel queries: PromQL targets, and OpenSearch targets in the OpenSearch datasource plugin's model.

grafana-foundation-sdk has no OpenSearch query type (its ``elasticsearch`` model lacks the
plugin's ``queryType``/``luceneQueryType``), but its ``Dataquery`` variant is an open interface:
``OpenSearchQuery`` implements it with exactly the JSON the plugin's query editor saves
(grafana/opensearch-datasource ``src/types.ts``: ``query``, ``queryType: "lucene"``,
``luceneQueryType``, ``metrics``, ``bucketAggs``, ``timeField``), so panels hold it like any
SDK query. Aggregations are the plugin's own dicts (ids are strings, settings values strings, as
its editor writes them).
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import prometheus
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

from c2c_dashboards.sources import PROMETHEUS, IndexSource

Agg = dict[str, Any]


class OpenSearchQuery(cogvariants.Dataquery):
    """One grafana-opensearch-datasource (Lucene) query, serialized as the plugin saves it."""

    def __init__(self, *, ref_id: str, source: IndexSource, query: str, metrics: list[Agg],
                 bucket_aggs: list[Agg], alias: str = "") -> None:
        self.ref_id = ref_id
        self.source = source
        self.query = query
        self.metrics = metrics
        self.bucket_aggs = bucket_aggs
        self.alias = alias

    @property
    def lucene_query_type(self) -> str:
        return "RawData" if self.metrics[0]["type"] == "raw_data" else "Metric"

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "datasource": self.source.ref,
            "queryType": "lucene",
            "luceneQueryType": self.lucene_query_type,
            "query": self.query,
            "metrics": self.metrics,
            "bucketAggs": self.bucket_aggs,
            "timeField": self.source.time_field,
        }
        if self.alias:
            payload["alias"] = self.alias
        return payload


class OpenSearch(cogbuilder.Builder[OpenSearchQuery]):
    """Builder, so OpenSearch targets go through the SDK's ``with_target`` like any other."""

    def __init__(self, source: IndexSource, query: str, *, metrics: list[Agg], bucket_aggs: list[Agg] | None = None,
                 ref_id: str = "A", alias: str = "") -> None:
        self._query = OpenSearchQuery(ref_id=ref_id, source=source, query=query, metrics=metrics,
                                      bucket_aggs=bucket_aggs or [], alias=alias)

    def build(self) -> OpenSearchQuery:
        return self._query


# -- metric aggregations ----------------------------------------------------------------------------
def count(agg_id: str = "1") -> Agg:
    return {"id": agg_id, "type": "count"}


def field_metric(kind: str, field: str, agg_id: str = "1") -> Agg:
    """avg, sum, max, min or cardinality (the editor's "Unique Count") of a field."""
    return {"id": agg_id, "type": kind, "field": field}


def raw_data(size: int = 500, order: str = "desc") -> Agg:
    """Documents as they are (a table), newest first by the datasource's time field."""
    return {"id": "1", "type": "raw_data", "settings": {"size": str(size), "order": order}}


# -- bucket aggregations ----------------------------------------------------------------------------
def date_histogram(field: str, interval: str, agg_id: str = "2", *, min_doc_count: int = 0) -> Agg:
    # A fixed interval keeps a bucket's meaning ("per day") whatever the panel's width.
    # min_doc_count 1 leaves empty intervals out: needed where a range times the terms above it
    # would pass OpenSearch's search.max_buckets (65,535), e.g. hours of a year for 20 workloads.
    return {"id": agg_id, "type": "date_histogram", "field": field,
            "settings": {"interval": interval, "min_doc_count": str(min_doc_count), "trimEdges": "0"}}


def terms(field: str, agg_id: str = "3", *, size: int = 20, order_by: str = "_count", order: str = "desc",
          min_doc_count: int = 1) -> Agg:
    return {"id": agg_id, "type": "terms", "field": field,
            "settings": {"size": str(size), "order": order, "orderBy": order_by, "min_doc_count": str(min_doc_count)}}


def filters(agg_id: str = "3", **labelled: str) -> Agg:
    """One bucket per Lucene query, named by the keyword (e.g. ``releases="rollback:false"``)."""
    return {"id": agg_id, "type": "filters",
            "settings": {"filters": [{"query": query, "label": label} for label, query in labelled.items()]}}


def counted(source: IndexSource, query: str, interval: str = "1d") -> OpenSearch:
    """How many documents match, per ``interval`` of the source's time field; a stat panel that
    sums the buckets shows the count over the dashboard's time range."""
    return OpenSearch(source, query, metrics=[count()], bucket_aggs=[date_histogram(source.time_field, interval)])


# -- Prometheus ---------------------------------------------------------------------------------------
def promql(expr: str, *, legend: str = "", instant: bool = False, table: bool = False,
           ref_id: str = "A") -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).ref_id(ref_id).datasource(
        dm.DataSourceRef(type_val=PROMETHEUS.plugin, uid=PROMETHEUS.ref["uid"]))
    query = query.instant() if instant else query.range()
    if legend:
        query = query.legend_format(legend)
    if table:
        query = query.format(pm.PromQueryFormat.TABLE)
    return query
