"""The ``ci_builds`` asset: every finished Jenkins build as a ci-build-metadata document.

No ``from __future__ import annotations`` here: Dagster reads the config and resource types
from the function signature at definition time.
"""


import dagster as dg

from c2c_dagster.freshness import freshness_policy
from c2c_dagster.jenkins.ingest import BuildRef, builds_in_window, fetch_builds
from c2c_dagster.jenkins.partitions import ci_build_partitions
from c2c_dagster.jenkins.resources import JenkinsResource
from c2c_dagster.store import CI_BUILD_METADATA, MetadataStoreResource
from c2c_dagster.store.timeutil import utc_now


class CiBuildsConfig(dg.Config):
    """Which builds to ingest. Empty (a backfill or a manual run): every finished build of the
    partition's days. The sensor hands exactly the new builds, so a new build never re-reads a day."""

    builds: list[str] = []


@dg.asset(
    partitions_def=ci_build_partitions,
    # A backfill of a range is one run that pages each job's history once, not once per day.
    backfill_policy=dg.BackfillPolicy.single_run(),
    retry_policy=dg.RetryPolicy(max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL),
    freshness_policy=freshness_policy("ci_builds"),
    kinds={"jenkins", "opensearch"},
    group_name="ci",
    owners=["team:platform"],
)
def ci_builds(
    context: dg.AssetExecutionContext,
    config: CiBuildsConfig,
    jenkins: JenkinsResource,
    store: MetadataStoreResource,
) -> dg.MaterializeResult:
    """Jenkins builds: which commits (range and authors) each build took, and which image tag
    and sha256 digest it pushed — the commit -> build -> image half of traceability.

    The digest comes from the pipeline's archived build-metadata.json (written by
    ``c2c-build-metadata``); a build without a valid one is still recorded, flagged
    ``digest_missing``, never given a guessed digest. Documents are upserted by ``build_id``,
    so re-runs and backfills never duplicate.
    """
    if config.builds:
        refs = [BuildRef.parse(text) for text in config.builds]
        scope = f"{len(refs)} build(s) handed by the sensor"
    else:
        window = context.partition_time_window
        refs = list(builds_in_window(jenkins, window.start, window.end))
        scope = f"{len(refs)} finished build(s) started in [{window.start.isoformat()}, {window.end.isoformat()})"
    context.log.info(f"ingesting {scope} from {jenkins.base_url}")

    report = fetch_builds(jenkins, refs, utc_now())
    for build in report.gone:
        context.log.warning(f"{build} was deleted from Jenkins between listing and fetching; skipped")
    for doc in report.documents:
        for problem in doc["ingest_problems"]:
            context.log.warning(f"{doc['build_id']}: {problem}")

    written = store.get_store().upsert(CI_BUILD_METADATA.name, report.documents).written
    statuses = report.status_counts()
    missing = report.missing_digests()
    return dg.MaterializeResult(
        metadata={
            "builds_written": written,
            "succeeded": statuses.get("SUCCESS", 0),
            "failed": statuses.get("FAILURE", 0),
            "unstable": statuses.get("UNSTABLE", 0),
            "aborted": statuses.get("ABORTED", 0),
            "not_built": statuses.get("NOT_BUILT", 0),
            "missing_digests": len(missing),
            "missing_digest_builds": dg.MetadataValue.json(missing[:50]),
            "invalid_artifacts": len(report.invalid_artifacts()),
            "builds_gone": len(report.gone),
            "jenkins_url": jenkins.base_url,
        }
    )
