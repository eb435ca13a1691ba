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
from typing import Any

from c2c_core.timeutil import parse_time
from c2c_dagster.traceability.correlate import BuildIndex, SyncInfo


@dataclass(frozen=True)
class ObservedState:
    seen_at: str  # ISO time the state was first observed
    digests: tuple[str, ...]  # one entry per pod (repeats count pods)


def _main_digest(state: ObservedState) -> str | None:
    """The digest most pods ran (ties broken by digest, to stay deterministic)."""
    counts = Counter(d for d in state.digests if d)
    return min(counts, key=lambda d: (-counts[d], d)) if counts else None


def _build_summary(index: BuildIndex, digest: str | None) -> dict[str, Any]:
    builds = (index.by_digest.get(digest or "") or index.by_platform_digest.get(digest or "") or []) if digest else []
    if not builds:
        return {"build_id": None, "commit_ids": []}
    build = min(builds, key=lambda b: (str(b.get("timestamp") or ""), b["build_id"]))
    return {
        "build_id": build["build_id"],
        "commit_ids": [c["commit_id"] for c in build.get("commits") or []],
        "build_time": build.get("timestamp"),
    }


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
) -> list[dict[str, Any]]:
    """Events for one workload container (``key``: cluster, namespace, workload_kind,
    workload_name, container_name), oldest first. ``earlier``: digests that ran there before
    ``states`` begin (a return to one of them is a rollback too)."""
    events: list[dict[str, Any]] = []
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
            to = _build_summary(index, digest)
            events.append(
                {
                    "event_id": "/".join([*key.values(), state.seen_at, digest]),
                    **key,
                    "at": state.seen_at,
                    "from_digest": from_digest,
                    "to_digest": digest,
                    "from_build_id": _build_summary(index, from_digest)["build_id"],
                    "to_build_id": to["build_id"],
                    "to_commit_ids": to["commit_ids"],
                    "to_build_time": to.get("build_time"),
                    "rollback": digest in seen,
                    "argocd_app": sync.app if sync else None,
                    "argocd_revision": sync.revision if sync else None,
                    "initiated_by": sync.initiated_by if sync else None,
                }
            )
        seen |= running
        previous = state
    return events
