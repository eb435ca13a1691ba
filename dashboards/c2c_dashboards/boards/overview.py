"""Code-To-Container Observability – Overview: the landing page (seed 8.6). How much of what runs
is traceable, what needs attention, how releases go; every workload row links to its traceability."""

from __future__ import annotations

from c2c_dashboards import links, queries as q, variables as v
from c2c_dashboards.build import Cell, Spec
from c2c_dashboards.panels import GOOD_WHEN_ZERO, WARN_WHEN_ANY, bar_gauge_panel, stat_panel, table_panel, timeseries_panel
from c2c_dashboards.sources import PROMETHEUS, RELEASES, TRACEABILITY

CLUSTER = 'cluster=~"$cluster"'
ATTENTION_FLAGS = "(untraceable OR digest_mismatch OR mixed_versions OR failed_build_deployed OR drift OR tag_moved)"


def _flag_stat(title: str, flag: str, description: str) -> Cell:
    return Cell(stat_panel(title, description, q.promql(f'sum(c2c_flagged_images{{{CLUSTER},flag="{flag}"}})',
                                                        instant=True), steps=GOOD_WHEN_ZERO), 4, 5)


def spec() -> Spec:
    return Spec(
        uid=links.OVERVIEW.uid, slug=links.OVERVIEW.slug,
        title="Code-To-Container Observability – Overview",
        description="What runs in the clusters, how much of it c2c can trace to a build and a commit, "
                    "and what needs attention. Start here; rows link to one workload's traceability.",
        sources=(PROMETHEUS, TRACEABILITY, RELEASES),
        variables=(v.prom_label("cluster", "Cluster", "Clusters c2c scans", "c2c_running_images", "cluster"),),
        time_from="now-24h",
        rows=(
            (
                Cell(stat_panel("Running images", "Workload containers x running digests in the selected clusters "
                                "(one traceability record each).",
                                q.promql(f"sum(c2c_running_images{{{CLUSTER}}})", instant=True)), 4, 5),
                Cell(stat_panel("Traceable share", "Share of the running images a known CI build produced "
                                "(matched by digest). Below 100% something runs that no build made.",
                                q.promql(f'(sum(c2c_running_images{{{CLUSTER}}}) - sum(c2c_flagged_images{{{CLUSTER},'
                                         f'flag="untraceable"}})) / sum(c2c_running_images{{{CLUSTER}}})', instant=True),
                                unit="percentunit", steps=((None, "red"), (0.9, "orange"), (1, "green"))), 4, 5),
                _flag_stat("Untraceable", "untraceable", "Running images no known build produced (e.g. pushed by hand)."),
                _flag_stat("Digest mismatches", "digest_mismatch",
                           "Running images whose tag CI built with another digest: the tag moved."),
                _flag_stat("Drift", "drift", "Running images the Argo CD app's last sync did not declare."),
                Cell(stat_panel("Oldest snapshot", "Age of the oldest cluster snapshot among the selected clusters; "
                                "scans run every 10 minutes by default.",
                                q.promql(f"max(cluster:c2c_snapshot_age_seconds{{{CLUSTER}}})", instant=True),
                                unit="s", steps=((None, "green"), (1200, "orange"), (1800, "red"))), 4, 5),
            ),
            (
                Cell(bar_gauge_panel("Running images by flag", "How many running images carry each flag "
                                     "(see c2c_dagster/traceability/correlate.py for each rule).",
                                     q.promql(f"sum by (flag) (c2c_flagged_images{{{CLUSTER}}})", instant=True,
                                              legend="{{flag}}"), steps=GOOD_WHEN_ZERO), 7, 8),
                Cell(bar_gauge_panel("Ingest problems", "What c2c stored but could not fully read, by source: builds "
                                     "without a valid build-metadata.json, syncs to clusters c2c does not read, "
                                     "partial snapshots, unreadable Jenkins jobs or folders (all clusters).",
                                     q.promql("sum by (source, problem) (c2c_ingest_problem_documents)", instant=True,
                                              legend="{{source}}: {{problem}}"), steps=WARN_WHEN_ANY), 7, 8),
                Cell(timeseries_panel("Releases and rollbacks per day", "Changes of a workload's running digest, "
                                      "by day; a rollback is a return to a digest that ran there before.",
                                      [q.OpenSearch(RELEASES, "cluster:$cluster", metrics=[q.count()], bucket_aggs=[
                                          q.filters(releases="rollback:false", rollbacks="rollback:true"),
                                          q.date_histogram("at", "1d")])], bars=True), 10, 8),
            ),
            (
                Cell(stat_panel("Verified provenance", "Share of the running images whose signed build provenance "
                                "c2c verified (trusted key and builder, running digest, attributed commit). "
                                "Images not checked (no trusted key configured) count as not verified.",
                                q.promql(f'sum(c2c_provenance_images{{{CLUSTER},provenance="verified"}}) / '
                                         f'sum(c2c_running_images{{{CLUSTER}}})', instant=True),
                                unit="percentunit", steps=((None, "red"), (0.9, "orange"), (1, "green"))), 4, 5),
                Cell(stat_panel("Invalid provenance", "Running images whose provenance is invalid: bad signature, "
                                "untrusted key or builder, another digest or commit (alert C2CProvenanceInvalid).",
                                q.promql(f'sum(c2c_provenance_images{{{CLUSTER},provenance="invalid"}})', instant=True),
                                steps=GOOD_WHEN_ZERO), 4, 5),
            ),
            (
                Cell(table_panel("Workloads that need attention", "Running images flagged untraceable, digest "
                                 "mismatch, mixed versions, failed build deployed, drift or a tag that moved. Click a workload for "
                                 "its traceability, a build for its trace.",
                                 q.OpenSearch(TRACEABILITY, f"cluster:$cluster AND running:true AND flags:{ATTENTION_FLAGS}",
                                              metrics=[q.raw_data()]),
                                 columns=("cluster", "namespace", "workload_name", "container_name", "image_digest",
                                          "build_id", "flags", "first_seen"),
                                 links={"workload_name": [links.TO_WORKLOAD], "build_id": [links.TO_BUILD]}), 24, 10),
            ),
        ),
    )
