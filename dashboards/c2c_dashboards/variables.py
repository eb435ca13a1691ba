"""Template variables: a datasource variable per source, and cluster / namespace / workload pickers.

"All" is Grafana's own: every value of the picker, which each datasource formats its way
(``(a|b)`` in a PromQL ``=~`` matcher, ``("a" OR "b")`` in Lucene), so one variable serves
Prometheus and OpenSearch panels alike. Where the values can be many (build ids, commits), a
dashboard that reads only OpenSearch uses the custom all value ``*`` instead (a Lucene term that
matches anything), which no Prometheus panel would understand. Values come from c2c's own data
(Prometheus label values, or a terms aggregation over an index), so a picker never offers a
cluster c2c knows nothing about.
"""

from __future__ import annotations

import json

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import dashboard as dm

from c2c_dashboards.sources import PROMETHEUS, IndexSource, Source


def datasource(source: Source) -> dashboard.DatasourceVariable:
    """Pick the datasource; its default is the datasource chosen at import (``__inputs``)."""
    variable = (
        dashboard.DatasourceVariable(source.var)
        .label(source.label)
        .description(source.description)
        .type(source.plugin)
        .current(dm.VariableOption(text=f"${{{source.input}}}", value=f"${{{source.input}}}"))
    )
    if source.regex:
        variable = variable.regex(source.regex)
    return variable


def _query_variable(name: str, label: str, description: str, datasource_ref: dict[str, str], query: str,
                    all_value: str | None, include_all: bool = True) -> dashboard.QueryVariable:
    variable = (
        dashboard.QueryVariable(name)
        .label(label)
        .description(description)
        .datasource(dm.DataSourceRef(type_val=datasource_ref["type"], uid=datasource_ref["uid"]))
        .query(query)
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .include_all(include_all)
    )
    if not include_all:
        return variable
    if all_value is not None:
        variable = variable.all_value(all_value)
    return variable.current(dm.VariableOption(text="All", value="$__all"))


def prom_label(name: str, label: str, description: str, metric_selector: str, label_name: str) -> dashboard.QueryVariable:
    """Values of one label of a series: ``label_values(metric{...}, label)``."""
    return _query_variable(name, label, description, PROMETHEUS.ref,
                           f"label_values({metric_selector}, {label_name})", None)


def opensearch_terms(name: str, label: str, description: str, source: IndexSource, field: str,
                     query: str = "*", *, all_value: str | None = None, include_all: bool = True,
                     size: int | None = None) -> dashboard.QueryVariable:
    """Values of one keyword field: the plugin's ``{"find": "terms"}`` variable query (its
    default size is 500 values)."""
    find: dict[str, object] = {"find": "terms", "field": field, "query": query}
    if size is not None:
        find["size"] = size
    return _query_variable(name, label, description, source.ref, json.dumps(find), all_value, include_all)


# The pickers of the dashboards that read Prometheus: c2c_pod_info has every pod of every cluster.
def prom_cluster() -> dashboard.QueryVariable:
    return prom_label("cluster", "Cluster", "Clusters c2c scans", "c2c_pod_info", "cluster")


def prom_namespace() -> dashboard.QueryVariable:
    return prom_label("namespace", "Namespace", "Namespaces with pods", 'c2c_pod_info{cluster=~"$cluster"}', "namespace")


def prom_workload() -> dashboard.QueryVariable:
    return prom_label("workload", "Workload", "Workloads with pods",
                      'c2c_pod_info{cluster=~"$cluster",namespace=~"$namespace"}', "workload")
