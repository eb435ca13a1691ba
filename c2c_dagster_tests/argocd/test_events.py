"""Sync events are read from Application status as Argo CD writes it: ids, revisions, who, what, scope."""

from __future__ import annotations

from c2c_dagster.argocd.events import applied_anything, snapshot_scope, sync_events, wants_snapshot
from c2c_dagster.store import ARGOCD_SYNC_EVENTS
from c2c_dagster.store.base import field_type_error
from c2c_dagster_tests.argocd.data import (
    REPO,
    application,
    history_entry,
    operation_state,
    status,
    synced,
)

SHA1, SHA2, SHA3 = "1" * 40, "2" * 40, "3" * 40
UID = "0d7c3f6e-1111-2222-3333-444455556666"


def stored(event) -> dict:
    """The event's document as it is stored."""
    return event.document.to_document()


def events_of(app, cluster: str | None = "prod"):
    return sync_events(app, argocd_cluster="prod", cluster=cluster, recorded_at="2026-01-31T11:00:00Z")


def guestbook(**status_kwargs):
    app = application("guestbook")
    app["metadata"]["uid"] = UID
    app["status"] = status(**status_kwargs)
    return app


def test_a_succeeded_operation_and_its_history_entry_are_one_event_with_resources_and_scope() -> None:
    resources = [
        synced("Deployment", "guestbook-ui", "guestbook"),
        synced("Service", "guestbook-ui", "guestbook", group=""),
        synced("StatefulSet", "redis", "cache"),
        synced("Deployment", "legacy", "guestbook", status="Pruned"),
        synced("Job", "c2c-postsync-snapshot-x7k2p", "guestbook", group="batch", hookType="PostSync", hookPhase="Succeeded"),
    ]
    app = guestbook(
        history=[history_entry(0, SHA1, started="2026-01-30T09:00:00Z", deployed="2026-01-30T09:00:20Z"),
                 history_entry(1, SHA2, started="2026-01-31T10:00:00Z", deployed="2026-01-31T10:00:41Z",
                               initiated_by={"username": "alice@example.com"})],
        operation=operation_state("Succeeded", SHA2, started="2026-01-31T10:00:00Z", finished="2026-01-31T10:00:42Z",
                                  resources=resources, initiated_by={"username": "alice@example.com"}),
        images=["registry.example.com/guestbook-ui@sha256:" + "a" * 64, "redis:7.2"],
    )
    old, current = events_of(app)
    assert [old.event_id, current.event_id] == [f"prod/argocd/guestbook/{UID}/0", f"prod/argocd/guestbook/{UID}/1"]
    assert current.is_current_operation and not old.is_current_operation
    doc = stored(current)
    assert {k: doc[k] for k in (
        "cluster", "app", "app_namespace", "project", "destination_server", "destination_namespace", "repo_url",
        "revision", "revisions", "history_id", "phase", "sync_status", "health", "initiated_by", "automated",
        "started_at", "finished_at", "deployed_at")} == {
        "cluster": "prod", "app": "guestbook", "app_namespace": "argocd", "project": "default",
        "destination_server": "https://kubernetes.default.svc", "destination_namespace": "guestbook",
        "repo_url": REPO, "revision": SHA2, "revisions": [SHA2], "history_id": 1, "phase": "Succeeded",
        "sync_status": "Synced", "health": "Healthy", "initiated_by": "alice@example.com", "automated": False,
        "started_at": "2026-01-31T10:00:00Z", "finished_at": "2026-01-31T10:00:42Z",
        "deployed_at": "2026-01-31T10:00:41Z"}
    assert doc["images"][1] == "redis:7.2"
    assert {r["name"]: r["status"] for r in doc["resources"]}["legacy"] == "Pruned"
    assert field_type_error(ARGOCD_SYNC_EVENTS, doc) is None

    # The older entry says what it deployed and who, but not today's health or resources.
    assert stored(old)["revision"] == SHA1 and stored(old)["phase"] == "Succeeded"
    assert stored(old)["automated"] is True and stored(old)["initiated_by"] == "automated"
    assert "health" not in stored(old) and "images" not in stored(old) and stored(old)["resources"] == []
    assert stored(old)["finished_at"] == "2026-01-30T09:00:20Z"  # deployedAt: when it finished applying

    # Scope: destination + every synced namespace; workloads only, not pruned ones, not hooks.
    scope = snapshot_scope(current)
    assert scope.namespaces == ["cache", "guestbook"]
    assert scope.workloads == ["Deployment/guestbook/guestbook-ui", "StatefulSet/cache/redis"]
    assert wants_snapshot(current)


def test_multi_source_apps_keep_every_repo_and_revision_with_paths_aligned() -> None:
    # Argo CD's documented values-file pattern: a chart, a path, and a ref-only source whose
    # files the chart's valueFiles reference ($values/...). revisions has one entry per source.
    sources = [
        {"repoURL": "https://charts.example.com", "chart": "guestbook", "targetRevision": "1.4.0",
         "helm": {"valueFiles": ["$values/values/prod.yaml"]}},
        {"repoURL": REPO, "targetRevision": "main", "ref": "values"},
        {"repoURL": REPO, "path": "overlays/prod", "targetRevision": "main"},
    ]
    app = application("guestbook", sources=sources)
    entry = {"id": 3, "revisions": ["1.4.0", SHA3, SHA3], "sources": sources, "deployedAt": "2026-01-31T10:00:41Z",
             "deployStartedAt": "2026-01-31T10:00:00Z", "initiatedBy": {"automated": True}}
    operation = operation_state("Succeeded", "", started="2026-01-31T10:00:00Z", finished="2026-01-31T10:00:42Z",
                                resources=[synced("Deployment", "guestbook-ui", "guestbook")])
    operation["syncResult"].update(revision="", revisions=["1.4.0", SHA3, SHA3], sources=sources)
    del operation["syncResult"]["source"]
    app["status"] = status(history=[entry], operation=operation)
    (event,) = events_of(app)
    assert event.event_id == "prod/argocd/guestbook/3"  # a dict never read from an API server: no uid
    assert stored(event)["repo_url"] == ["https://charts.example.com", REPO, REPO]
    assert stored(event)["revision"] == ["1.4.0", SHA3, SHA3] == stored(event)["revisions"]
    # One path per source, "" for the ref-only one: source_paths[i] is where revisions[i] was read.
    assert stored(event)["source_paths"] == ["guestbook", "", "overlays/prod"]
    assert len(stored(event)["source_paths"]) == len(stored(event)["revisions"])
    assert field_type_error(ARGOCD_SYNC_EVENTS, stored(event)) is None


def test_a_recreated_app_of_the_same_name_gets_event_ids_of_its_own() -> None:
    def synced_once(uid: str, revision: str, at: str) -> dict:
        app = guestbook(history=[history_entry(0, revision, started=at, deployed=at)],
                        operation=operation_state("Succeeded", revision, started=at, finished=at, resources=[]))
        app["metadata"]["uid"] = uid
        return app

    (old,) = events_of(synced_once(UID, SHA1, "2026-01-30T09:00:00Z"))
    (new,) = events_of(synced_once("9f9f9f9f-0000-4000-8000-000000000001", SHA2, "2026-01-31T09:00:00Z"))
    # Argo CD restarts history ids at 0 in the new object: the uid keeps both events.
    assert old.history_id == new.history_id == 0
    assert old.event_id != new.event_id
    assert (stored(old)["app_uid"], stored(new)["app_uid"]) == (UID, "9f9f9f9f-0000-4000-8000-000000000001")


def test_a_failed_operation_is_an_event_of_its_own_keyed_by_finished_at() -> None:
    # Argo CD adds no history entry for a failed sync: the last success stays the newest entry.
    app = guestbook(
        history=[history_entry(4, SHA1, started="2026-01-30T09:00:00Z", deployed="2026-01-30T09:00:20Z")],
        operation=operation_state(
            "Failed", SHA2, started="2026-01-31T10:00:00Z", finished="2026-01-31T10:01:00Z",
            # As the real controller reports one (test_syncs.py): the ConfigMap beside the refused
            # Deployment was applied.
            resources=[synced("ConfigMap", "guestbook-settings", "guestbook", group=""),
                       synced("Deployment", "guestbook-ui", "guestbook", status="SyncFailed")],
            initiated_by={"username": "bob"}, message="one or more objects failed to apply"),
        sync_status="OutOfSync", health="Degraded",
    )
    last_success, failed = events_of(app)
    assert last_success.event_id == f"prod/argocd/guestbook/{UID}/4" and not last_success.is_current_operation
    assert failed.event_id == f"prod/argocd/guestbook/{UID}/2026-01-31T10:01:00Z"
    assert failed.history_id is None and failed.is_current_operation
    doc = stored(failed)
    assert (doc["phase"], doc["revision"], doc["initiated_by"], doc["health"], doc["sync_status"]) == (
        "Failed", SHA2, "bob", "Degraded", "OutOfSync")
    assert doc["message"] == "one or more objects failed to apply"
    assert wants_snapshot(failed)  # it applied something before failing
    # Had every resource been refused, it changed nothing: no snapshot.
    app["status"]["operationState"]["syncResult"]["resources"].pop(0)
    assert not wants_snapshot(events_of(app)[-1])

    # An Error before anything was applied (no syncResult): recorded, revision from the request, no snapshot.
    app["status"]["operationState"] = operation_state(
        "Error", SHA3, started="2026-01-31T12:00:00Z", finished="2026-01-31T12:00:01Z", resources=None,
        message="rpc error: Manifest generation error")
    errored = events_of(app)[-1]
    assert (stored(errored)["phase"], stored(errored)["revision"]) == ("Error", SHA3)
    assert not wants_snapshot(errored)


def test_a_running_operation_is_no_event_and_history_only_apps_still_yield_events() -> None:
    app = guestbook(
        history=[history_entry(0, SHA1, started="2026-01-30T09:00:00Z", deployed="2026-01-30T09:00:20Z")],
        operation=operation_state("Running", SHA2, started="2026-01-31T10:00:00Z", finished=None),
    )
    assert [e.event_id for e in events_of(app)] == [f"prod/argocd/guestbook/{UID}/0"]
    app["status"].pop("operationState")
    assert [e.event_id for e in events_of(app)] == [f"prod/argocd/guestbook/{UID}/0"]


def test_history_without_deploy_started_at_matches_the_operation_by_time() -> None:
    entry = history_entry(7, SHA2, started="", deployed="2026-01-31T10:00:41Z")
    del entry["deployStartedAt"]
    app = guestbook(history=[entry], operation=operation_state(
        "Succeeded", SHA2, started="2026-01-31T10:00:00Z", finished="2026-01-31T10:00:42Z", resources=[]))
    (event,) = events_of(app)
    assert event.is_current_operation and event.history_id == 7
    assert stored(event)["started_at"] == "2026-01-31T10:00:00Z"


def test_unknown_destination_is_recorded_with_the_reason_and_no_cluster() -> None:
    app = application("remote", server="https://10.0.0.9:6443")
    app["status"] = status(
        history=[history_entry(0, SHA1, started="2026-01-31T10:00:00Z", deployed="2026-01-31T10:00:20Z")],
        operation=operation_state("Succeeded", SHA1, started="2026-01-31T10:00:00Z",
                                  finished="2026-01-31T10:00:21Z", resources=[]))
    (event,) = events_of(app, cluster=None)
    assert "cluster" not in stored(event) and stored(event)["argocd_cluster"] == "prod"
    assert "https://10.0.0.9:6443" in stored(event)["ingest_problems"][0]


def test_syncs_started_in_the_same_second_are_told_apart_newest_first() -> None:
    # As the real controller wrote it (test_syncs.py): a rollback right after a sync; history
    # timestamps have one-second resolution, so entries 1 and 2 share deployStartedAt.
    second = "2026-01-31T10:00:06Z"
    app = guestbook(
        history=[history_entry(0, SHA1, started="2026-01-31T10:00:05Z", deployed="2026-01-31T10:00:05Z"),
                 history_entry(1, SHA2, started=second, deployed=second),
                 history_entry(2, SHA1, started=second, deployed=second, initiated_by={"username": "alice"})],
        operation=operation_state("Succeeded", SHA1, started=second, finished=second,
                                  resources=[synced("Deployment", "guestbook-ui", "guestbook")],
                                  initiated_by={"username": "alice"}),
    )
    events = {e.history_id: e for e in events_of(app)}
    assert sorted(events) == [0, 1, 2]
    assert events[2].is_current_operation and not events[1].is_current_operation
    assert (stored(events[2])["revision"], stored(events[2])["initiated_by"]) == (SHA1, "alice")
    assert stored(events[1])["resources"] == [] and stored(events[2])["resources"]

    # A selective sync (some resources only) writes no entry: the same-second entry is an earlier
    # sync's, of another revision, and the operation is an event of its own.
    app["status"]["history"] = app["status"]["history"][:2]
    app["status"]["operationState"] = operation_state("Succeeded", SHA3, started=second, finished=second,
                                                      resources=[synced("Deployment", "guestbook-ui", "guestbook")])
    by_id = {e.event_id: e for e in events_of(app)}
    assert set(by_id) == {f"prod/argocd/guestbook/{UID}/{i}" for i in (0, 1)} | {f"prod/argocd/guestbook/{UID}/{second}"}
    assert stored(by_id[f"prod/argocd/guestbook/{UID}/{second}"])["revision"] == SHA3

    # A self-heal right after a sync (test_syncs.py): the same revision, started in the same second
    # as the entry, but a sync of the drifted resources only, so no entry of its own.
    app["status"]["operationState"] = operation_state("Succeeded", SHA2, started=second, finished="2026-01-31T10:00:07Z",
                                                      resources=[synced("Deployment", "guestbook-ui", "guestbook")])
    app["status"]["operationState"]["operation"]["sync"]["resources"] = [
        {"group": "apps", "kind": "Deployment", "name": "guestbook-ui"}]
    healed = events_of(app)[-1]
    assert healed.history_id is None and healed.is_current_operation
    assert healed.event_id == f"prod/argocd/guestbook/{UID}/2026-01-31T10:00:07Z"
    assert not [e for e in events_of(app) if e.history_id == 1 and e.is_current_operation]


def test_a_syncs_images_are_those_it_applied_not_the_summary_from_before_it() -> None:
    # The real controller lists each applied resource's images in syncResult; status.summary is
    # refreshed by the reconciliation after the sync, so right after it the summary is the old one.
    app = guestbook(
        history=[history_entry(0, SHA2, started="2026-01-31T10:00:00Z", deployed="2026-01-31T10:00:01Z")],
        operation=operation_state("Succeeded", SHA2, started="2026-01-31T10:00:00Z", finished="2026-01-31T10:00:01Z",
                                  resources=[synced("Deployment", "web", "guestbook", images=["shop/web:2"]),
                                             synced("Deployment", "worker", "guestbook", images=["shop/worker:2"]),
                                             synced("Job", "c2c-postsync-x", "guestbook", group="batch",
                                                    hookType="PostSync", images=["curlimages/curl:8.11.1"])]),
        images=["shop/web:1", "shop/worker:1"],
    )
    (event,) = events_of(app)
    assert stored(event)["images"] == ["shop/web:2", "shop/worker:2"]
    # An Argo CD that records no images per resource: the summary is all there is.
    for resource in app["status"]["operationState"]["syncResult"]["resources"]:
        resource.pop("images")
    (event,) = events_of(app)
    assert stored(event)["images"] == ["shop/web:1", "shop/worker:1"]


def _failed_with(operation_state_value: dict, images_before: list[str]):
    """An app whose last success ran ``images_before`` and whose latest operation is the one given."""
    app = guestbook(
        history=[history_entry(4, SHA1, started="2026-01-30T09:00:00Z", deployed="2026-01-30T09:00:20Z")],
        operation=operation_state_value, sync_status="OutOfSync", health="Healthy", images=images_before)
    *_, failed = events_of(app)
    assert failed.is_current_operation and failed.history_id is None
    return failed


def test_a_failed_syncs_images_are_what_it_applied_and_nothing_when_it_applied_nothing() -> None:
    """The operationState shapes Argo CD's own controller tests write (argoproj/argo-cd at 37ee009,
    fetched): ``controller/appcontroller_test.go`` ``TestAutoSync``/``PreviousSyncAttemptFailed`` and
    ``PreviousSyncAttemptError`` (phase Failed/Error, a syncResult with revision and source but no
    resources), ``TestProcessRequestedAppOperation_RunningPreviouslyFailed`` (one Deployment
    ``guestbook``, group ``apps``, status ``SyncFailed``; there the phase is Running between retries,
    here the same resource list ends the operation Failed), ``controller/sync_test.go`` "sync with
    impersonation and no matching service account" (phase Error, no syncResult at all). Times,
    revision and the app are this module's; the fields and values are Argo CD's."""
    before = ["shop/web:1"]
    source = {"repoURL": REPO, "path": "apps/guestbook", "targetRevision": "main"}
    for phase in ("Failed", "Error"):  # PreviousSyncAttemptFailed / PreviousSyncAttemptError
        state = {"operation": {"sync": {}}, "phase": phase, "startedAt": "2026-01-31T10:00:00Z",
                 "finishedAt": "2026-01-31T10:00:05Z", "syncResult": {"revision": "b" * 40, "source": source}}
        event = _failed_with(state, before)
        assert stored(event)["images"] == [] and stored(event)["revision"] == "b" * 40
        assert not wants_snapshot(event) and not applied_anything(event.document)
    # RunningPreviouslyFailed's resource list, ended Failed: the Deployment was refused.
    refused = {"group": "apps", "kind": "Deployment", "name": "guestbook", "status": "SyncFailed",
               "images": ["shop/web:2"]}
    state = {"operation": {"sync": {}}, "phase": "Failed", "startedAt": "2026-01-31T10:00:00Z",
             "finishedAt": "2026-01-31T10:00:05Z", "message": "one or more objects failed to apply",
             "syncResult": {"revision": "b" * 40, "source": source, "resources": [refused]}}
    event = _failed_with(state, before)
    assert stored(event)["images"] == [] and not applied_anything(event.document)
    # No matching service account: Error, no syncResult.
    state = {"operation": {"sync": {"source": {}}}, "phase": "Error", "startedAt": "2026-01-31T10:00:00Z",
             "finishedAt": "2026-01-31T10:00:01Z",
             "message": "no matching service account found for destination server https://localhost:6443"}
    event = _failed_with(state, before)
    assert stored(event)["images"] == [] and not applied_anything(event.document)

    # Derived from the one above (one resource more, as test_syncs.py's real controller reports a
    # wave applied beside a refused Deployment): the worker was applied, the web Deployment refused.
    worker = {"group": "apps", "kind": "Deployment", "name": "worker", "namespace": "guestbook",
              "status": "Synced", "images": ["shop/worker:2"]}
    state["syncResult"] = {"revision": "b" * 40, "source": source, "resources": [refused, worker]}
    event = _failed_with(state, before)
    assert stored(event)["images"] == ["shop/worker:2"] and applied_anything(event.document)
    # A hook that ran is not what the sync deployed; a pruned resource left the cluster.
    hook = {**worker, "name": "migrate", "kind": "Job", "group": "batch", "hookType": "PreSync"}
    pruned = {**worker, "name": "old", "status": "Pruned", "images": ["shop/old:1"]}
    state["syncResult"]["resources"] = [refused, hook, pruned]
    event = _failed_with(state, before)
    assert stored(event)["images"] == [] and applied_anything(event.document)  # it pruned: it changed something
