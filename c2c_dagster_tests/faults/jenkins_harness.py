"""What the Jenkins fault tests share: a sensor tick evaluated as the daemon evaluates it, and the
runs it requests executed on the same real Dagster instance (same tags, config and partition),
so the sensor's follow-up of failed runs sees real run records.

Jenkins is the project's *emulator* (``c2c_devstack.emulators.jenkins``); Dagster, the store and
the runs are real.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from c2c_dagster.jenkins.assets import ci_builds
from c2c_dagster.jenkins.cursor import JenkinsCursor
from c2c_dagster.jenkins.resources import JenkinsResource
from c2c_dagster.jenkins.sensors import jenkins_build_sensor
from c2c_dagster.store import MetadataStoreResource


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


def run_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    materialization = result.asset_materializations_for_node("ci_builds")[0]
    return {key: value.value for key, value in materialization.metadata.items()}


def around(text: str, needle: str, width: int = 90) -> str:
    """The part of ``text`` that says ``needle``, for a report cell."""
    start = max(text.find(needle) - 30, 0)
    return text[start : start + width]
