"""Delivery Performance: DORA's four keys from what ran in production (``delivery_metrics``), with the
DORA band of each, per app and cluster.

The ``delivery-metrics`` index holds one row per scope and day: an app in a cluster, a cluster
(every app), an app (every cluster) and everything, ``*`` standing for "every". The cluster and
app pickers offer ``*`` as a value of their own, so ``cluster:$cluster AND app:$app`` selects the
rows of exactly one scope and nothing is counted twice; the panels that break figures down by app
or by cluster read the rows one scope finer (``NOT app:"*"``). The headline figures of the last 30
days come from the exporter's ``c2c_dora_*`` gauges, which are ``c2c dora --since 30d``'s numbers
(medians and p90s over every commit and failure of the period cannot be assembled from daily rows
by an aggregation).
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.models import dashboard as dm

from c2c_dashboards import links, queries as q, variables as v
from c2c_dashboards.build import Cell, Spec
from c2c_dashboards.panels import (
    GOOD_WHEN_ZERO,
    bar_gauge_panel,
    count_stat,
    stat_panel,
    table_panel,
    timeseries_panel,
)
from c2c_dashboards.sources import DELIVERY, PROMETHEUS

SCOPE = "cluster:$cluster AND app:$app"
BY_APP = 'cluster:$cluster AND NOT app:"*"'  # each app's rows, in the chosen cluster or in every one
BY_CLUSTER = 'app:$app AND NOT cluster:"*"'
PROM = 'cluster="$cluster",app="$app"'
# The rows' own "every cluster" / "every app", offered as a value (the pickers' default).
EVERY_OPTION = dm.VariableOption(text="*", value="*")

# The bands of delivery/bands.py as threshold colours (elite green, high yellow, medium orange, low red).
FREQUENCY_BANDS = ((None, "red"), (1 / 30, "orange"), (1 / 7, "yellow"), (1, "green"))
LEAD_TIME_BANDS = ((None, "green"), (86400, "yellow"), (7 * 86400, "orange"), (30 * 86400, "red"))
# Grafana colours a value from a step on; the bands end at "at most 5 %", so a rate of exactly 5 %
# shows yellow here while its band (the bands panel) is elite.
FAILURE_RATE_BANDS = ((None, "green"), (0.05, "yellow"), (0.10, "orange"), (0.15, "red"))
RECOVERY_BANDS = ((None, "green"), (3600, "yellow"), (86400, "orange"), (7 * 86400, "red"))
BAND_NAMES = {4: ("elite", "green"), 3: ("high", "yellow"), 2: ("medium", "orange"), 1: ("low", "red")}
LAST_30 = "As `c2c dora --since 30d` prints it (the exporter's window), whatever the dashboard's range."


def _sum(field: str, agg_id: str = "1") -> q.Agg:
    return q.field_metric("sum", field, agg_id)


def _daily(field: str, agg_id: str = "1") -> q.Agg:
    # One row per scope and day: the maximum of a day's bucket is that row's value.
    return q.field_metric("max", field, agg_id)


def _last_30(title: str, description: str, metric: str, unit: str, steps: Sequence[tuple[float | None, str]],
             matcher: str = "") -> Cell:
    """One of the headline figures: a c2c_dora_* gauge of the chosen scope."""
    selector = f"{PROM},{matcher}" if matcher else PROM
    return Cell(stat_panel(f"{title} (last 30 days)", f"{description} {LAST_30}",
                           q.promql(f"{metric}{{{selector}}}", instant=True), unit=unit, steps=steps), 4, 5)


def _bands_panel() -> object:
    panel = stat_panel(
        "DORA bands (last 30 days)",
        "The DORA performance band of each key (delivery/bands.py: elite, high, medium, low). " + LAST_30,
        q.promql(f"c2c_dora_band{{{PROM}}}", instant=True, legend="{{key}}"), steps=((None, "blue"),))
    return panel.mappings([dm.ValueMap(options={str(value): dm.ValueMappingResult(text=name, color=colour, index=i)
                                                for i, (value, (name, colour)) in enumerate(BAND_NAMES.items())})])


def spec() -> Spec:
    return Spec(
        uid=links.DELIVERY.uid, slug=links.DELIVERY.slug,
        title="Delivery Performance",
        description="DORA's four keys from what actually ran in production: deployment frequency, lead time for "
                    "changes, change failure rate and failed deployment recovery time, with their DORA bands, "
                    "per app and cluster (the delivery_metrics asset; `c2c dora` prints the same).",
        sources=(PROMETHEUS, DELIVERY),
        variables=(
            v.opensearch_terms("cluster", "Cluster", "Production clusters; * is every production cluster",
                               DELIVERY, "cluster", "scope:(cluster OR all)", include_all=False).current(EVERY_OPTION),
            v.opensearch_terms("app", "Application", "Apps (the Argo CD app, else the workload's namespace/name) "
                               "that deployed in the chosen cluster; * is every app", DELIVERY, "app",
                               "cluster:$cluster", include_all=False).current(EVERY_OPTION),
        ),
        time_from="now-30d",
        tags=("dora",),
        rows=(
            (
                _last_30("Deployments a day", "Deployment frequency: production deployments per day c2c observed.",
                         "c2c_dora_deployments_per_day", "none", FREQUENCY_BANDS),
                _last_30("Lead time median", "Commit to running in production, median over the commits released "
                         "for the first time.", "c2c_dora_lead_time_seconds", "s", LEAD_TIME_BANDS, 'quantile="0.5"'),
                _last_30("Lead time p90", "90th percentile of the lead time.", "c2c_dora_lead_time_seconds", "s",
                         LEAD_TIME_BANDS, 'quantile="0.9"'),
                _last_30("Change failure rate", "Deployments rolled back, replaced by a fix release, or whose own "
                         "rollout failed (a failed or degraded sync that changed the cluster); a "
                         "sync that applied nothing is no deployment.", "c2c_dora_change_failure_rate", "percentunit",
                         FAILURE_RATE_BANDS),
                _last_30("Recovery time median", "Failed deployment to the first deployment that restored a working "
                         "version (the rollback, else the fix), median.",
                         "c2c_dora_recovery_time_seconds", "s", RECOVERY_BANDS, 'quantile="0.5"'),
                Cell(_bands_panel(), 4, 5),
            ),
            (
                Cell(count_stat("Deployments", "Production deployments in the time range (rollbacks included).",
                                q.OpenSearch(DELIVERY, SCOPE, metrics=[_sum("deployments")],
                                             bucket_aggs=[q.date_histogram("day", "1d")])), 6, 5),
                Cell(count_stat("Failed deployments", "Deployments that failed (change failure) in the time range.",
                                q.OpenSearch(DELIVERY, SCOPE, metrics=[_sum("failed_deployments")],
                                             bucket_aggs=[q.date_histogram("day", "1d")]), steps=GOOD_WHEN_ZERO), 6, 5),
                Cell(count_stat("Rollbacks", "Deployments that returned to an earlier digest.",
                                q.OpenSearch(DELIVERY, SCOPE, metrics=[_sum("rollbacks")],
                                             bucket_aggs=[q.date_histogram("day", "1d")]), steps=GOOD_WHEN_ZERO), 6, 5),
                Cell(count_stat("Recoveries", "Failed deployments restored by a later good deployment.",
                                q.OpenSearch(DELIVERY, SCOPE, metrics=[_sum("recovery_count")],
                                             bucket_aggs=[q.date_histogram("day", "1d")])), 6, 5),
            ),
            (
                Cell(timeseries_panel("Deployments and failed deployments per day",
                                      "Deployment frequency per UTC day, and the deployments that failed.",
                                      [q.OpenSearch(DELIVERY, SCOPE, metrics=[_sum("deployments"),
                                                                             _sum("failed_deployments", "4")],
                                                    bucket_aggs=[q.date_histogram("day", "1d")])], bars=True), 12, 8),
                Cell(timeseries_panel("Deployments per week", "Deployment frequency per week (weeks start on Monday, "
                                      "UTC).",
                                      [q.OpenSearch(DELIVERY, SCOPE, metrics=[_sum("deployments")],
                                                    bucket_aggs=[q.date_histogram("day", "1w")])], bars=True), 12, 8),
            ),
            (
                Cell(timeseries_panel("Deployments per day by app", "Each app's deployments in the chosen cluster "
                                      "(or in every production cluster).",
                                      [q.OpenSearch(DELIVERY, BY_APP, metrics=[_sum("deployments")], bucket_aggs=[
                                          q.terms("app", size=20, order_by="_term", order="asc"),
                                          q.date_histogram("day", "1d")])], bars=True, stacked=True), 12, 8),
                Cell(bar_gauge_panel("Deployments by cluster", "The chosen app's deployments (or every app's) in "
                                     "each production cluster over the time range.",
                                     q.OpenSearch(DELIVERY, BY_CLUSTER, metrics=[_sum("deployments")],
                                                  bucket_aggs=[q.terms("cluster", order_by="_term", order="asc")])),
                     12, 8),
            ),
            (
                Cell(timeseries_panel("Lead time median and p90 per day", "Each day's lead time for changes over the "
                                      "commits first released that day.",
                                      [q.OpenSearch(DELIVERY, SCOPE, metrics=[_daily("lead_time_median_seconds"),
                                                                             _daily("lead_time_p90_seconds", "4")],
                                                    bucket_aggs=[q.date_histogram("day", "1d")])],
                                      unit="s", steps=LEAD_TIME_BANDS), 8, 8),
                Cell(timeseries_panel("Change failure rate per day", "Each day's failed deployments / deployments.",
                                      [q.OpenSearch(DELIVERY, SCOPE, metrics=[_daily("change_failure_rate")],
                                                    bucket_aggs=[q.date_histogram("day", "1d")])],
                                      unit="percentunit", steps=FAILURE_RATE_BANDS), 8, 8),
                Cell(timeseries_panel("Recovery time median per day", "Median time to restore of the failed "
                                      "deployments restored that day.",
                                      [q.OpenSearch(DELIVERY, SCOPE, metrics=[_daily("recovery_median_seconds")],
                                                    bucket_aggs=[q.date_histogram("day", "1d")])],
                                      unit="s", steps=RECOVERY_BANDS), 8, 8),
            ),
            (
                Cell(table_panel("Delivery by day", "The stored rows of the chosen scope: one per UTC day, with "
                                 "the workloads deployed.",
                                 q.OpenSearch(DELIVERY, SCOPE, metrics=[q.raw_data()]),
                                 columns=("day", "cluster", "app", "deployments", "rollbacks", "failed_deployments",
                                          "change_failure_rate", "lead_time_median_seconds", "recovery_median_seconds",
                                          "workloads"),
                                 # the datasource makes its time field a time: shown as the UTC day it is
                                 units={"day": "time:YYYY-MM-DD", "change_failure_rate": "percentunit", "lead_time_median_seconds": "s",
                                        "recovery_median_seconds": "s"},
                                 links={"app": [links.TO_APP_DELIVERY]}), 24, 9),
            ),
        ),
    )
