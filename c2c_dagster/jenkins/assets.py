"""The ``ci_builds`` asset: every finished Jenkins build as a ci-build-metadata document.

No ``from __future__ import annotations`` here: Dagster reads the config and resource types
from the function signature at definition time.
"""


import dagster as dg

from c2c_core.timeutil import utc_now
from c2c_dagster.freshness import freshness_policy
from c2c_dagster.jenkins.ingest import BuildRef, builds_in_window, fetch_builds
from c2c_dagster.jenkins.partitions import ci_build_partitions
from c2c_dagster.jenkins.resources import JenkinsResource
from c2c_dagster.observability.ui import builds_preview
from c2c_dagster.store import CI_BUILD_METADATA, MetadataStoreResource

# Lists in run metadata are cut to this many names; the counts beside them are whole.
SHOWN = 50


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
    so re-runs and backfills never duplicate. One build Jenkins cannot describe is recorded with
    the reason and the others still land; the first partition holds every older build too.
    """
    scan = None
    if config.builds:
        refs = [BuildRef.parse(text) for text in config.builds]
        scope = f"{len(refs)} build(s) handed by the sensor"
    else:
        window = context.partition_time_window
        # The first partition also holds every older build and those without a start time.
        first = context.partition_key_range.start == ci_build_partitions.get_first_partition_key()
        scan = builds_in_window(jenkins, None if first else window.start, window.end)
        refs = scan.refs
        since = "the beginning" if first else window.start.isoformat()
        scope = f"{len(refs)} finished build(s) started in [{since}, {window.end.isoformat()})"
        for folder, reason in scan.listing.unreadable_folders.items():
            context.log.warning(f"Jenkins folder {folder} could not be read, its jobs are not in this run: {reason}")
        for folder in scan.listing.beyond_depth:
            context.log.warning(f"Jenkins folder {folder} lies deeper than {jenkins.max_folder_depth} folder levels "
                                "(C2C_JENKINS_MAX_FOLDER_DEPTH); its jobs are not in this run")
        for job, reason in scan.unreadable_jobs.items():
            context.log.warning(f"Jenkins job {job}: history could not be read, its builds are not in this run: {reason}")
    context.log.info(f"ingesting {scope} from {jenkins.base_url}")

    report = fetch_builds(jenkins, refs, utc_now())
    for build in report.gone:
        context.log.warning(f"{build} was deleted from Jenkins between listing and fetching; skipped")
    db = store.get_store()
    # A build Jenkins would not describe now is recorded as such, unless an earlier run recorded it
    # fully: a passing 5xx must not wipe a good document.
    recorded = {d["build_id"] for d in db.find(CI_BUILD_METADATA.name, "build_id", sorted(report.unreadable))} if report.unreadable else set()
    documents = [d for d in report.documents if not (d.build_id in recorded and d.metadata_source == "unreadable")]
    for doc in documents:
        for problem in doc.ingest_problems:
            context.log.warning(f"{doc.build_id}: {problem}")

    written = db.upsert(CI_BUILD_METADATA.name, [doc.to_document() for doc in documents]).written
    statuses = report.status_counts()
    missing = report.missing_digests()
    not_read = {
        **({"unreadable_folders": dg.MetadataValue.json(dict(list(scan.listing.unreadable_folders.items())[:SHOWN])),
            "folders_beyond_depth": dg.MetadataValue.json(scan.listing.beyond_depth[:SHOWN]),
            "unreadable_jobs": dg.MetadataValue.json(dict(list(scan.unreadable_jobs.items())[:SHOWN]))}
           if scan else {}),
    }
    return dg.MaterializeResult(
        metadata={
            "builds_written": written,
            "succeeded": statuses.get("SUCCESS", 0),
            "failed": statuses.get("FAILURE", 0),
            "unstable": statuses.get("UNSTABLE", 0),
            "aborted": statuses.get("ABORTED", 0),
            "not_built": statuses.get("NOT_BUILT", 0),
            "missing_digests": len(missing),
            "missing_digest_builds": dg.MetadataValue.json(missing[:SHOWN]),
            "invalid_artifacts": len(report.invalid_artifacts()),
            "builds_gone": len(report.gone),
            "builds_unreadable": len(report.unreadable),
            "builds_unreadable_reasons": dg.MetadataValue.json(dict(list(report.unreadable.items())[:SHOWN])),
            **not_read,
            "jenkins_url": jenkins.base_url,
            **builds_preview(documents),
        }
    )
