"""Hostile payloads from Jenkins: JSON nested 100,000 deep, JSON nested past c2c's bound but
parsable, 40 MiB of JSON, latin-1 bytes, UTF-16, a UTF-8 BOM, in a job's build listing, in an
archived build-metadata.json and in a build's own JSON. Each proves the payload is one job's or
one build's clear problem (or, for the unambiguous encodings, read as the same JSON), that the
sensor tick and the ci_builds run complete, and that the good builds beside it are all stored,
each once.

Jenkins is *emulated* (``c2c_devstack.emulators.jenkins``); the hostile bytes are served as its
HTTP answers. The store (the OpenSearch node), the Dagster instance and the runs are real.
"""

from __future__ import annotations

import json

import dagster as dg
import pytest

from c2c_dagster.jenkins.resources import MAX_JSON_DEPTH
from c2c_dagster_tests.faults.jenkins_harness import AT, around, jenkins_faults, run_metadata, seed
from c2c_dagster_tests.jenkins.data import add_build, digest_of, metadata_artifact, ms

GOOD = ["app", "shop/web"]
pytestmark = pytest.mark.parametrize("store", ["opensearch"], indirect=True)


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def padded(size: int) -> bytes:
    return b'{"builds": [], "pad": "' + b"x" * size + b'"}'


@pytest.fixture
def faults(jenkins_emulator, store_resource, tmp_path):
    with jenkins_faults(jenkins_emulator.url, store_resource, tmp_path) as harness:
        yield harness



def listing(emulator) -> dict:
    """The build listing Jenkins gives for job ``hostile`` (one finished build), as a dict."""
    return {"_class": "org.jenkinsci.plugins.workflow.job.WorkflowJob", "builds": [
        {"_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun", "number": 1, "result": "SUCCESS",
         "building": False, "timestamp": ms(AT), "duration": 60_000, "url": emulator.job_url("hostile") + "1/"}]}


# (case, bytes of the answer given the real listing, what the job's problem says; None: read fine)
LISTINGS = [
    ("nested 100,000 deep", lambda real: b'{"builds": ' + deep(100_000) + b"}", "nested too deeply"),
    (f"nested {MAX_JSON_DEPTH + 36} deep (parsable)", lambda real: b'{"builds": ' + deep(MAX_JSON_DEPTH + 36) + b"}",
     f"nested deeper than {MAX_JSON_DEPTH}"),
    ("40 MiB", lambda real: padded(40 * 1024 * 1024), "larger than 32 MiB"),
    ("latin-1 bytes", lambda real: json.dumps(real, ensure_ascii=False).replace('"SUCCESS"', '"SUCCÈS"').encode("latin-1"),
     "not UTF-8"),
    ("UTF-16", lambda real: json.dumps(real).encode("utf-16"), None),
    ("a UTF-8 BOM", lambda real: json.dumps(real).encode("utf-8-sig"), None),
]


@pytest.mark.parametrize(("case", "payload", "reason"), LISTINGS,
                         ids=["deep-100000", "deep-parsable", "huge", "latin-1", "utf-16", "bom"])
def test_a_hostile_build_listing_is_that_jobs_problem(jenkins_emulator, faults, fault_report, case, payload, reason) -> None:
    seed(jenkins_emulator, GOOD)
    seed(jenkins_emulator, ["hostile"])
    body = payload(listing(jenkins_emulator))
    jenkins_emulator.fail(r"^/job/hostile/api/json$", 200, body, content_type="application/json;charset=utf-8")

    tick = faults.tick()
    assert isinstance(tick.result, dg.SensorResult) and tick.seconds < 10
    good = sorted(f"{job}#1" for job in GOOD)
    if reason is None:  # unambiguous encodings are read as the JSON they are
        assert tick.handed == sorted([*good, "hostile#1"])
        assert "jenkins/job_unreadable/hostile" not in faults.problems()
    else:
        assert tick.handed == good
        assert "hostile" not in tick.job_cursors()
        problem = faults.problems()["jenkins/job_unreadable/hostile"]
        assert problem["open"] and reason in problem["reason"], problem["reason"]
    assert [run.success for run in faults.launch(tick)] == [True]
    stored = faults.stored()
    assert stored == sorted(f"{h[:-2]}-1" for h in tick.handed) and len(stored) == len(set(stored))
    fault_report(
        fault=f"hostile build listing: {case} ({len(body):,} bytes)",
        expected="read as the same JSON, build handed" if reason is None else
                 f"that job's problem ({reason!r}), cursor kept; tick completes; good builds stored",
        observed=f"tick {tick.seconds:.1f} s handed {len(tick.handed)}; "
                 + ("no problem" if reason is None else f"problem ...{around(faults.problems()['jenkins/job_unreadable/hostile']['reason'], reason)!r}")
                 + f"; {len(stored)} stored, each once")


def artifact(real: dict) -> bytes:
    return json.dumps(real, ensure_ascii=False).encode()


# (case, artifact bytes given the real artifact, what the build's ingest problem says; None: read fine)
ARTIFACTS = [
    ("nested 100,000 deep", lambda real: deep(100_000), "nested too deeply"),
    ("40 MiB", lambda real: b'{"pad": "' + b"x" * (40 * 1024 * 1024) + b'"}', "larger than 32 MiB"),
    ("latin-1 bytes", lambda real: json.dumps({**real, "branch": "rélease"}, ensure_ascii=False).encode("latin-1"),
     "not UTF-8"),
    ("UTF-16", lambda real: json.dumps(real).encode("utf-16"), None),
    ("a UTF-8 BOM", lambda real: json.dumps(real).encode("utf-8-sig"), None),
]


@pytest.mark.parametrize(("case", "payload", "reason"), ARTIFACTS, ids=["deep-100000", "huge", "latin-1", "utf-16", "bom"])
def test_a_hostile_build_metadata_artifact_is_that_builds_problem(
    jenkins_emulator, faults, fault_report, case, payload, reason
) -> None:
    seed(jenkins_emulator, GOOD)
    real = metadata_artifact("hostile", 1, digest_of("hostile"), at=AT)
    body = payload(real)
    add_build(jenkins_emulator, "hostile", 1, at=AT, artifact=body)

    tick = faults.tick()
    assert tick.handed == sorted(f"{job}#1" for job in [*GOOD, "hostile"])
    [run] = faults.launch(tick)
    assert run.success
    assert faults.stored() == sorted(f"{job}-1" for job in [*GOOD, "hostile"])
    doc = faults.store.get_store().get("ci-build-metadata", "hostile-1")
    for job in GOOD:
        assert faults.store.get_store().get("ci-build-metadata", f"{job}-1")["image_digest"] == digest_of(f"{job}1")
    if reason is None:
        assert (doc["image_digest"], doc["metadata_source"]) == (digest_of("hostile"), "artifact")
    else:
        assert doc["digest_missing"] is True and doc.get("image_digest") is None
        assert any(reason in problem for problem in doc["ingest_problems"]), doc["ingest_problems"]
    fault_report(
        fault=f"hostile build-metadata.json: {case} ({len(body):,} bytes)",
        expected="read as the same JSON, digest taken" if reason is None else
                 f"the build stored with digest_missing and the problem ({reason!r}); run succeeds; others stored",
        observed=f"run success; {len(faults.stored())} stored once each; hostile-1 "
                 + (f"digest {doc['image_digest'][:15]}... from {doc['metadata_source']}" if reason is None
                    else f"problem ...{around(next(p for p in doc['ingest_problems'] if reason in p), reason)!r}")
                 + f"; invalid_artifacts={run_metadata(run)['invalid_artifacts']}")


def test_a_builds_own_json_nested_100000_deep_is_that_builds_problem(jenkins_emulator, faults, fault_report) -> None:
    seed(jenkins_emulator, [*GOOD, "hostile"])
    tick = faults.tick()
    jenkins_emulator.fail(r"^/job/hostile/1/api/json$", 200, b'{"actions": ' + deep(100_000) + b"}",
                          content_type="application/json")
    [run] = faults.launch(tick)
    assert run.success
    assert faults.stored() == sorted(f"{job}-1" for job in [*GOOD, "hostile"])
    doc = faults.store.get_store().get("ci-build-metadata", "hostile-1")
    assert doc["metadata_source"] == "unreadable" and "nested too deeply" in doc["ingest_problems"][0]
    meta = run_metadata(run)
    assert meta["builds_unreadable"] == 1
    fault_report(fault="hostile build JSON (api/json of one build): nested 100,000 deep",
                 expected="that build recorded as unreadable with the reason; run succeeds; the others stored",
                 observed=f"run success; builds_unreadable={meta['builds_unreadable']}; "
                          f"...{around(doc['ingest_problems'][0], 'nested too deeply')!r}; {len(faults.stored())} stored once each")
