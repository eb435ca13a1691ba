"""What the Jenkins fault tests share: a sensor tick evaluated as the daemon evaluates it, and the
runs it requests executed on the same real Dagster instance (same tags, config and partition),
so the sensor's follow-up of failed runs sees real run records.

Jenkins is the project's *emulator* (``c2c_devstack.emulators.jenkins``); Dagster, the store and
the runs are real.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from c2c_dagster.jenkins.assets import ci_builds
from c2c_dagster.jenkins.cursor import JenkinsCursor
from c2c_dagster.jenkins.resources import JenkinsResource
from c2c_dagster.jenkins.sensors import jenkins_build_sensor
from c2c_dagster.store import MetadataStoreResource
from c2c_dagster_tests.jenkins.data import add_build, digest_of, metadata_artifact

AT = "2026-01-31T10:00:00Z"  # when every build of the fault tests started


@dataclass
class Tick:
    result: dg.SensorResult | dg.SkipReason
    cursor: str | None  # the cursor Dagster keeps after this tick
    seconds: float

    @property
    def requests(self) -> list[dg.RunRequest]:
        return list(self.result.run_requests or []) if isinstance(self.result, dg.SensorResult) else []

    @property
    def handed(self) -> list[str]:
        return sorted(b for r in self.requests for b in r.run_config["ops"]["ci_builds"]["config"]["builds"])

    @property
    def message(self) -> str:
        if isinstance(self.result, dg.SkipReason):
            return self.result.skip_message or ""
        return self.result.skip_reason.skip_message if self.result.skip_reason else ""

    def job_cursors(self) -> dict[str, int]:
        return {name: c.done_through for name, c in JenkinsCursor.loads(self.cursor).jobs.items()}


@dataclass
class JenkinsFaults:
    url: str
    store: MetadataStoreResource
    instance: dg.DagsterInstance
    cursor: str | None = None
    runs: list[dg.ExecuteInProcessResult] = field(default_factory=list)

    def jenkins(self, **overrides: Any) -> JenkinsResource:
        return JenkinsResource(url=self.url, **overrides)

    def tick(self, **jenkins: Any) -> Tick:
        """One evaluation from the current cursor; the cursor moves on only if the tick returns one
        (a SkipReason keeps the old cursor, as the daemon does)."""
        context = dg.build_sensor_context(cursor=self.cursor, instance=self.instance,
                                          resources={"jenkins": self.jenkins(**jenkins), "store": self.store})
        started = time.monotonic()
        result = jenkins_build_sensor(context)
        seconds = time.monotonic() - started
        if isinstance(result, dg.SensorResult) and result.cursor is not None:
            self.cursor = result.cursor
        return Tick(result, self.cursor, seconds)

    def launch(self, tick: Tick, **jenkins: Any) -> list[dg.ExecuteInProcessResult]:
        """Execute the tick's runs as the daemon would launch them."""
        done = [
            dg.materialize([ci_builds], instance=self.instance, partition_key=request.partition_key,
                           run_config=request.run_config, tags=request.tags, raise_on_error=False,
                           resources={"jenkins": self.jenkins(**jenkins), "store": self.store})
            for request in tick.requests
        ]
        self.runs += done
        return done

    def stored(self) -> list[str]:
        """Every build id in ci-build-metadata, once per document: duplicates would show twice."""
        return sorted(doc["build_id"] for doc in self.store.get_store().iter_all("ci-build-metadata"))

    def problems(self) -> dict[str, dict[str, Any]]:
        return {d["problem_id"]: d for d in self.store.get_store().find("ingest-problems", "source", "jenkins")}


def seed(emulator: Any, jobs: list[str], number: int = 1) -> None:
    """Build ``number`` of each job, finished, with a valid build-metadata.json (digest ``digest_of(job + number)``)."""
    for job in jobs:
        add_build(emulator, job, number, at=AT,
                  artifact=metadata_artifact(job, number, digest_of(f"{job}{number}"), at=AT))


@contextmanager
def jenkins_faults(url: str, store: MetadataStoreResource, tmp_path: Path) -> Iterator[JenkinsFaults]:
    """A ``JenkinsFaults`` on a fresh Dagster instance under ``tmp_path``."""
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        yield JenkinsFaults(url, store, instance)


def run_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    materialization = result.asset_materializations_for_node("ci_builds")[0]
    return {key: value.value for key, value in materialization.metadata.items()}


def around(text: str, needle: str, width: int = 90) -> str:
    """The part of ``text`` that says ``needle``, for a report cell."""
    start = max(text.find(needle) - 30, 0)
    return text[start : start + width]
