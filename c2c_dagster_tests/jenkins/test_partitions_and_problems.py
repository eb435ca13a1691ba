"""Pure rules: which partition a build of any age goes to; how ingest problems open, persist and close;
which listing entries a cursor can track."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from c2c_dagster.jenkins.cursor import JenkinsCursor
from c2c_dagster.jenkins.partitions import partition_for
from c2c_dagster.jenkins.problems import IngestProblem, problem_documents, resolved_documents
from c2c_dagster.jenkins.sensors import valid_entries

NOW = datetime(2026, 1, 31, 12, tzinfo=UTC)


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_every_build_gets_a_partition_whatever_its_start_time() -> None:
    assert partition_for(ms("2026-01-30T23:59:59"), now=NOW).key == "2026-01-30"
    assert partition_for(ms("2026-01-30T23:59:59"), now=NOW).bucketed is None
    old = partition_for(ms("2007-06-01T00:00:00"), now=NOW)
    assert (old.key, old.bucketed) == ("2010-01-01", "started 2007-06-01, before the first partition")
    assert partition_for(None, now=NOW) == partition_for("1769838318000", now=NOW)  # undated or not a number
    assert partition_for(None, now=NOW).key == "2010-01-01"
    assert partition_for(True, now=NOW).bucketed == "no start time"
    ahead = partition_for(ms("2026-02-03T00:00:00"), now=NOW)  # a controller clock days ahead
    assert (ahead.key, ahead.bucketed) == ("2026-01-31", "started 2026-02-03, after the newest partition")
    assert partition_for(10**20, now=NOW).key == "2010-01-01"


def test_problems_keep_their_first_sighting_and_close_when_no_longer_seen() -> None:
    broken = IngestProblem("job_unreadable", "shop/api", "Jenkins answered 500", "https://j/job/shop/job/api/")
    (first,) = problem_documents([broken], {}, now="2026-01-31T10:00:00Z")
    assert first.to_document() == {
        "problem_id": "jenkins/job_unreadable/shop/api", "source": "jenkins", "kind": "job_unreadable",
        "subject": "shop/api", "reason": "Jenkins answered 500", "url": "https://j/job/shop/job/api/",
        "open": True, "first_seen": "2026-01-31T10:00:00Z", "last_seen": "2026-01-31T10:00:00Z"}
    known = {first.problem_id: first}
    (again,) = problem_documents([broken], known, now="2026-01-31T10:01:00Z")
    assert (again.first_seen, again.last_seen) == ("2026-01-31T10:00:00Z", "2026-01-31T10:01:00Z")
    assert resolved_documents(known, [broken], now="2026-01-31T10:01:00Z") == []
    assert resolved_documents(known, [], now="2026-01-31T10:02:00Z") == [
        {"problem_id": "jenkins/job_unreadable/shop/api", "open": False, "resolved_at": "2026-01-31T10:02:00Z"}]
    # Seen again after it was closed: a new sighting, first_seen starts over.
    closed = {first.problem_id: replace(first, open=False)}
    assert problem_documents([broken], closed, now="2026-02-01T00:00:00Z")[0].first_seen == "2026-02-01T00:00:00Z"


def test_only_entries_with_a_build_number_are_tracked_and_open_problems_ride_in_the_cursor() -> None:
    good, bad = valid_entries([{"number": 3, "result": "SUCCESS"}, {"number": "4"}, {"number": True}, None,
                               {"result": "SUCCESS"}, {"number": 0}])
    assert [b["number"] for b in good] == [3, 0] and len(bad) == 4
    cursor = JenkinsCursor(open_problems={"jenkins/job_unreadable/a"})
    assert JenkinsCursor.loads(cursor.dumps()) == cursor
    assert "open_problems" not in JenkinsCursor().dumps()
