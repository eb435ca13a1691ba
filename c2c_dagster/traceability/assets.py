"""The ``traceability_records`` asset: what runs in a cluster, joined to the builds that made it.

No ``from __future__ import annotations`` here: Dagster reads the resource types from the
function signature at definition time.
"""

from collections import Counter
from collections.abc import Callable
from typing import Any

import dagster as dg

from c2c_core.registry.client import RegistryClient
from c2c_core.timeutil import iso_utc, utc_now
from c2c_dagster.argocd.assets import argocd_sync_events
from c2c_dagster.documents.traceability import Flag, TraceabilityRecord
from c2c_dagster.freshness import freshness_policy
from c2c_dagster.jenkins.assets import ci_builds
from c2c_dagster.kubernetes.assets import deployment_snapshots
from c2c_dagster.kubernetes.partitions import cluster_partitions
from c2c_dagster.registry.resources import RegistryResource
from c2c_dagster.store import RELEASE_EVENTS, SCAN_WATERMARKS, TRACEABILITY_METADATA, MetadataStoreResource
from c2c_dagster.store.settings import store_kind
from c2c_dagster.store.watermarks import new_watermark, read_watermark
from c2c_dagster.traceability.image_policy import ImagePolicy
from c2c_dagster.traceability.inputs import read_cluster
from c2c_dagster.traceability.plan import ClusterView, RecordsPlan, plan_records, same_content
from c2c_dagster.traceability.preview import traceability_preview
from c2c_dagster.traceability.provenance import ProvenanceStats, registry_lookup
from c2c_dagster.traceability.provenance import annotate as annotate_provenance
from c2c_dagster.traceability.resources import ImagePolicyResource

# eager(), minus "no dependency missing": ci_builds has a partition per day since 2020 and most
# were never ingested, which would otherwise block the join forever. Any newly updated
# ci_builds partition counts, backfilled old days included, not only the latest window.
REFRESH_WHEN_UPSTREAM_LANDS = (
    (
        dg.AutomationCondition.newly_missing()
        # A sync alone changes nothing that runs yet: the post-sync snapshot it brings (or the
        # next scan) lands the pods, and that refreshes the records with the sync in them.
        | dg.AutomationCondition.any_deps_updated().ignore(dg.AssetSelection.assets(argocd_sync_events.key))
    ).since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("refresh when ci_builds (any day) or this cluster's snapshot lands")

CHECKS = [
    dg.AssetCheckSpec("no_untraceable_workloads", asset="traceability_records",
                      description="WARN when a running digest of an internal image was produced by no known build."),
    dg.AssetCheckSpec("no_digest_mismatch", asset="traceability_records", blocking=True,
                      description="ERROR (blocking) when a tag CI built points to another digest than the one running."),
    dg.AssetCheckSpec("no_mixed_versions", asset="traceability_records",
                      description="WARN when one workload's pods run several digests outside a rollout."),
    dg.AssetCheckSpec("no_moved_tags", asset="traceability_records",
                      description="WARN when an internal image runs by a tag that was seen pointing at more than one image."),
    dg.AssetCheckSpec("no_invalid_provenance", asset="traceability_records", blocking=True,
                      description="ERROR (blocking) when a running image's signed build provenance is invalid: bad "
                                  "signature, untrusted key or builder, subject or commit mismatch."),
    dg.AssetCheckSpec("internal_images_have_provenance", asset="traceability_records",
                      description="WARN when an internal image runs without signed provenance while the image "
                                  "policy requires it (require_provenance)."),
]


def _provenance_check(name: str, records: list[TraceabilityRecord], state: str, severity: dg.AssetCheckSeverity,
                      *, active: bool = True) -> dg.AssetCheckResult:
    flagged = sorted(r.record_id for r in records if active and r.provenance == state and r.image_class != "external")
    return dg.AssetCheckResult(
        check_name=name,
        passed=not flagged,
        severity=severity,
        metadata={"count": len(flagged), "records": dg.MetadataValue.json(flagged[:50]),
                  "reasons": dg.MetadataValue.json(sorted({r.provenance_reason for r in records if active
                                                           and r.provenance == state and r.provenance_reason})[:20])},
    )


def _check(name: str, records: list[TraceabilityRecord], flag: Flag, severity: dg.AssetCheckSeverity,
           *, internal_only: bool = False) -> dg.AssetCheckResult:
    flagged = sorted(r.record_id for r in records if str(flag) in r.flags
                     and not (internal_only and r.image_class == "external"))
    return dg.AssetCheckResult(
        check_name=name,
        passed=not flagged,
        severity=severity,
        metadata={"count": len(flagged), "records": dg.MetadataValue.json(flagged[:50])},
    )


@dg.asset(
    partitions_def=cluster_partitions,
    # Lineage: commit -> build (ci_builds) -> digest, sync (argocd_sync_events) -> pods (deployment_snapshots).
    deps=[dg.AssetDep(ci_builds, partition_mapping=dg.AllPartitionMapping()), argocd_sync_events,
          deployment_snapshots],
    automation_condition=REFRESH_WHEN_UPSTREAM_LANDS,
    freshness_policy=freshness_policy("traceability_records"),
    check_specs=CHECKS,
    kinds={store_kind()},
    group_name="traceability",
    owners=["team:platform"],
)
def traceability_records(
    context: dg.AssetExecutionContext,
    store: MetadataStoreResource,
    registry: RegistryResource,
    image_policy: ImagePolicyResource,
) -> dg.MaterializeResult:
    """Commit -> build -> image -> deployment -> pod, for every container running in the cluster:
    which build and commits (and authors) produced the digest each workload runs, matched by
    digest first, then tag, build id and commit; since when it runs; which Argo CD sync and
    config revision rolled it out; and flags for what cannot be trusted (untraceable, digest
    mismatch, mixed versions, a tag that moved, failed build deployed, drift). Third-party
    (external) images are kept with what is known but never called untraceable; containers whose
    image is still being pulled are recorded as pending, judged once their digest is known. Also
    records a release event whenever a workload's running digest changes, rollbacks included.
    With trusted keys in the image policy, each running digest's signed SLSA build provenance
    (cosign's attestation in the registry) is verified: ``provenance`` verified, unsigned or invalid."""
    cluster = context.partition_key
    db = store.get_store()
    policy = image_policy.policy(db)
    context.log.info(f"internal images: {', '.join(policy.internal) or 'all'} ({policy.source})")
    view = read_cluster(db, cluster, registry, log=context.log.info, classify=policy.classify)
    now = iso_utc(utc_now())
    plan = plan_records(view, policy, now=now, watermark=read_watermark(db, cluster, TRACEABILITY_METADATA.name))
    # After the join: each running digest's signed provenance, from the records' cache or the registry.
    provenance = annotate_provenance(plan.records, previous=view.previous.values(), index=view.index,
                                     trust=policy.trust, lookup=registry_lookup(_client_for(registry), policy.trust),
                                     now=now)
    for digest in provenance.errors:
        context.log.info(f"registry could not say whether {digest} carries provenance")
    plan.changed = [r for r in plan.records if not same_content(r, view.previous.get(r.record_id))]
    if plan.changed:
        db.upsert(TRACEABILITY_METADATA.name, [record.to_document() for record in plan.changed])
    if plan.stopped:
        db.upsert(TRACEABILITY_METADATA.name, plan.stopped, mode="merge")
    if plan.events:
        db.upsert(RELEASE_EVENTS.name, [event.to_document() for event in plan.events])
    # Last: every record still running was seen by this run (the unchanged ones are not rewritten).
    db.upsert(SCAN_WATERMARKS.name,
              [new_watermark(cluster, TRACEABILITY_METADATA.name, now, context.run.run_id, "records").to_document()])
    return dg.MaterializeResult(
        metadata=_metadata(cluster, plan, view, policy, provenance),
        check_results=[
            _check("no_untraceable_workloads", plan.records, Flag.UNTRACEABLE, dg.AssetCheckSeverity.WARN),
            _check("no_digest_mismatch", plan.records, Flag.DIGEST_MISMATCH, dg.AssetCheckSeverity.ERROR),
            _check("no_mixed_versions", plan.records, Flag.MIXED_VERSIONS, dg.AssetCheckSeverity.WARN),
            # A third-party tag moving (a base image re-pushed upstream) is upstream's practice, not
            # something to fix here: flagged on the record, not failed in the check.
            _check("no_moved_tags", plan.records, Flag.TAG_MOVED, dg.AssetCheckSeverity.WARN, internal_only=True),
            _provenance_check("no_invalid_provenance", plan.records, "invalid", dg.AssetCheckSeverity.ERROR),
            _provenance_check("internal_images_have_provenance", plan.records, "unsigned", dg.AssetCheckSeverity.WARN,
                              active=policy.trust.require),
        ],
    )


def _client_for(registry: RegistryResource) -> Callable[[str], RegistryClient]:
    """A client per registry host with the resource's credentials (plain http where it says)."""
    return lambda host: RegistryClient(username=registry.username, password=registry.password,
                                       insecure=host in registry.insecure_registries)


def _metadata(cluster: str, plan: RecordsPlan, view: ClusterView, policy: ImagePolicy,
              provenance: ProvenanceStats) -> dict[str, Any]:
    records, events = plan.records, plan.events
    flags = Counter(flag for record in records for flag in record.flags)
    return {
        "records": len(records),
        "records_written": len(plan.changed),  # the others unchanged: the scan watermark covers them
        "matched_to_a_build": sum(1 for r in records if r.build_id),
        "stopped_running": len(plan.stopped),
        "release_events": len(events),
        "rollbacks": sum(1 for e in events if e.rollback),
        "flags": dg.MetadataValue.json(dict(sorted(flags.items()))),
        "external": sum(1 for r in records if r.image_class == "external"),
        "pending": sum(1 for r in records if r.digest_state == "pending"),
        "provenance": dg.MetadataValue.json(dict(sorted(Counter(r.provenance or "not checked" for r in records).items()))),
        "provenance_lookups": provenance.lookups,  # digests asked of the registry; the others from the records
        "provenance_cached": provenance.cached,
        "moved_tags": dg.MetadataValue.json({f"{name}:{tag}": digests for (name, tag), digests in
                                             sorted(plan.moved.items())[:50]}),
        "internal_images": dg.MetadataValue.json({"prefixes": list(policy.internal), "from": policy.source}),
        "registry_lookups": len(view.facts),
        # One question per distinct tag (tags.tags_to_ask); refusals and timeouts are listed, not fatal.
        "registry_tag_lookups": len(view.tags),
        "registry_tag_requests": view.tag_requests,
        "registry_tag_errors": dg.MetadataValue.json(dict(list(view.tag_errors.items())[:50])),
        # Tables of what needs attention and a link to the dashboard (C2C_GRAFANA_URL).
        **traceability_preview(cluster, records, events),
    }
