"""What one ``traceability_records`` run writes, planned from what it read. Pure: no store, no
registry, no Dagster; the tests call ``plan_records`` directly.

The plan: one record per workload container and running digest (``correlate``), each keeping
the release time of the digest while it keeps running; the records whose digest stopped
running, marked so (they stay as history); a release event for every digest a container
started running since the last run.

Writes grow with change, not with runs: a record whose content is what the store already holds
(all but ``updated_at`` and ``last_seen``) is not rewritten; the run's scan watermark (one
document per cluster, ``store/watermarks.py``) says every record still running was seen then,
and readers read a running record's ``last_seen`` against it. A record that stops carries its
own exact ``last_seen``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from c2c_dagster.documents.deployments import ScanWatermark
from c2c_dagster.documents.traceability import CONTAINER_KEY, ReleaseEvent, TraceabilityRecord
from c2c_dagster.registry.resources import ImageFacts, TagAnswer
from c2c_dagster.store.watermarks import effective_last_seen
from c2c_dagster.traceability.correlate import BuildIndex, RunningContainer, SyncInfo, correlate
from c2c_dagster.traceability.image_policy import ImagePolicy
from c2c_dagster.traceability.releases import ObservedState, release_events
from c2c_dagster.traceability.tags import TagKey, moved_tags, observed_digests


@dataclass
class ClusterView:
    """What a run reads of one cluster: what runs there now, its records so far, the builds
    those containers can match, what the registry said of the digests no build names and of the
    tags asked (``tags.tags_to_ask``), and the latest Argo CD sync per app."""

    containers: list[RunningContainer]
    previous: dict[str, TraceabilityRecord]  # by record_id
    index: BuildIndex
    # Registry answers by digest, and the image each digest was asked for.
    facts: dict[str, ImageFacts] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    syncs: dict[str, SyncInfo] = field(default_factory=dict)
    # What each tag asked points at now (an error instead when the registry did not say), and the
    # registry requests those answers cost.
    tags: dict[TagKey, TagAnswer] = field(default_factory=dict)
    tag_requests: int = 0

    @property
    def tag_errors(self) -> dict[str, str]:
        return {f"{name}:{tag}": a.error for (name, tag), a in sorted(self.tags.items()) if a.error}


# What moves on every run without news: never a reason to rewrite a record.
VOLATILE_RECORD_FIELDS = frozenset({"updated_at", "last_seen"})


@dataclass
class RecordsPlan:
    """What a run found and what it writes: every record running now (``records``), of which
    ``changed`` are written (replace), the stopped ones (merge updates), the release events."""

    records: list[TraceabilityRecord]
    stopped: list[dict[str, Any]]
    events: list[ReleaseEvent]
    moved: dict[TagKey, list[str]]
    changed: list[TraceabilityRecord] = field(default_factory=list)

    @property
    def unchanged(self) -> int:
        """Records found as the store holds them: not rewritten, the scan watermark covers them."""
        return len(self.records) - len(self.changed)


def same_content(record: TraceabilityRecord, before: TraceabilityRecord | None) -> bool:
    """Whether ``record`` says what the stored ``before`` says, ``updated_at`` and ``last_seen``
    aside (a stopped record is never the same as a running one)."""
    if before is None or not before.is_running:
        return False
    now, then = record.to_document(), before.to_document()
    return all(now.get(k) == then.get(k) for k in now.keys() | then.keys() if k not in VOLATILE_RECORD_FIELDS)


def plan_records(view: ClusterView, policy: ImagePolicy, *, now: str,
                 watermark: ScanWatermark | None = None) -> RecordsPlan:
    """The records, stopped records and release events of one run at ``now`` (ISO time);
    ``watermark``: the cluster's current records watermark, which the stopped records' last
    ``last_seen`` is read against."""
    members = {d: f.platform_digests for d, f in view.facts.items() if f.platform_digests}
    # What each tag asked points at now; an index's platform manifests are the same image.
    registry_tags: dict[TagKey, str] = {}
    for key, answer in view.tags.items():
        if answer.digest:
            registry_tags[key] = answer.digest
            if answer.platform_digests:
                members.setdefault(answer.digest, answer.platform_digests)
    moved = moved_tags(observed_digests(view.containers, view.index, earlier_records=view.previous.values(),
                                        registry_tags=registry_tags, members=members))
    records = correlate(
        view.containers, view.index, syncs=view.syncs,
        index_members={d: f.platform_digests for d, f in view.facts.items() if f.platform_digests},
        revision_of=lambda digest: view.facts[digest].revision if digest in view.facts else None,
        updated_at=now,
        classify=policy.classify,
        moved=moved,
        advise_digest_pinning=policy.advise_digest_pinning,
    )
    for record in records:
        keep_release_time(record, view.previous.get(record.record_id))
        record.running, record.last_seen = True, now
    return RecordsPlan(
        records=records,
        stopped=stopped_records(view.previous, records, now, watermark),
        events=release_events_between(view.previous, records, view.index, view.syncs, now),
        moved=moved,
        changed=[r for r in records if not same_content(r, view.previous.get(r.record_id))],
    )


def keep_release_time(record: TraceabilityRecord, before: TraceabilityRecord | None) -> None:
    """The release time survives pod restarts while the digest keeps running; a digest that
    stopped and came back (a rollback) was released again, at its new ``first_seen``."""
    if (
        before is not None
        and before.is_running
        and before.first_seen
        and (not record.first_seen or before.first_seen < record.first_seen)
    ):
        record.first_seen = before.first_seen


def stopped_records(previous: Mapping[str, TraceabilityRecord], records: Iterable[TraceabilityRecord],
                    now: str, watermark: ScanWatermark | None = None) -> list[dict[str, Any]]:
    """Merge updates for the records that ran until now and run no more: kept, as history, with
    the last time a run saw them (read against the watermark, which no longer applies to them)."""
    current = {r.record_id for r in records}
    return [
        {"record_id": record_id, "running": False, "updated_at": now,
         "last_seen": effective_last_seen(record.last_seen, True, watermark)}
        for record_id, record in previous.items()
        if record.is_running and record_id not in current
    ]


def release_events_between(
    previous: Mapping[str, TraceabilityRecord],
    records: Iterable[TraceabilityRecord],
    index: BuildIndex,
    syncs: Mapping[str, SyncInfo],
    now: str,
) -> list[ReleaseEvent]:
    """Digest changes per workload container between the last run (``previous``) and this one.

    A release is dated by the new digest's ``first_seen``; a record without one (its pods
    report no start time) is dated ``now``, the moment the change was seen.
    """
    before: dict[tuple[str | None, ...], list[TraceabilityRecord]] = defaultdict(list)
    for record in previous.values():
        before[record.container_key].append(record)
    current: dict[tuple[str | None, ...], list[TraceabilityRecord]] = defaultdict(list)
    for record in records:
        current[record.container_key].append(record)

    events: list[ReleaseEvent] = []
    for key, running_now in current.items():
        was_running = [r for r in before.get(key, []) if r.is_running and r.image_digest]
        if not was_running:
            continue  # first sight of this container: history starts here, no release
        ran = {r.image_digest for r in was_running}
        new = [r for r in running_now if r.image_digest and r.image_digest not in ran]
        if not new:
            continue
        earlier = {r.image_digest for r in before[key] if not r.is_running and r.image_digest}
        states = [
            ObservedState("", tuple(r.image_digest for r in was_running for _ in r.pods or [None])),
            ObservedState(min((r.first_seen for r in new if r.first_seen), default=now),
                          tuple(r.image_digest for r in running_now if r.image_digest for _ in r.pods or [None])),
        ]
        app = running_now[0].argocd_app
        app_syncs = [syncs[app]] if app and app in syncs else []
        events += release_events(dict(zip(CONTAINER_KEY, key)), states, index, app_syncs, earlier=earlier)
    return events
