"""Code-To-Container Traceability: one workload from commit to pod (seed 8.6, 9). Which commits,
authors, build and digest run in it, on which pods and nodes, since when, rolled out by which sync,
and every version and release before; builds, commits and pods link onwards."""

from __future__ import annotations

from c2c_dashboards import links, queries as q, variables as v
from c2c_dashboards.build import Cell, Spec
from c2c_dashboards.panels import link, stat_panel, table_panel
from c2c_dashboards.sources import DEPLOYMENTS, PROMETHEUS, RELEASES, TRACEABILITY

WORKLOAD = "cluster:$cluster AND namespace:$namespace AND workload_name:$workload"
PROM_WORKLOAD = 'cluster="$cluster",namespace="$namespace",workload="$workload"'
TO_PODS = link("Pod health of this workload", links.POD_HEALTH.url(
    cluster="${cluster}", namespace="${namespace}", workload="${workload}"))


def spec() -> Spec:
    return Spec(
        uid=links.TRACEABILITY.uid, slug=links.TRACEABILITY.slug,
        title="Code-To-Container Traceability",
        description="One workload, commit -> build -> image digest -> deployment -> pods and nodes, and its history.",
        sources=(PROMETHEUS, TRACEABILITY, DEPLOYMENTS, RELEASES),
        variables=(
            # One workload at a time: no "All".
            v.opensearch_terms("cluster", "Cluster", "Clusters with traceability records", TRACEABILITY, "cluster",
                               include_all=False),
            v.opensearch_terms("namespace", "Namespace", "Namespaces of the cluster", TRACEABILITY, "namespace",
                               "cluster:$cluster", include_all=False),
            v.opensearch_terms("workload", "Workload", "Workloads of the namespace", TRACEABILITY, "workload_name",
                               "cluster:$cluster AND namespace:$namespace", include_all=False),
        ),
        rows=(
            (
                Cell(table_panel("What runs in $workload: commit → build → image",
                                 "Each running digest of each container: the commits and authors of the build that "
                                 "produced it, how it was matched and how sure, since when it runs, the Argo CD app "
                                 "and config revision that rolled it out, and its flags.",
                                 q.OpenSearch(TRACEABILITY, f"{WORKLOAD} AND running:true", metrics=[q.raw_data()]),
                                 columns=("container_name", "commit_ids", "authors", "build_id", "build_status",
                                          "image_tag", "image_digest", "match_key", "match_confidence", "first_seen",
                                          "argocd_app", "argocd_revision", "flags", "provenance", "provenance_reason"),
                                 links={"build_id": [links.TO_BUILD]}), 24, 8),
            ),
            (
                Cell(stat_panel("Verified provenance", "Share of this workload's running images whose signed build "
                                "provenance c2c verified.",
                                q.promql(f'(count(c2c_workload_image_provenance{{{PROM_WORKLOAD},provenance="verified"}}) or '
                                         f'vector(0)) / count(c2c_workload_image_pods{{{PROM_WORKLOAD}}})',
                                         instant=True),
                                unit="percentunit", steps=((None, "red"), (1, "green"))), 4, 4),
            ),
            (
                Cell(stat_panel("Pods running $workload", "Pods of this workload running any traced digest.",
                                q.promql(f"sum(c2c_workload_image_pods{{{PROM_WORKLOAD}}})", instant=True),
                                links=[TO_PODS]), 4, 7),
                Cell(table_panel("Commit-to-runtime: pods per build",
                                 "How many pods run each build's image now; the commit is the head of the build's "
                                 "commit range (click it for every build that contains it).",
                                 q.promql(f"sum by (container, commit, build_id, image_digest, traceable) "
                                          f"(c2c_workload_image_pods{{{PROM_WORKLOAD}}})", instant=True, table=True),
                                 columns=("container", "commit", "build_id", "image_digest", "traceable", "Value"),
                                 links={"commit": [links.TO_COMMIT], "build_id": [links.TO_BUILD]}), 20, 7),
            ),
            (
                Cell(table_panel("Pods and nodes", "The pods running now (open versions of their documents), the "
                                 "node and zone each was scheduled to, readiness, and each container's digest and restarts.",
                                 q.OpenSearch(DEPLOYMENTS, f"doc_type:pod AND _exists_:current AND {WORKLOAD}",
                                              metrics=[q.raw_data()]),
                                 # The plugin flattens objects (node.zone) but keeps lists whole: one
                                 # "containers" cell per pod, each container with its digest and restarts.
                                 columns=("pod_name", "nodeName", "node.zone", "phase", "ready", "startTime",
                                          "containers"),
                                 links={"pod_name": [TO_PODS]}), 24, 8),
            ),
            (
                Cell(table_panel("Image version history", "Every digest this workload has run (running or not), "
                                 "with the build that produced it.",
                                 q.OpenSearch(TRACEABILITY, WORKLOAD, metrics=[q.raw_data()]),
                                 columns=("first_seen", "last_seen", "running", "container_name", "image_tag",
                                          "image_digest", "build_id", "commit_ids"),
                                 links={"build_id": [links.TO_BUILD]}), 12, 8),
                Cell(table_panel("Releases", "Every change of the running digest; rollbacks return to an earlier one.",
                                 q.OpenSearch(RELEASES, WORKLOAD, metrics=[q.raw_data()]),
                                 columns=("at", "container_name", "from_build_id", "to_build_id", "to_commit_ids",
                                          "rollback", "argocd_app", "argocd_revision", "initiated_by"),
                                 links={"to_build_id": [links.TO_BUILD]}), 12, 8),
            ),
        ),
    )
