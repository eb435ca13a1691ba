"""Argo CD Deployment Monitoring (seed 8.5): sync success and failure, deployment (sync) duration,
sync history, and drift between what Argo CD last synced and what runs."""

from __future__ import annotations

from c2c_dashboards import links, queries as q, variables as v
from c2c_dashboards.build import Cell, Spec
from c2c_dashboards.panels import GOOD_WHEN_ZERO, bar_gauge_panel, count_stat, stat_panel, table_panel, timeseries_panel
from c2c_dashboards.sources import PROMETHEUS, SYNCS, TRACEABILITY

SCOPE = "cluster:$cluster AND app:$app"
# Prometheus names an app namespace/name; the variable holds names.
PROM = 'cluster=~"$cluster",app=~".+/$app"'
FAILED = "phase:(Failed OR Error)"


def spec() -> Spec:
    return Spec(
        uid=links.ARGOCD.uid, slug=links.ARGOCD.slug,
        title="Argo CD Deployment Monitoring",
        description="Every finished Argo CD sync c2c recorded (kept beyond Argo CD's 10-entry history): success "
                    "and failure, duration, and images running that the last sync did not declare.",
        sources=(SYNCS, PROMETHEUS, TRACEABILITY),
        variables=(
            v.opensearch_terms("cluster", "Cluster", "Destination clusters of the synced apps", SYNCS, "cluster"),
            v.opensearch_terms("app", "Application", "Argo CD Applications", SYNCS, "app", "cluster:$cluster"),
        ),
        time_from="now-30d",
        rows=(
            (
                Cell(count_stat("Syncs", "Finished syncs in the time range.", q.counted(SYNCS, SCOPE)), 6, 5),
                Cell(count_stat("Failed syncs", "Syncs whose operation ended Failed or Error.",
                                q.counted(SYNCS, f"{SCOPE} AND {FAILED}"), steps=GOOD_WHEN_ZERO), 6, 5),
                Cell(stat_panel("Sync failure rate", "Failed or errored syncs among all syncs c2c has recorded.",
                                q.promql(f'sum(c2c_argocd_syncs_total{{{PROM},phase=~"Failed|Error"}}) '
                                         f"/ sum(c2c_argocd_syncs_total{{{PROM}}})", instant=True),
                                unit="percentunit", steps=((None, "green"), (0.05, "orange"), (0.2, "red"))), 6, 5),
                Cell(stat_panel("Mean sync duration", "Mean time from a sync's start to its end (deployment duration).",
                                q.promql(f"sum(c2c_argocd_sync_duration_seconds_sum{{{PROM}}}) "
                                         f"/ sum(c2c_argocd_sync_duration_seconds_count{{{PROM}}})", instant=True),
                                unit="s"), 6, 5),
            ),
            (
                Cell(timeseries_panel("Syncs per day by phase", "Sync success/failure over time.",
                                      [q.OpenSearch(SYNCS, SCOPE, metrics=[q.count()], bucket_aggs=[
                                          q.terms("phase", size=5, order_by="_term", order="asc"),
                                          q.date_histogram("finished_at", "1d")])], bars=True, stacked=True), 12, 8),
                Cell(bar_gauge_panel("Syncs per application", "How often each app synced in the time range.",
                                     q.OpenSearch(SYNCS, SCOPE, metrics=[q.count()], bucket_aggs=[q.terms("app")])), 6, 8),
                Cell(bar_gauge_panel("Sync duration p90 by application", "90th percentile of sync duration per app "
                                     "(from the duration histogram c2c exports).",
                                     q.promql(f"histogram_quantile(0.9, sum by (le, app) "
                                              f"(c2c_argocd_sync_duration_seconds_bucket{{{PROM}}}))",
                                              instant=True, legend="{{app}}"), unit="s"), 6, 8),
            ),
            (
                Cell(table_panel("Failed syncs and why", "Syncs that ended Failed or Error, with Argo CD's message.",
                                 q.OpenSearch(SYNCS, f"{SCOPE} AND {FAILED}", metrics=[q.raw_data()]),
                                 columns=("finished_at", "app", "revision", "phase", "message", "initiated_by")),
                     12, 8),
                Cell(table_panel("Sync history", "Every finished sync: the config revision, who started it, "
                                 "its outcome.",
                                 q.OpenSearch(SYNCS, SCOPE, metrics=[q.raw_data()]),
                                 columns=("finished_at", "app", "history_id", "revision", "phase", "initiated_by",
                                          "automated", "started_at")), 12, 8),
            ),
            (
                Cell(table_panel("Drift: running images the last sync did not declare",
                                 "A hand edit or another tool changed what runs after Argo CD synced.",
                                 q.OpenSearch(TRACEABILITY, "cluster:$cluster AND running:true AND flags:drift",
                                              metrics=[q.raw_data()]),
                                 columns=("cluster", "argocd_app", "namespace", "workload_name", "container_name",
                                          "image", "argocd_revision"),
                                 links={"workload_name": [links.TO_WORKLOAD]}), 24, 7),
            ),
        ),
    )
