"""The sensor cursor: every finished build is requested exactly once, even out of order."""

from __future__ import annotations

from c2c_dagster.jenkins.cursor import JenkinsCursor, JobCursor, advance_job


def listing(*builds: tuple[int, str | None]) -> list[dict]:
    """Builds newest first, as Jenkins lists them."""
    return [
        {"number": n, "result": r, "building": r is None, "timestamp": 1_700_000_000_000 + n}
        for n, r in sorted(builds, reverse=True)
    ]


def numbers(builds) -> list[int]:
    return [b["number"] for b in builds]


def test_first_sight_requests_finished_builds_and_stops_below_a_running_one() -> None:
    new, cursor = advance_job(None, listing((1, "SUCCESS"), (2, None), (3, "FAILURE")))
    assert numbers(new) == [1, 3]
    assert cursor == JobCursor(done_through=1, requested_above={3})


def test_a_build_finishing_late_is_requested_then_the_cursor_catches_up() -> None:
    _, cursor = advance_job(None, listing((1, "SUCCESS"), (2, None), (3, "FAILURE")))
    new, cursor = advance_job(cursor, listing((1, "SUCCESS"), (2, "ABORTED"), (3, "FAILURE"), (4, None)))
    assert numbers(new) == [2]
    assert cursor == JobCursor(done_through=3, requested_above=set())


def test_an_unchanged_job_yields_nothing() -> None:
    builds = listing((1, "SUCCESS"), (2, "SUCCESS"))
    _, cursor = advance_job(None, builds)
    new, again = advance_job(cursor, builds)
    assert new == []
    assert again == cursor


def test_deleted_builds_leave_gaps_that_do_not_block() -> None:
    new, cursor = advance_job(JobCursor(done_through=3), listing((3, "SUCCESS"), (7, "SUCCESS"), (9, "UNSTABLE")))
    assert numbers(new) == [7, 9]
    assert cursor.done_through == 9


def test_cursor_round_trips_through_json() -> None:
    cursor = JenkinsCursor(jobs={"Node-JS/master": JobCursor(5, {7, 9}), "a/b%2Fc": JobCursor()})
    assert JenkinsCursor.loads(cursor.dumps()) == cursor
    assert JenkinsCursor.loads(None) == JenkinsCursor()


def test_in_flight_batches_survive_the_round_trip_and_a_seen_batch_keeps_no_build_list() -> None:
    from c2c_dagster.jenkins.cursor import Batch

    cursor = JenkinsCursor(in_flight={"ci_builds:2026-01-31:ab": Batch("2026-01-31", ("app#1", "app#2")),
                                      "ci_builds:2026-01-30:cd": Batch("2026-01-30")})
    text = cursor.dumps()
    assert JenkinsCursor.loads(text).in_flight == cursor.in_flight
    assert '"ci_builds:2026-01-30:cd":{"partition":"2026-01-30"}' in text  # no empty list stored
    # A cursor written before in_flight existed still loads.
    assert JenkinsCursor.loads('{"jobs":{}}').in_flight == {}
