"""The ``traceability_records`` asset: what runs in a cluster, joined to the builds that made it.

No ``from __future__ import annotations`` here: Dagster reads the resource types from the
function signature at definition time.
"""

from collections import defaultdict

import dagster as dg

from c2c_core.timeutil import iso_utc, utc_now
from c2c_dagster.documents.argocd import SyncEventDocument
from c2c_dagster.documents.deployments import version_from_document
from c2c_dagster.documents.traceability import CONTAINER_KEY, ReleaseEvent, TraceabilityRecord
from c2c_dagster.freshness import freshness_policy
from c2c_dagster.jenkins.assets import ci_builds
from c2c_dagster.kubernetes.assets import deployment_snapshots
from c2c_dagster.kubernetes.partitions import cluster_partitions
from c2c_dagster.observability.ui import traceability_preview
from c2c_dagster.registry.resources import RegistryResource
from c2c_dagster.store import (
    ARGOCD_SYNC_EVENTS,
    DEPLOYMENT_METADATA,
    FIND_ALL,
    RELEASE_EVENTS,
    TRACEABILITY_METADATA,
    MetadataStore,
    MetadataStoreResource,
)
from c2c_dagster.traceability.build_lookup import relevant_builds
from c2c_dagster.traceability.correlate import BuildIndex, Flag, SyncInfo, correlate
from c2c_dagster.traceability.releases import ObservedState, release_events
from c2c_dagster.traceability.resources import ImagePolicyResource
from c2c_dagster.traceability.tags import moved_tags, observed_digests, tag_key
from c2c_dagster.traceability.view import running_containers

# eager(), minus "no dependency missing": ci_builds has a partition per day since 2020 and most
# were never ingested, which would otherwise block the join forever. Any newly updated
# ci_builds partition counts, backfilled old days included, not only the latest window.
REFRESH_WHEN_UPSTREAM_LANDS = (
    (dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated()).since_last_handled()
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
]


def _latest_syncs(store: MetadataStore, apps: set[str], cluster: str) -> dict[str, SyncInfo]:
    """The newest successful sync event per Argo CD app that deployed to ``cluster``, keyed as
    deployment_snapshots names the app (``namespace/name`` when known, else the name). Each
    cluster's Argo CD may have an app of the same name (argocd/web in staging and in production):
    only syncs whose destination is this cluster describe what runs here.

    Only a ``Succeeded`` sync says what the app should run: a failed one may have applied nothing
    of what it declared (the real controller keeps the old pods running when the API server
    refuses a Deployment), so its revision and images would name a release that never ran.
    """
    names = {app.rpartition("/")[2] for app in apps}
    latest: dict[str, SyncInfo] = {}
    found = store.find(ARGOCD_SYNC_EVENTS.name, "app", sorted(names), limit=FIND_ALL) if names else []
    for event in SyncEventDocument.from_documents(found):
        if event.cluster != cluster or event.phase != "Succeeded":
            continue
        info = SyncInfo(
            app=event.app_name,
            revision=event.revision,
            images=tuple(event.images or ()),  # None on an older history entry
            finished_at=event.finished_at,
            initiated_by=event.initiated_by,
        )
        for key in (info.app, event.app):
            latest.setdefault(key, info)  # find() is newest first
    return latest


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
    deps=[dg.AssetDep(ci_builds, partition_mapping=dg.AllPartitionMapping()), deployment_snapshots],
    automation_condition=REFRESH_WHEN_UPSTREAM_LANDS,
    freshness_policy=freshness_policy("traceability_records"),
    check_specs=CHECKS,
    kinds={"opensearch"},
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
    records a release event whenever a workload's running digest changes, rollbacks included."""
    cluster = context.partition_key
    db = store.get_store()
    now = iso_utc(utc_now())
    policy = image_policy.policy(db)
    context.log.info(f"internal images: {', '.join(policy.internal) or 'all'} ({policy.source})")

    containers = running_containers(
        version_from_document(doc) for doc in db.find(DEPLOYMENT_METADATA.name, "current", cluster, limit=FIND_ALL)
    )
    previous = {
        r.record_id: r
        for r in TraceabilityRecord.from_documents(db.find(TRACEABILITY_METADATA.name, "cluster", cluster, limit=FIND_ALL))
    }
    # Digests that ran before too: a release event names the build it replaced.
    earlier_digests = [r.image_digest for r in previous.values() if r.image_digest]
    index = relevant_builds(db, containers, extra_digests=earlier_digests)
    # Only digests no build names go to the registry: a revision label or index members may
    # still tie them to a build.
    unmatched = {
        (pod.image or container.image, pod.digest)
        for container in containers
        for pod in container.pods
        if pod.digest and pod.digest not in index.by_digest and pod.digest not in index.by_platform_digest
    }
    facts = {digest: registry.facts(image, digest) for image, digest in sorted(unmatched)}
    for digest, fact in facts.items():
        if fact.error:
            context.log.info(f"registry could not describe {digest}: {fact.error}")
    if any(f.revision or f.platform_digests for f in facts.values()):
        index = relevant_builds(
            db, containers,
            extra_digests=[*earlier_digests, *(d for f in facts.values() for d in f.platform_digests)],
            commits=[f.revision for f in facts.values() if f.revision],
        )
    syncs = _latest_syncs(db, {c.argocd_app for c in containers if c.argocd_app}, cluster)
    members = {d: f.platform_digests for d, f in facts.items() if f.platform_digests}
    members.update({f.tag_digest: f.tag_platform_digests for f in facts.values() if f.tag_platform_digests})
    image_for = {digest: image for image, digest in unmatched}
    registry_tags = {
        key: fact.tag_digest
        for digest, fact in facts.items()
        if fact.tag_digest and (key := tag_key(image_for[digest])) is not None
    }
    moved = moved_tags(observed_digests(containers, index, earlier_records=previous.values(),
                                        registry_tags=registry_tags, members=members))
    records = correlate(
        containers, index, syncs=syncs,
        index_members={d: f.platform_digests for d, f in facts.items() if f.platform_digests},
        revision_of=lambda digest: facts[digest].revision if digest in facts else None,
        updated_at=now,
        classify=policy.classify,
        moved=moved,
        advise_digest_pinning=policy.advise_digest_pinning,
    )

    for record in records:
        before = previous.get(record.record_id)
        # The release time survives pod restarts while the digest keeps running; a digest that
        # stopped and came back (a rollback) was released again, at its new first_seen.
        if (
            before
            and before.is_running
            and before.first_seen
            and (not record.first_seen or before.first_seen < record.first_seen)
        ):
            record.first_seen = before.first_seen
        record.running, record.last_seen = True, now
    current_ids = {r.record_id for r in records}
    stopped = [
        {"record_id": rid, "running": False, "updated_at": now}
        for rid, r in previous.items()
        if r.is_running and rid not in current_ids
    ]
    db.upsert(TRACEABILITY_METADATA.name, [record.to_document() for record in records])
    if stopped:
        db.upsert(TRACEABILITY_METADATA.name, stopped, mode="merge")

    events = _release_events(previous, records, index, syncs, now)
    if events:
        db.upsert(RELEASE_EVENTS.name, [event.to_document() for event in events])

    flags: dict[str, int] = defaultdict(int)
    for record in records:
        for flag in record.flags:
            flags[flag] += 1
    return dg.MaterializeResult(
        metadata={
            "records": len(records),
            "matched_to_a_build": sum(1 for r in records if r.build_id),
            "stopped_running": len(stopped),
            "release_events": len(events),
            "rollbacks": sum(1 for e in events if e.rollback),
            "flags": dg.MetadataValue.json(dict(sorted(flags.items()))),
            "external": sum(1 for r in records if r.image_class == "external"),
            "pending": sum(1 for r in records if r.digest_state == "pending"),
            "moved_tags": dg.MetadataValue.json({f"{name}:{tag}": digests for (name, tag), digests in
                                                 sorted(moved.items())[:50]}),
            "internal_images": dg.MetadataValue.json({"prefixes": list(policy.internal), "from": policy.source}),
            "registry_lookups": len(facts),
            # Tables of what needs attention and a link to the dashboard (C2C_GRAFANA_URL).
            **traceability_preview(cluster, records, events),
        },
        check_results=[
            _check("no_untraceable_workloads", records, Flag.UNTRACEABLE, dg.AssetCheckSeverity.WARN),
            _check("no_digest_mismatch", records, Flag.DIGEST_MISMATCH, dg.AssetCheckSeverity.ERROR),
            _check("no_mixed_versions", records, Flag.MIXED_VERSIONS, dg.AssetCheckSeverity.WARN),
            # A third-party tag moving (a base image re-pushed upstream) is upstream's practice, not
            # something to fix here: flagged on the record, not failed in the check.
            _check("no_moved_tags", records, Flag.TAG_MOVED, dg.AssetCheckSeverity.WARN, internal_only=True),
        ],
    )


def _release_events(
    previous: dict[str, TraceabilityRecord],
    records: list[TraceabilityRecord],
    index: BuildIndex,
    syncs: dict[str, SyncInfo],
    now: str,
) -> list[ReleaseEvent]:
    """Digest changes per workload container between the last run and this one."""
    before: dict[tuple[str | None, ...], list[TraceabilityRecord]] = defaultdict(list)
    for record in previous.values():
        before[record.container_key].append(record)
    now: dict[tuple[str | None, ...], list[TraceabilityRecord]] = defaultdict(list)
    for record in records:
        now[record.container_key].append(record)

    events: list[ReleaseEvent] = []
    for key, current in now.items():
        was_running = [r for r in before.get(key, []) if r.is_running and r.image_digest]
        if not was_running:
            continue  # first sight of this container: history starts here, no release
        new = [r for r in current if r.image_digest and r.image_digest not in {p.image_digest for p in was_running}]
        if not new:
            continue
        earlier = {r.image_digest for r in before[key] if not r.is_running and r.image_digest}
        states = [
            ObservedState("", tuple(r.image_digest for r in was_running for _ in r.pods or [None])),
            ObservedState(min((r.first_seen for r in new if r.first_seen), default=now),
                          tuple(r.image_digest for r in current if r.image_digest for _ in r.pods or [None])),
        ]
        app = current[0].argocd_app
        app_syncs = [syncs[app]] if app and app in syncs else []
        events += release_events(dict(zip(CONTAINER_KEY, key)), states, index, app_syncs, earlier=earlier)
    return events
