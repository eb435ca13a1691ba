"""Deployments Over Time (seed 8.4): deployment timelines and trends per namespace and workload,
from release events and the versioned workload documents, with replica counts from Prometheus."""

from __future__ import annotations

from c2c_dashboards import links, queries as q, variables as v
from c2c_dashboards.build import Cell, Spec
from c2c_dashboards.panels import bar_gauge_panel, count_stat, table_panel, timeseries_panel
from c2c_dashboards.sources import DEPLOYMENTS, PROMETHEUS, RELEASES

SCOPE = "cluster:$cluster AND namespace:$namespace"
PROM_SCOPE = 'cluster=~"$cluster",namespace=~"$namespace"'


def spec() -> Spec:
    return Spec(
        uid=links.DEPLOYMENTS_OVER_TIME.uid, slug=links.DEPLOYMENTS_OVER_TIME.slug,
        title="Deployments Over Time",
        description="When each namespace and workload was deployed, how its workload object changed version by "
                    "version, and its replicas now.",
        sources=(PROMETHEUS, RELEASES, DEPLOYMENTS),
        variables=(
            v.prom_cluster(), v.prom_namespace(),
        ),
        rows=(
            (
                Cell(count_stat("Releases in range", "Release events (digest changes, rollbacks included).",
                                q.counted(RELEASES, SCOPE)), 6, 8),
                Cell(timeseries_panel("Releases per day by namespace", "Deployment trend by namespace.",
                                      [q.OpenSearch(RELEASES, SCOPE, metrics=[q.count()], bucket_aggs=[
                                          q.terms("namespace"), q.date_histogram("at", "1d")])],
                                      bars=True, stacked=True), 18, 8),
            ),
            (
                Cell(timeseries_panel("Deployment timeline: releases per hour by workload",
                                      "Which workload changed its running digest when.",
                                      [q.OpenSearch(RELEASES, SCOPE, metrics=[q.count()], bucket_aggs=[
                                          q.terms("workload_name"), q.date_histogram("at", "1h", min_doc_count=1)])],
                                      bars=True), 12, 8),
                Cell(bar_gauge_panel("Replicas by workload: desired and available",
                                     "Desired and available replicas of each Deployment, StatefulSet and DaemonSet "
                                     "as of the last cluster snapshot.",
                                     q.promql(f'sum by (namespace, workload, state) (c2c_workload_replicas{{{PROM_SCOPE},'
                                              f'state=~"desired|available"}})', instant=True,
                                              legend="{{namespace}}/{{workload}} {{state}}")), 12, 8),
            ),
            (
                Cell(table_panel("Workload versions", "Each version of each workload object (a new one when its "
                                 "images, replicas, strategy or rollout state changed), from first_seen until the "
                                 "next version.",
                                 q.OpenSearch(DEPLOYMENTS, f"doc_type:workload AND {SCOPE}", metrics=[q.raw_data()]),
                                 columns=("first_seen", "until", "cluster", "namespace", "workload_kind", "workload_name", "revision",
                                          "replicas.desired", "replicas.available", "rollout_complete",
                                          "containers"),
                                 links={"workload_name": [links.TO_WORKLOAD]}), 24, 10),
            ),
        ),
    )
