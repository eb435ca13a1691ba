"""Jenkins Build Trace (seed 8.4): build frequency, success and failure patterns, durations, commit
author analytics, and each build's commits, tag and digest; a build or commit arrives here from
the traceability dashboards."""

from __future__ import annotations

from c2c_dashboards import links, queries as q, variables as v
from c2c_dashboards.build import Cell, Spec
from c2c_dashboards.panels import (NEUTRAL, WARN_WHEN_ANY, bar_gauge_panel, count_stat, link, stat_panel, table_panel,
                                   timeseries_panel)
from c2c_dashboards.sources import BUILDS

SCOPE = "job_name:$job AND build_id:$build"


def _count_stat(title: str, description: str, query: str, steps=NEUTRAL) -> Cell:
    return Cell(count_stat(title, description, q.counted(BUILDS, query), steps=steps), 6, 5)


def spec() -> Spec:
    return Spec(
        uid=links.JENKINS_BUILDS.uid, slug=links.JENKINS_BUILDS.slug,
        title="Jenkins Build Trace",
        description="Jenkins builds as c2c ingested them (ci-build-metadata): how often, how well, how long, "
                    "by whom, and which image tag and digest each pushed.",
        sources=(BUILDS,),
        variables=(
            # Only OpenSearch reads these, so "All" can be the Lucene wildcard: builds and commits are
            # too many to list.
            v.opensearch_terms("job", "Job", "Jenkins jobs", BUILDS, "job_name", all_value="*"),
            v.opensearch_terms("build", "Build", "Builds of the job (newest 500)", BUILDS, "build_id", "job_name:$job",
                               all_value="*"),
            v.opensearch_terms("commit", "Commit", "A commit: which builds contain it", BUILDS, "commits.commit_id",
                               "job_name:$job", include_all=False),
        ),
        time_from="now-30d",
        rows=(
            (
                _count_stat("Builds", "Finished builds started in the time range.", SCOPE),
                _count_stat("Unsuccessful builds", "Builds whose result is not SUCCESS (FAILURE, UNSTABLE, ABORTED, "
                            "NOT_BUILT).", f"{SCOPE} AND NOT build_status:SUCCESS", steps=WARN_WHEN_ANY),
                _count_stat("Builds without a digest", "Builds that archived no valid build-metadata.json: their "
                            "image cannot be traced by digest.", f"{SCOPE} AND digest_missing:true",
                            steps=WARN_WHEN_ANY),
                # One bucket for the whole range: a terms aggregation on the index (the datasource has
                # one). A last-level filters aggregation would do the same in OpenSearch, but the
                # plugin's response parser reads last-level buckets as a list and returns no frame.
                Cell(stat_panel("Mean build duration", "Mean duration of the builds in the time range.",
                                q.OpenSearch(BUILDS, SCOPE, metrics=[q.field_metric("avg", "duration_ms")],
                                             bucket_aggs=[q.terms("_index", agg_id="2", size=1)]), unit="ms"), 6, 5),
            ),
            (
                Cell(timeseries_panel("Builds per day by result", "Build frequency and success/failure patterns.",
                                      [q.OpenSearch(BUILDS, SCOPE, metrics=[q.count()], bucket_aggs=[
                                          q.terms("build_status", size=10, order_by="_term", order="asc"),
                                          q.date_histogram("timestamp", "1d")])], bars=True, stacked=True), 16, 8),
                Cell(bar_gauge_panel("Builds per author", "Commit author analytics: builds whose commit range "
                                     "contains a commit by each author.",
                                     q.OpenSearch(BUILDS, SCOPE, metrics=[q.count()], bucket_aggs=[q.terms("authors")])),
                     8, 8),
            ),
            (
                Cell(timeseries_panel("Build duration per day", "Mean build duration by day.",
                                      [q.OpenSearch(BUILDS, SCOPE, metrics=[q.field_metric("avg", "duration_ms")],
                                                    bucket_aggs=[q.date_histogram("timestamp", "1d")])],
                                      unit="ms"), 16, 8),
                Cell(bar_gauge_panel("Builds per job", "Build frequency by job.",
                                     q.OpenSearch(BUILDS, SCOPE, metrics=[q.count()], bucket_aggs=[q.terms("job_name")])),
                     8, 8),
            ),
            (
                Cell(table_panel("Builds and their images", "Each build: result, duration, commit range and authors, and the image "
                                 "tag and digest it pushed. The build id opens Jenkins.",
                                 q.OpenSearch(BUILDS, SCOPE, metrics=[q.raw_data()]),
                                 columns=("timestamp", "build_id", "build_status", "duration_ms", "branch", "image_tag",
                                          "image_digest", "commit_range.from", "commit_range.to", "authors",
                                          "digest_missing", "build_url"),
                                 links={"build_url": [link("Open in Jenkins", "${__value.raw}")]},
                                 units={"duration_ms": "ms"}), 24, 9),
            ),
            (
                Cell(table_panel("Builds that contain commit $commit", "Every build whose commit range includes the "
                                 "commit (a commit ships in the first build after it, and in rebuilds).",
                                 q.OpenSearch(BUILDS, "commits.commit_id:$commit", metrics=[q.raw_data()]),
                                 columns=("timestamp", "build_id", "build_status", "image_tag", "image_digest",
                                          "authors")), 24, 7),
            ),
        ),
    )
