"""Kubernetes Resource Utilization (seed 8.6): node and workload CPU and memory from the kubelet's
resource metrics, joined to c2c's pods, workloads and builds (commit-to-runtime correlation)."""

from __future__ import annotations

from c2c_dashboards import links, queries as q, variables as v
from c2c_dashboards.build import Cell, Spec
from c2c_dashboards.panels import stat_panel, table_panel, timeseries_panel
from c2c_dashboards.sources import PROMETHEUS

CLUSTER = 'cluster=~"$cluster"'
SCOPE = 'cluster=~"$cluster",namespace=~"$namespace"'
RATE = "[$__rate_interval]"


def spec() -> Spec:
    return Spec(
        uid=links.RESOURCES.uid, slug=links.RESOURCES.slug,
        title="Kubernetes Resource Utilization",
        description="CPU and memory of nodes and workloads (kubelet resource metrics), by workload and by the "
                    "build that made the running image.",
        sources=(PROMETHEUS,),
        variables=(
            v.prom_cluster(), v.prom_namespace(),
        ),
        time_from="now-1h",
        refresh="1m",
        rows=(
            (
                Cell(stat_panel("Busiest node CPU", "CPU cores used on the busiest node (saturation shows here first).",
                                q.promql(f"max(sum by (node) (rate(node_cpu_usage_seconds_total{{{CLUSTER}}}{RATE})))",
                                         instant=True), unit="short"), 6, 8),
                Cell(timeseries_panel("Node CPU usage", "CPU cores used per node.",
                                      [q.promql(f"sum by (node) (rate(node_cpu_usage_seconds_total{{{CLUSTER}}}{RATE}))",
                                                legend="{{node}}")], unit="short"), 9, 8),
                Cell(timeseries_panel("Node memory working set", "Memory working set per node.",
                                      [q.promql(f"sum by (node) (node_memory_working_set_bytes{{{CLUSTER}}})",
                                                legend="{{node}}")], unit="bytes"), 9, 8),
            ),
            (
                Cell(timeseries_panel("CPU by workload", "CPU cores used by each workload's containers: kubelet "
                                      "series joined to c2c's pods (the recording rule cluster_namespace_workload:"
                                      "container_cpu_usage_seconds:rate5m is the same over a fixed 5m window).",
                                      [q.promql(f"sum by (namespace, workload) (rate(container_cpu_usage_seconds_total"
                                                f'{{{SCOPE},container!=""}}{RATE}) * on (cluster, namespace, pod) '
                                                f"group_left (workload) max by (cluster, namespace, pod, workload) "
                                                f"(c2c_pod_info{{{SCOPE}}}))", legend="{{namespace}}/{{workload}}")],
                                      unit="short"), 12, 8),
                Cell(timeseries_panel("Memory by workload", "Memory working set of each workload's containers.",
                                      [q.promql(f"cluster_namespace_workload:container_memory_working_set_bytes:sum"
                                                f"{{{SCOPE}}}", legend="{{namespace}}/{{workload}}")], unit="bytes"), 12, 8),
            ),
            (
                Cell(table_panel("Top containers by CPU, with their build and commit",
                                 "The 10 busiest containers and the build and commit of the image each runs.",
                                 q.promql(f'topk(10, sum by (cluster, namespace, workload, pod, container, build_id, commit) '
                                          f'(rate(container_cpu_usage_seconds_total{{{SCOPE},container!=""}}{RATE}) '
                                          f"* on (cluster, namespace, pod, container) group_left (workload, build_id, commit) "
                                          f"max by (cluster, namespace, pod, container, workload, build_id, commit) "
                                          f"(c2c_container_info{{{SCOPE}}})))", instant=True, table=True),
                                 columns=("cluster", "namespace", "workload", "pod", "container", "build_id", "commit",
                                          "Value"),
                                 links={"workload": [links.TO_WORKLOAD], "build_id": [links.TO_BUILD],
                                        "commit": [links.TO_COMMIT]}), 24, 9),
            ),
        ),
    )
