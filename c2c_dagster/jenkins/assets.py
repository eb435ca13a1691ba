"""The ``ci_builds`` asset: every finished Jenkins build as a ci-build-metadata document.

No ``from __future__ import annotations`` here: Dagster reads the config and resource types
from the function signature at definition time.
"""

from typing import Any

import dagster as dg

from c2c_core.timeutil import iso_utc, utc_now
from c2c_dagster.documents.builds import BuildDocument
from c2c_dagster.freshness import freshness_policy
from c2c_dagster.jenkins.ingest import (
    BuildRef,
    IngestReport,
    StoredBuilds,
    WindowScan,
    builds_in_window,
    documents_to_write,
    fetch_builds,
    store_builds,
)
from c2c_dagster.jenkins.partitions import ci_build_partitions
from c2c_dagster.jenkins.preview import builds_preview
from c2c_dagster.jenkins.resources import JenkinsAuthError, JenkinsResource
from c2c_dagster.store import CI_BUILD_METADATA, MetadataStoreResource
from c2c_dagster.store.settings import store_kind

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
    kinds={"jenkins", store_kind()},
    group_name="ci",
    check_specs=[dg.AssetCheckSpec(
        "no_refused_builds", asset="ci_builds",
        description="Warns when the store refused build documents of the run (each is an open build_refused "
                    "ingest problem with the store's reason); the run itself succeeds for the others.")],
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
    the reason and the others still land; the first partition holds every older build too. A
    build document the store refuses (a value out of its mapped type) is an open ``build_refused``
    ingest problem with the store's reason, counted in ``builds_refused``; the others' run succeeds
    and the ``no_refused_builds`` check warns.
    """
    try:
        refs, scan = _builds_to_ingest(context, config, jenkins)
        report = fetch_builds(jenkins, refs, utc_now())
    except JenkinsAuthError as exc:
        # Credentials do not mend themselves within the retry policy's 70 s: fail at once. The
        # sensor requests the builds again once a later run of theirs can succeed.
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    db = store.get_store()
    recorded = BuildDocument.from_documents(
        db.find(CI_BUILD_METADATA.name, "build_id", sorted(report.unreadable)) if report.unreadable else [])
    documents = documents_to_write(report, (build.build_id for build in recorded))
    for build in report.gone:
        context.log.warning(f"{build} was deleted from Jenkins between listing and fetching; skipped")
    for doc in documents:
        for problem in doc.ingest_problems:
            context.log.warning(f"{doc.build_id}: {problem}")
    stored = store_builds(db, documents, now=iso_utc(utc_now()))
    for build, reason in stored.refused.items():
        context.log.warning(f"{build}: {reason}; recorded in ingest-problems, the other builds are stored")
    refused = stored.refused
    return dg.MaterializeResult(
        metadata=_metadata(report, scan, documents, stored, jenkins.base_url),
        check_results=[dg.AssetCheckResult(
            check_name="no_refused_builds", passed=not refused, severity=dg.AssetCheckSeverity.WARN,
            metadata={"builds_refused": len(refused),
                      "refused_builds": dg.MetadataValue.json(dict(list(refused.items())[:SHOWN]))})],
    )


def _builds_to_ingest(
    context: dg.AssetExecutionContext, config: CiBuildsConfig, jenkins: JenkinsResource
) -> tuple[list[BuildRef], WindowScan | None]:
    """The builds the sensor handed over, or (a backfill, a manual run) every finished build of
    the partitions' days, with what of Jenkins could not be listed for them."""
    if config.builds:
        refs = [BuildRef.parse(text) for text in config.builds]
        context.log.info(f"ingesting {len(refs)} build(s) handed by the sensor from {jenkins.base_url}")
        return refs, None
    window = context.partition_time_window
    # The first partition also holds every older build and those without a start time.
    first = context.partition_key_range.start == context.assets_def.partitions_def.get_first_partition_key()
    scan = builds_in_window(jenkins, None if first else window.start, window.end)
    for folder, reason in scan.listing.unreadable_folders.items():
        context.log.warning(f"Jenkins folder {folder} could not be read, its jobs are not in this run: {reason}")
    for folder in scan.listing.beyond_depth:
        context.log.warning(f"Jenkins folder {folder} lies deeper than {jenkins.max_folder_depth} folder levels "
                            "(C2C_JENKINS_MAX_FOLDER_DEPTH); its jobs are not in this run")
    for job, reason in scan.unreadable_jobs.items():
        context.log.warning(f"Jenkins job {job}: history could not be read, its builds are not in this run: {reason}")
    since = "the beginning" if first else window.start.isoformat()
    context.log.info(f"ingesting {len(scan.refs)} finished build(s) started in [{since}, {window.end.isoformat()}) "
                     f"from {jenkins.base_url}")
    return scan.refs, scan


def _metadata(
    report: IngestReport, scan: WindowScan | None, documents: list[BuildDocument], stored: StoredBuilds,
    jenkins_url: str,
) -> dict[str, Any]:
    statuses = report.status_counts()
    missing = report.missing_digests()
    not_read = {
        "unreadable_folders": dg.MetadataValue.json(dict(list(scan.listing.unreadable_folders.items())[:SHOWN])),
        "folders_beyond_depth": dg.MetadataValue.json(scan.listing.beyond_depth[:SHOWN]),
        "unreadable_jobs": dg.MetadataValue.json(dict(list(scan.unreadable_jobs.items())[:SHOWN])),
    } if scan else {}
    return {
        "builds_written": stored.written,
        "builds_refused": len(stored.refused),
        "builds_refused_reasons": dg.MetadataValue.json(dict(list(stored.refused.items())[:SHOWN])),
        "builds_refusals_resolved": stored.problems_resolved,
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
        "jenkins_url": jenkins_url,
        **builds_preview(documents),
    }
