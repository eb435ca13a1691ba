"""Release events: every change of the digest a workload container runs, with builds on both sides.

Pure. Input is the container's observed history — the states deployment_snapshots recorded, each
with the time it was first seen and the digests its pods ran — oldest first. A release starts
when a digest appears that the previous state did not run; it is a rollback when that digest ran
at some earlier time. These events are the raw material of deployment frequency and lead time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from c2c_core.timeutil import parse_time
from c2c_dagster.documents.builds import BuildDocument
from c2c_dagster.documents.traceability import ReleaseEvent
from c2c_dagster.traceability.correlate import BuildIndex, SyncInfo


@dataclass(frozen=True)
class ObservedState:
    seen_at: str  # ISO time the state was first observed
    digests: tuple[str, ...]  # one entry per pod (repeats count pods)


def _main_digest(state: ObservedState) -> str | None:
    """The digest most pods ran (ties broken by digest, to stay deterministic)."""
    counts = Counter(d for d in state.digests if d)
    return min(counts, key=lambda d: (-counts[d], d)) if counts else None


def _first_build(index: BuildIndex, digest: str | None) -> BuildDocument | None:
    """The build that first produced ``digest`` (as its image or one platform's manifest)."""
    builds = (index.by_digest.get(digest) or index.by_platform_digest.get(digest) or []) if digest else []
    return min(builds, key=lambda b: (b.timestamp or "", b.build_id)) if builds else None


# Argo CD marks an operation finished once its resources are applied and healthy, which can be
# after the first new pod started; a sync finishing this soon after the change still made it.
SYNC_TOLERANCE = timedelta(minutes=15)


def sync_at(syncs: Sequence[SyncInfo], at: str) -> SyncInfo | None:
    """The latest sync that finished by ``at`` (give or take ``SYNC_TOLERANCE``): the sync that
    rolled the change out."""
    moment = parse_time(at) + SYNC_TOLERANCE
    done = [s for s in syncs if s.finished_at and parse_time(s.finished_at) <= moment]
    return max(done, key=lambda s: parse_time(s.finished_at)) if done else None


def release_events(
    key: Mapping[str, str],
    states: Sequence[ObservedState],
    index: BuildIndex,
    syncs: Sequence[SyncInfo] = (),
    earlier: Iterable[str] = (),
) -> list[ReleaseEvent]:
    """Events for one workload container (``key``: cluster, namespace, workload_kind,
    workload_name, container_name), oldest first. ``earlier``: digests that ran there before
    ``states`` begin (a return to one of them is a rollback too)."""
    events: list[ReleaseEvent] = []
    seen: set[str] = set(earlier)
    previous: ObservedState | None = None
    for state in states:
        running = {d for d in state.digests if d}
        before = {d for d in previous.digests if d} if previous else set()
        for digest in sorted(running - before):
            from_digest = _main_digest(previous) if previous else None
            if previous is None:
                seen.add(digest)
                continue  # the first observation is where history starts, not a release
            sync = sync_at(syncs, state.seen_at)
            to, source = _first_build(index, digest), _first_build(index, from_digest)
            events.append(
                ReleaseEvent(
                    event_id="/".join([*key.values(), state.seen_at, digest]),
                    **key,
                    at=state.seen_at,
                    from_digest=from_digest,
                    to_digest=digest,
                    from_build_id=source.build_id if source else None,
                    to_build_id=to.build_id if to else None,
                    to_commit_ids=to.commit_ids if to else [],
                    to_build_time=to.timestamp if to else None,
                    rollback=digest in seen,
                    argocd_app=sync.app if sync else None,
                    argocd_revision=sync.revision if sync else None,
                    initiated_by=sync.initiated_by if sync else None,
                )
            )
        seen |= running
        previous = state
    return events
