"""Pod Health & Runtime Status (seed 8.6): pod lifecycle, readiness, container restart patterns,
waiting containers and the scheduling distribution over nodes and zones."""

from __future__ import annotations

from c2c_dashboards import links, queries as q, variables as v
from c2c_dashboards.build import Cell, Spec
from c2c_dashboards.panels import (GOOD_WHEN_ZERO, WARN_WHEN_ANY, bar_gauge_panel, pie_panel, stat_panel, table_panel,
                                   timeseries_panel)
from c2c_dashboards.sources import DEPLOYMENTS, PROMETHEUS

PROM = 'cluster=~"$cluster",namespace=~"$namespace",workload=~"$workload"'
PODS_NOW = "doc_type:pod AND _exists_:current AND cluster:$cluster AND namespace:$namespace AND workload_name:$workload"


def _stat(title: str, description: str, expr: str, steps=GOOD_WHEN_ZERO) -> Cell:
    return Cell(stat_panel(title, description, q.promql(expr, instant=True), steps=steps), 6, 5)


def spec() -> Spec:
    return Spec(
        uid=links.POD_HEALTH.uid, slug=links.POD_HEALTH.slug,
        title="Pod Health & Runtime Status",
        description="The pods of the selected workloads: phases, readiness, restarts and why, waiting containers, "
                    "and where they are scheduled.",
        sources=(PROMETHEUS, DEPLOYMENTS),
        variables=(
            v.prom_cluster(), v.prom_namespace(), v.prom_workload(),
        ),
        time_from="now-6h",
        refresh="1m",
        rows=(
            (
                _stat("Pods", "Pods of the selected workloads.", f"count(c2c_pod_info{{{PROM}}})",
                      steps=((None, "blue"),)),
                _stat("Pods not ready", "Pods whose Ready condition is false.",
                      f'count(c2c_pod_info{{{PROM},ready="false"}}) or vector(0)'),
                _stat("Container restarts", "Restarts of the containers of the running pods.",
                      f"sum(c2c_container_restarts_total{{{PROM}}}) or vector(0)", steps=WARN_WHEN_ANY),
                _stat("Waiting containers", "Containers waiting (e.g. CrashLoopBackOff, ImagePullBackOff).",
                      f'count(c2c_container_state{{{PROM},state="waiting"}}) or vector(0)'),
            ),
            (
                Cell(pie_panel("Pods by phase", "Pod lifecycle: how many pods are in each phase.",
                               q.promql(f"count by (phase) (c2c_pod_info{{{PROM}}})", instant=True, legend="{{phase}}")),
                     6, 8),
                Cell(bar_gauge_panel("Pods per node", "Scheduling distribution over nodes.",
                                     q.promql(f"count by (node) (c2c_pod_info{{{PROM}}})", instant=True,
                                              legend="{{node}}")), 9, 8),
                Cell(bar_gauge_panel("Pods per zone", "Scheduling distribution over zones (the node's "
                                     "topology.kubernetes.io/zone, as c2c recorded it).",
                                     q.OpenSearch(DEPLOYMENTS, PODS_NOW, metrics=[q.count()],
                                                  bucket_aggs=[q.terms("node.zone")])), 9, 8),
            ),
            (
                Cell(timeseries_panel("Restarts by pod", "Container restart count of each pod over time.",
                                      [q.promql(f"sum by (pod) (c2c_container_restarts_total{{{PROM}}})",
                                                legend="{{pod}}")]), 12, 8),
                Cell(table_panel("Containers not running", "Containers waiting or terminated, with the reason.",
                                 q.promql(f'c2c_container_state{{{PROM},state!="running"}}', instant=True, table=True),
                                 columns=("namespace", "pod", "container", "state", "reason")), 12, 8),
            ),
            (
                Cell(table_panel("Restart history", "Every pod version with restarts: c2c keeps a new version "
                                 "per observed restart; each container shows its restartCount and the last "
                                 "termination's reason and exit code.",
                                 q.OpenSearch(DEPLOYMENTS, "doc_type:pod AND containers.restartCount:>0 AND "
                                              "cluster:$cluster AND namespace:$namespace AND workload_name:$workload",
                                              metrics=[q.raw_data()]),
                                 columns=("first_seen", "cluster", "namespace", "workload_name", "pod_name", "nodeName",
                                          "phase", "containers"),
                                 links={"workload_name": [links.TO_WORKLOAD]}), 24, 8),
            ),
        ),
    )
