"""Application Release History (seed 8.4): release cadence and the image version history of each
application, from what actually started running (release-events), not from pipeline runs."""

from __future__ import annotations

from c2c_dashboards import links, queries as q, variables as v
from c2c_dashboards.build import Cell, Spec
from c2c_dashboards.panels import NEUTRAL, WARN_WHEN_ANY, bar_gauge_panel, count_stat, table_panel, timeseries_panel
from c2c_dashboards.sources import RELEASES, TRACEABILITY

SCOPE = "cluster:$cluster AND namespace:$namespace AND workload_name:$workload"


def _count_stat(title: str, description: str, query: str, steps=NEUTRAL) -> Cell:
    return Cell(count_stat(title, description, q.counted(RELEASES, query), steps=steps), 6, 5)


def spec() -> Spec:
    return Spec(
        uid=links.RELEASE_HISTORY.uid, slug=links.RELEASE_HISTORY.slug,
        title="Application Release History",
        description="Releases of each application as c2c saw them run: cadence, rollbacks, and the image "
                    "versions (build, commit, digest) each workload has run.",
        sources=(RELEASES, TRACEABILITY),
        variables=(
            v.opensearch_terms("cluster", "Cluster", "Clusters with releases", RELEASES, "cluster"),
            v.opensearch_terms("namespace", "Namespace", "Namespaces with releases", RELEASES, "namespace",
                               "cluster:$cluster"),
            v.opensearch_terms("workload", "Workload", "Workloads with releases", RELEASES, "workload_name",
                               "cluster:$cluster AND namespace:$namespace"),
        ),
        time_from="now-30d",
        rows=(
            (
                _count_stat("Releases", "Changes of the running digest in the time range, rollbacks excluded.",
                            f"{SCOPE} AND rollback:false"),
                _count_stat("Rollbacks", "Returns to a digest that ran there before: a release taken back.",
                            f"{SCOPE} AND rollback:true", steps=WARN_WHEN_ANY),
                Cell(bar_gauge_panel("Releases per workload", "Release events per workload in the time range.",
                                     q.OpenSearch(RELEASES, SCOPE, metrics=[q.count()],
                                                  bucket_aggs=[q.terms("workload_name")])), 12, 5),
            ),
            (
                Cell(timeseries_panel("Release cadence: releases and rollbacks per day",
                                      "Release events per day; a steady cadence of small releases is the goal.",
                                      [q.OpenSearch(RELEASES, SCOPE, metrics=[q.count()], bucket_aggs=[
                                          q.filters(releases="rollback:false", rollbacks="rollback:true"),
                                          q.date_histogram("at", "1d")])], bars=True, stacked=True), 24, 8),
            ),
            (
                Cell(table_panel("Release history", "Every release: from which build to which, the commits it "
                                 "brought, and the Argo CD sync behind it.",
                                 q.OpenSearch(RELEASES, SCOPE, metrics=[q.raw_data()]),
                                 columns=("at", "cluster", "namespace", "workload_name", "container_name", "from_build_id",
                                          "to_build_id", "to_commit_ids", "rollback", "argocd_app", "argocd_revision",
                                          "initiated_by"),
                                 links={"workload_name": [links.TO_WORKLOAD], "to_build_id": [links.TO_BUILD]}), 24, 9),
            ),
            (
                Cell(table_panel("Image version history", "Every image (tag, digest, build) each workload has "
                                 "run, and whether it still runs.",
                                 q.OpenSearch(TRACEABILITY, SCOPE, metrics=[q.raw_data()]),
                                 columns=("first_seen", "cluster", "namespace", "workload_name", "container_name", "image_tag",
                                          "image_digest", "build_id", "running"),
                                 links={"workload_name": [links.TO_WORKLOAD], "build_id": [links.TO_BUILD]}), 24, 9),
            ),
        ),
    )
