"""The sensor cursor: each sync is handled once, across Argo CD's 10-entry history cap rolling over."""

from __future__ import annotations

from c2c_dagster.argocd.cursor import AppCursor, ArgoCursor, advance_app, snapshot_event
from c2c_dagster.argocd.events import sync_events
from c2c_dagster_tests.argocd.data import application, history_entry, operation_state, status

SHA = "c" * 40


def at(minute: int, second: int = 0) -> str:
    return f"2026-01-31T{10 + minute // 60:02d}:{minute % 60:02d}:{second:02d}Z"


def app_with(ids: range, *, op_phase: str = "Succeeded") -> dict:
    """An app after syncs ``ids`` (each at minute id), history capped at the newest 10."""
    history = [history_entry(i, f"{i:040d}", started=at(i), deployed=at(i, 30)) for i in ids][-10:]
    last = ids[-1]
    app = application("guestbook")
    finished = at(last, 31) if op_phase != "Running" else None
    app["status"] = status(history=history, operation=operation_state(
        op_phase, f"{last:040d}", started=at(last), finished=finished, resources=[]))
    return app


def advance(cursor: AppCursor | None, app: dict):
    events = sync_events(app, argocd_cluster="prod", cluster="prod", recorded_at=at(0))
    new, cursor = advance_app(cursor, events)
    chosen = snapshot_event(new, (app["status"].get("operationState") or {}).get("phase"))
    return [e.event_id.rsplit("/", 1)[1] for e in new], cursor, chosen


def test_history_cap_rolling_over_records_every_entry_once_and_keeps_the_cursor_bounded() -> None:
    new, cursor, chosen = advance(None, app_with(range(0, 10)))
    assert new == [str(i) for i in range(10)]  # first sight: all ten entries
    assert chosen is not None and chosen.history_id == 9  # one snapshot: only "now" can be shown

    # Three more syncs between ticks: ids 0-2 fall off Argo CD's cap, 10-12 are new.
    new, cursor, chosen = advance(cursor, app_with(range(0, 13)))
    assert new == ["10", "11", "12"] and chosen.history_id == 12
    assert cursor.history_ids == set(range(3, 13))  # ids off the cap are dropped: they never return

    new, same, chosen = advance(cursor, app_with(range(0, 13)))
    assert (new, chosen, same) == ([], None, cursor)


def test_a_failed_sync_after_a_success_is_new_once() -> None:
    app = app_with(range(0, 3))
    _, cursor, _ = advance(None, app)
    app["status"]["operationState"] = operation_state("Failed", SHA, started=at(5), finished=at(6), resources=[])
    new, cursor, chosen = advance(cursor, app)
    assert new == [at(6)] and chosen.document.phase == "Failed"
    assert cursor.last_operation.startswith(at(6) + "#")
    assert advance(cursor, app)[0] == []


def test_history_written_before_the_operation_is_marked_succeeded_is_completed_later() -> None:
    # Argo CD persists the history entry, then marks the operation Succeeded: a tick in between
    # records the entry without resources and no snapshot; the next records it fully, with one.
    running = app_with(range(0, 2), op_phase="Running")
    _, cursor, _ = advance(None, app_with(range(0, 1)))
    new, cursor, chosen = advance(cursor, running)
    assert new == ["1"] and chosen is None
    new, cursor, chosen = advance(cursor, app_with(range(0, 2)))
    assert new == ["1"] and chosen.is_current_operation and chosen.history_id == 1


def test_a_recreated_app_restarts_its_ids_and_is_picked_up() -> None:
    _, cursor, _ = advance(None, app_with(range(0, 12)))
    new, cursor, _ = advance(cursor, app_with(range(0, 1)))
    assert new == ["0"] and cursor.history_ids == {0}


def test_an_app_recreated_under_the_same_name_is_new_even_where_its_ids_overlap() -> None:
    def recreated(ids: range, uid: str) -> dict:
        app = app_with(ids)
        app["metadata"]["uid"] = uid
        return app

    def advance_uid(cursor: AppCursor | None, app: dict):
        events = sync_events(app, argocd_cluster="prod", cluster="prod", recorded_at=at(0))
        return advance_app(cursor, events, app["metadata"]["uid"])

    _, cursor = advance_uid(None, recreated(range(0, 4), "uid-old"))
    assert cursor.uid == "uid-old" and cursor.history_ids == {0, 1, 2, 3}
    # Deleted and created again: ids 0-1 again, same finishedAt pattern; all of it is new.
    new, cursor = advance_uid(cursor, recreated(range(0, 2), "uid-new"))
    assert [e.history_id for e in new] == [0, 1]
    assert all("/uid-new/" in e.event_id for e in new)
    assert (cursor.history_ids, cursor.last_operation.split("#")[0], cursor.uid) == ({0, 1}, at(1, 31), "uid-new")
    assert advance_uid(cursor, recreated(range(0, 2), "uid-new"))[0] == []
    # A cursor written before uids (and operation keys) were kept is the same app: nothing
    # recorded twice on upgrade.
    assert advance_uid(AppCursor({0, 1}, at(1, 31)), recreated(range(0, 2), "uid-new"))[0] == []


def test_two_operations_ending_in_the_same_second_are_both_handled() -> None:
    # As the real controller wrote them (test_syncs.py): a sync, then a self-heal of its Deployment
    # that started and ended within the same second, at the same revision, with no history entry.
    app = app_with(range(0, 1))
    second = app["status"]["operationState"]["finishedAt"]
    _, cursor, _ = advance(None, app)
    heal = operation_state("Succeeded", SHA, started=second, finished=second, resources=[])
    heal["operation"]["sync"]["resources"] = [{"group": "apps", "kind": "Deployment", "name": "web"}]
    app["status"]["operationState"] = heal
    new, cursor, chosen = advance(cursor, app)
    assert new == [second] and chosen.history_id is None and chosen.is_current_operation
    assert advance(cursor, app)[0] == []


def test_cursor_round_trips_through_compact_json() -> None:
    cursor = ArgoCursor(clusters={
        "prod": {"argocd/guestbook": AppCursor({3, 4}, at(4, 31), "0d7c3f6e-1111"), "team-a/api": AppCursor()},
        "empty": {},
    })
    text = cursor.dumps()
    assert " " not in text
    assert ArgoCursor.loads(text) == cursor
    assert ArgoCursor.loads(None) == ArgoCursor() and not ArgoCursor().is_known("prod")
    assert ArgoCursor.loads(text).is_known("empty")
