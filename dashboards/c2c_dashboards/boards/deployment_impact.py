"""Deployment Impact & Regression (seed 8.5): rollout status, deployment health after releases,
regressions taken back (rollbacks), restarts, drift and failed builds in production."""

from __future__ import annotations

from c2c_dashboards import links, queries as q, variables as v
from c2c_dashboards.build import Cell, Spec
from c2c_dashboards.panels import GOOD_WHEN_ZERO, WARN_WHEN_ANY, count_stat, stat_panel, table_panel, timeseries_panel
from c2c_dashboards.sources import PROMETHEUS, RELEASES, TRACEABILITY

SCOPE = "cluster:$cluster AND namespace:$namespace"
PROM = 'cluster=~"$cluster",namespace=~"$namespace"'


def _prom_stat(title: str, description: str, expr: str, steps=GOOD_WHEN_ZERO) -> Cell:
    return Cell(stat_panel(title, description, q.promql(expr, instant=True), steps=steps), 4, 5)


def spec() -> Spec:
    return Spec(
        uid=links.DEPLOYMENT_IMPACT.uid, slug=links.DEPLOYMENT_IMPACT.slug,
        title="Deployment Impact & Regression",
        description="What releases did to the running system: rollouts still in progress, pods not ready, "
                    "restarts, releases taken back, and images running that should not.",
        sources=(PROMETHEUS, RELEASES, TRACEABILITY),
        variables=(
            v.prom_cluster(), v.prom_namespace(),
        ),
        time_from="now-24h",
        rows=(
            (
                _prom_stat("Rollouts in progress", "Workloads whose rollout is not complete (generation not "
                           "observed, or updated/available replicas short of desired).",
                           f"count(c2c_workload_rollout_complete{{{PROM}}} == 0) or vector(0)"),
                _prom_stat("Pods not ready", "Pods whose Ready condition is false.",
                           f'count(c2c_pod_info{{{PROM},ready="false"}}) or vector(0)'),
                _prom_stat("Container restarts", "Restarts of the containers of the pods running now.",
                           f"sum(c2c_container_restarts_total{{{PROM}}}) or vector(0)", steps=WARN_WHEN_ANY),
                Cell(count_stat("Rollbacks", "Releases taken back in the time range: regressions caught.",
                                q.counted(RELEASES, f"{SCOPE} AND rollback:true", "1h"), steps=WARN_WHEN_ANY), 4, 5),
                _prom_stat("Failed builds running", "Running images made by a failed build (FAILURE, NOT_BUILT or "
                           "ABORTED; an UNSTABLE build is not one).",
                           f'count(c2c_workload_image_flag{{{PROM},flag="failed_build_deployed"}}) or vector(0)'),
                _prom_stat("Drifted images", "Running images the Argo CD app's last sync did not declare.",
                           f'count(c2c_workload_image_flag{{{PROM},flag="drift"}}) or vector(0)'),
            ),
            (
                Cell(timeseries_panel("Restarts by workload", "Container restarts of each workload's running pods; "
                                      "a step right after a release is a regression signal.",
                                      [q.promql(f"sum by (namespace, workload) (c2c_container_restarts_total{{{PROM}}})",
                                                legend="{{namespace}}/{{workload}}")]), 12, 8),
                Cell(table_panel("Rollout status", "1: rollout complete; 0: in progress.",
                                 q.promql(f"c2c_workload_rollout_complete{{{PROM}}}", instant=True, table=True),
                                 columns=("cluster", "namespace", "workload_kind", "workload", "Value"),
                                 links={"workload": [links.TO_WORKLOAD]}), 12, 8),
            ),
            (
                Cell(table_panel("Rollbacks: releases taken back", "Each release taken back: from which build, back to which.",
                                 q.OpenSearch(RELEASES, f"{SCOPE} AND rollback:true", metrics=[q.raw_data()]),
                                 columns=("at", "cluster", "namespace", "workload_name", "from_build_id", "to_build_id",
                                          "argocd_app", "initiated_by"),
                                 links={"workload_name": [links.TO_WORKLOAD], "to_build_id": [links.TO_BUILD]}), 12, 8),
                Cell(table_panel("Drift, failed builds and digest mismatches running",
                                 "Running images flagged drift, failed_build_deployed or digest_mismatch.",
                                 q.OpenSearch(TRACEABILITY, f"{SCOPE} AND running:true AND "
                                              "flags:(drift OR failed_build_deployed OR digest_mismatch)",
                                              metrics=[q.raw_data()]),
                                 columns=("cluster", "namespace", "workload_name", "container_name", "image", "build_id",
                                          "build_status", "argocd_app", "flags"),
                                 links={"workload_name": [links.TO_WORKLOAD], "build_id": [links.TO_BUILD]}), 12, 8),
            ),
        ),
    )
