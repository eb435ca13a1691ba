"""Sync event documents are accepted by both stores' argocd-sync-events mapping and found by commit,
repo and time, for single- and multi-source apps alike."""

from __future__ import annotations

from datetime import UTC, datetime

from c2c_dagster.argocd.events import sync_events
from c2c_dagster.store import ARGOCD_SYNC_EVENTS, MetadataStore
from c2c_dagster_tests.argocd.data import REPO, application, history_entry, operation_state, status, synced

SINGLE, CHART, VALUES = "1" * 40, "1.4.0", "2" * 40


def documents() -> list[dict]:
    single = application("guestbook")
    single["status"] = status(
        history=[history_entry(0, SINGLE, started="2026-01-31T10:00:00Z", deployed="2026-01-31T10:00:30Z")],
        operation=operation_state("Succeeded", SINGLE, started="2026-01-31T10:00:00Z", finished="2026-01-31T10:00:31Z",
                                  resources=[synced("Deployment", "guestbook-ui", "guestbook")]),
        images=["registry.example.com/guestbook-ui:1.0"])
    sources = [{"repoURL": "https://charts.example.com", "chart": "api", "targetRevision": CHART},
               {"repoURL": REPO, "targetRevision": "main", "ref": "values"}]
    multi = application("api", sources=sources)
    multi["status"] = status(history=[{"id": 5, "revisions": [CHART, VALUES], "sources": sources,
                                       "deployedAt": "2026-01-31T12:00:30Z", "deployStartedAt": "2026-01-31T12:00:00Z"}],
                             operation=None)
    return [e.document.to_document() for app in (single, multi)
            for e in sync_events(app, argocd_cluster="prod", cluster="prod", recorded_at="2026-01-31T13:00:00Z")]


def test_sync_events_are_stored_and_found_by_commit_repo_and_time(store: MetadataStore) -> None:
    docs = documents()
    store.upsert(ARGOCD_SYNC_EVENTS.name, docs)
    store.upsert(ARGOCD_SYNC_EVENTS.name, docs)  # upsert by event_id: no duplicates
    assert store.count(ARGOCD_SYNC_EVENTS.name) == 2
    assert [d["event_id"] for d in store.find(ARGOCD_SYNC_EVENTS.name, "revision", SINGLE)] == ["prod/argocd/guestbook/0"]
    assert [d["event_id"] for d in store.find(ARGOCD_SYNC_EVENTS.name, "revision", VALUES)] == ["prod/argocd/api/5"]
    assert {d["app"] for d in store.find(ARGOCD_SYNC_EVENTS.name, "repo_url", REPO)} == {"guestbook", "api"}
    window = store.list_range(ARGOCD_SYNC_EVENTS.name, datetime(2026, 1, 31, 11, tzinfo=UTC),
                              datetime(2026, 1, 31, 13, tzinfo=UTC))
    assert [d["app"] for d in window] == ["api"]
    stored = store.get(ARGOCD_SYNC_EVENTS.name, "prod/argocd/guestbook/0")
    assert stored["resources"][0]["name"] == "guestbook-ui" and stored["images"] == ["registry.example.com/guestbook-ui:1.0"]
    # A ref-only source keeps its place in source_paths, as "", beside its revision.
    multi = store.get(ARGOCD_SYNC_EVENTS.name, "prod/argocd/api/5")
    assert list(zip(multi["source_paths"], multi["revisions"])) == [("api", CHART), ("", VALUES)]
