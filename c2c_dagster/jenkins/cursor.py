"""The Jenkins sensor's cursor: per job, which finished builds were already handed to a run,
and the runs handed builds whose success is not yet seen (``in_flight``).

Pure functions, tested directly. Builds of one job can finish out of order (concurrent builds),
so the cursor is not "highest finished number": it is the number through which every listed
build is finished and requested, plus the finished numbers above it already requested.

A job's numbers move when its builds are *requested*; a batch stays ``in_flight`` until the run
that stores it has succeeded, and is requested again if that run failed (``sensors.py``). So the
cursor as a whole never moves past a build that was not stored. (Moving the job numbers only on
success instead would mean reading every job's listing against runs' outcomes; keeping the few
unconfirmed batches costs one query of the run storage per tick, and only when there are some.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from c2c_dagster.jenkins.transform import is_finished


@dataclass
class JobCursor:
    done_through: int = 0
    requested_above: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class Batch:
    """The builds one ``ci_builds`` run was asked to store (``Job#N`` references) and its partition.

    ``builds`` is kept only until a run of the batch is seen: from then on the run's own config
    holds them, and a cursor carrying every build of a large first tick would be stored with
    every later tick (megabytes a day). Empty then."""

    partition: str
    builds: tuple[str, ...] = ()


@dataclass
class JenkinsCursor:
    jobs: dict[str, JobCursor] = field(default_factory=dict)
    # base run_key -> batch, for the runs not yet seen succeed
    in_flight: dict[str, Batch] = field(default_factory=dict)
    # ids of the ingest-problems documents left open by the last tick: the store is read only
    # when there are some (to close them) or new ones, not on every quiet tick.
    open_problems: set[str] = field(default_factory=set)

    @classmethod
    def loads(cls, text: str | None) -> "JenkinsCursor":
        if not text:
            return cls()
        raw = json.loads(text)
        return cls(
            jobs={
                name: JobCursor(entry["done_through"], set(entry.get("requested_above", [])))
                for name, entry in raw.get("jobs", {}).items()
            },
            open_problems=set(raw.get("open_problems", [])),
            in_flight={
                key: Batch(entry["partition"], tuple(entry.get("builds", ())))
                for key, entry in raw.get("in_flight", {}).items()
            },
        )

    def dumps(self) -> str:
        return json.dumps(
            {
                "jobs": {
                    name: {"done_through": c.done_through, "requested_above": sorted(c.requested_above)}
                    for name, c in sorted(self.jobs.items())
                },
                **({"open_problems": sorted(self.open_problems)} if self.open_problems else {}),
                **({"in_flight": {
                    key: {"partition": b.partition, **({"builds": list(b.builds)} if b.builds else {})}
                    for key, b in sorted(self.in_flight.items())
                }} if self.in_flight else {}),
            },
            separators=(",", ":"),
        )


def advance_job(cursor: JobCursor | None, listing: Sequence[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], JobCursor]:
    """Finished builds of one job not yet requested, and the job's cursor once they are.

    ``listing`` is the job's ``builds`` (newest first, as Jenkins lists them). A job seen for the
    first time yields every finished build in the listing; older history is for backfills.
    """
    cursor = cursor or JobCursor()
    new = [
        b
        for b in listing
        if b["number"] > cursor.done_through and b["number"] not in cursor.requested_above and is_finished(b)
    ]
    requested = cursor.requested_above | {b["number"] for b in new}
    done_through = cursor.done_through
    for build in sorted(listing, key=lambda b: b["number"]):
        if build["number"] <= done_through:
            continue
        if build["number"] not in requested:
            break  # still running: everything above it stays individually tracked
        done_through = build["number"]
    new.sort(key=lambda b: b["number"])
    return new, JobCursor(done_through, {n for n in requested if n > done_through})
