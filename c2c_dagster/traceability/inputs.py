"""What ``traceability_records`` reads for one cluster: the current deployment versions, the
cluster's records so far, the builds its containers can match, the registry's word on the
digests no build names and on every tag an internal image runs by, and the latest Argo CD sync
of each app (``read_cluster``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from c2c_core.timeutil import parse_time

from c2c_dagster.documents.argocd import SyncEventDocument
from c2c_dagster.documents.deployments import version_from_document
from c2c_dagster.documents.traceability import TraceabilityRecord
from c2c_dagster.registry.resources import RegistryResource
from c2c_dagster.store.watermarks import ScanWatermark, read_watermark
from c2c_dagster.store import ARGOCD_SYNC_EVENTS, DEPLOYMENT_METADATA, FIND_ALL, TRACEABILITY_METADATA, MetadataStore
from c2c_dagster.traceability.build_lookup import BuildKeys, find_builds
from c2c_dagster.traceability.correlate import BuildIndex, SyncInfo
from c2c_dagster.traceability.plan import ClusterView
from c2c_dagster.traceability.running_containers import running_containers
from c2c_dagster.traceability.tags import tags_to_ask


def read_cluster(
    store: MetadataStore, cluster: str, registry: RegistryResource, log: Callable[[str], None] = lambda _: None,
    *, classify: Callable[[str], str] | None = None,
) -> ClusterView:
    """``classify`` names an image internal or external (default: all internal): the registry is
    asked what the tag of every internal image points at now."""
    current = store.find(DEPLOYMENT_METADATA.name, "current", cluster, limit=FIND_ALL)
    containers = running_containers(version_from_document(doc) for doc in current)
    observed_at = observed_until(current, read_watermark(store, cluster, DEPLOYMENT_METADATA.name))
    records = TraceabilityRecord.from_documents(
        store.find(TRACEABILITY_METADATA.name, "cluster", cluster, limit=FIND_ALL)
    )
    previous = {record.record_id: record for record in records}
    # Digests that ran before too: a release event names the build it replaced.
    keys = BuildKeys.of(containers, extra_digests=[r.image_digest for r in records if r.image_digest])
    index = BuildIndex(find_builds(store, keys))

    # Only digests no build names go to the registry for their facts: a revision label or index
    # members may still tie them to a build.
    images = {
        pod.digest: pod.image or container.image
        for container in containers
        for pod in container.pods
        if pod.digest and pod.digest not in index.by_digest and pod.digest not in index.by_platform_digest
    }
    facts = {digest: registry.facts(image, digest) for digest, image in sorted(images.items())}
    for digest, fact in facts.items():
        if fact.error:
            log(f"registry could not describe {digest}: {fact.error}")
    # One more lookup, for only what the registry added: the commits of revision labels and an
    # index's platform manifests.
    added = BuildKeys(
        digests={d for f in facts.values() for d in f.platform_digests},
        commits={f.revision for f in facts.values() if f.revision},
    )
    if added:
        index.add(find_builds(store, added))
    # What each tag points at now, one question per distinct tag: a tag re-pushed outside CI
    # (by hand, another pipeline, a registry rule) under pods still running the old digest.
    # An index whose platform manifests are known needs no GET to tell it is what a node runs.
    asked = tags_to_ask(containers, classify=classify, unknown_digests=images)
    known_indexes = {d for d, builds in index.by_digest.items() if any(b.platform_digests for b in builds)}
    known_indexes |= {d for d, f in facts.items() if f.platform_digests}
    lookups = registry.resolve_tags(asked.values(), known_indexes)
    for image, error in lookups.errors.items():
        log(f"registry could not say what {image} points at: {error}")
    tags = {key: lookups.answers[image] for key, image in asked.items()}
    syncs = latest_syncs(store, {c.argocd_app for c in containers if c.argocd_app}, cluster, observed_at=observed_at)
    return ClusterView(containers, previous, index, facts, images, syncs, tags=tags, tag_requests=lookups.requests)


def observed_until(current: Iterable[Mapping[str, Any]], watermark: ScanWatermark | None) -> datetime | None:
    """The newest moment the cluster's current versions were seen: the last complete scan (its
    watermark) or a scoped post-sync snapshot after it. None before any snapshot."""
    moments = [parse_time(doc.get("last_seen")) for doc in current]
    if watermark is not None:
        moments.append(parse_time(watermark.scanned_at))
    return max((m for m in moments if m is not None), default=None)


def latest_syncs(store: MetadataStore, apps: set[str], cluster: str, *,
                 observed_at: datetime | None = None) -> dict[str, SyncInfo]:
    """The newest successful sync event per Argo CD app that deployed to ``cluster``, keyed as
    deployment_snapshots names the app (``namespace/name`` when known, else the name). Each
    cluster's Argo CD may have an app of the same name (argocd/web in staging and in production):
    only syncs whose destination is this cluster describe what runs here.

    Only a ``Succeeded`` sync says what the app should run: a failed one may have applied nothing
    of what it declared (the real controller keeps the old pods running when the API server
    refuses a Deployment), so its revision and images would name a release that never ran.

    Nor does a sync that finished after ``observed_at``, the snapshot being joined: its rollout
    is not in that snapshot, so the pods it holds still run what an earlier sync deployed. (A
    run queued behind the cluster's snapshot would otherwise credit the old digest to the new
    revision; the post-sync snapshot that follows the sync sees both.)
    """
    names = {app.rpartition("/")[2] for app in apps}
    latest: dict[str, SyncInfo] = {}
    found = store.find(ARGOCD_SYNC_EVENTS.name, "app", sorted(names), limit=FIND_ALL) if names else []
    for event in SyncEventDocument.from_documents(found):
        if event.cluster != cluster or event.phase != "Succeeded":
            continue
        finished = parse_time(event.finished_at)
        if observed_at is not None and finished is not None and finished > observed_at:
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
