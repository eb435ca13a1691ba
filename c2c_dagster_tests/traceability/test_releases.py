"""Release events from a workload container's history: deploys, rollbacks, the sync behind them."""

from __future__ import annotations

from c2c_dagster.traceability import releases
from c2c_dagster.traceability.correlate import BuildIndex, SyncInfo
from c2c_dagster.traceability.releases import ObservedState, sync_at

KEY = {"cluster": "prod", "namespace": "shop", "workload_kind": "Deployment", "workload_name": "web",
       "container_name": "web"}
A, B, C = ("sha256:" + c * 64 for c in "abc")


def builds() -> BuildIndex:
    return BuildIndex.of_documents([
        {"build_id": f"web-{n}", "image_digest": digest, "build_status": "SUCCESS", "timestamp": f"2026-01-0{n}T00:00:00Z",
         "commits": [{"commit_id": str(n) * 40}]}
        for n, digest in ((1, A), (2, B), (3, C))
    ])


def release_events(*args, **kwargs) -> list[dict]:
    """The events as they are stored."""
    return [event.to_document() for event in releases.release_events(*args, **kwargs)]


def test_deploys_and_a_rollback_with_builds_commits_and_the_sync() -> None:
    states = [
        ObservedState("2026-01-10T00:00:00Z", (A, A)),
        ObservedState("2026-01-11T00:00:00Z", (A, B)),  # rollout to B in progress
        ObservedState("2026-01-11T00:05:00Z", (B, B)),
        ObservedState("2026-01-12T00:00:00Z", (C, C)),
        ObservedState("2026-01-13T00:00:00Z", (B, B)),  # back to B: a rollback
    ]
    syncs = [SyncInfo("argocd/web", "cfg1", finished_at="2026-01-10T23:59:00Z", initiated_by="automated"),
             SyncInfo("argocd/web", "cfg3", finished_at="2026-01-12T23:58:00Z", initiated_by="alice")]
    events = release_events(KEY, states, builds(), syncs)
    assert [(e["from_digest"], e["to_digest"], e["rollback"]) for e in events] == [(A, B, False), (B, C, False), (C, B, True)]
    first = events[0]
    assert (first["from_build_id"], first["to_build_id"], first["to_commit_ids"]) == ("web-1", "web-2", ["2" * 40])
    assert (first["argocd_revision"], first["initiated_by"], first["at"]) == ("cfg1", "automated", "2026-01-11T00:00:00Z")
    assert (events[2]["argocd_revision"], events[2]["initiated_by"]) == ("cfg3", "alice")
    assert len({e["event_id"] for e in events}) == 3


def test_an_unchanged_history_and_a_scale_up_are_not_releases() -> None:
    states = [ObservedState("2026-01-10T00:00:00Z", (A,)), ObservedState("2026-01-11T00:00:00Z", (A, A, A))]
    assert release_events(KEY, states, builds()) == []


def test_an_unknown_digest_is_still_an_event_without_a_build() -> None:
    unknown = "sha256:" + "f" * 64
    events = release_events(KEY, [ObservedState("2026-01-10T00:00:00Z", (A,)),
                                  ObservedState("2026-01-11T00:00:00Z", (unknown,))], builds())
    assert [(e["to_build_id"], e["to_commit_ids"]) for e in events] == [(None, [])]
    assert sync_at([], "2026-01-11T00:00:00Z") is None
