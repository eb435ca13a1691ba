"""Jenkins faults: a hanging job or folder, a 500, malformed JSON, an HTML error page, a huge
console, the controller down, credentials refused mid-way, a build document the store refuses.
Each proves that the tick stays within its time budget, the healthy jobs' builds are handed over
and stored, the bad job's cursor stays, failed runs are requested again, and every build ends up
in the store exactly once (counted by id).

Jenkins is *emulated* (``c2c_devstack.emulators.jenkins``: Jenkins cannot be installed here), with
faults injected into its HTTP answers. The store is real (the OpenSearch node; both stores for the
refused document), and so are the Dagster instance, the sensor evaluation and the ci_builds runs.
"""

from __future__ import annotations

import dagster as dg
import pytest

from c2c_dagster.jenkins import sensors
from c2c_dagster.jenkins.budget import ITEM_BUDGET_SECONDS, TICK_BUDGET_SECONDS
from c2c_dagster.jenkins.cursor import JenkinsCursor
from c2c_dagster_tests.faults.jenkins_harness import around, jenkins_faults, run_metadata, seed

HEALTHY = ["app", "shop/api", "shop/web"]
OPENSEARCH = pytest.mark.parametrize("store", ["opensearch"], indirect=True)


@pytest.fixture
def faults(jenkins_emulator, store_resource, tmp_path):
    with jenkins_faults(jenkins_emulator.url, store_resource, tmp_path) as harness:
        yield harness



def ids(jobs: list[str], number: int = 1) -> list[str]:
    return sorted(f"{job}-{number}" for job in jobs)


@OPENSEARCH
def test_a_job_and_a_folder_hanging_45_s_cost_only_their_own_budget(jenkins_emulator, faults, fault_report) -> None:
    # A folder three levels down gets a request of its own (the root's reads three levels).
    seed(jenkins_emulator, [*HEALTHY, "slow", "org/dept/team/svc"])
    hang = {"delay": 45, "content_type": "application/json"}
    jenkins_emulator.fail(r"^/job/slow/api/json$", 200, b'{"builds": []}', **hang)
    jenkins_emulator.fail(r"^/job/org/job/dept/job/team/api/json$", 200, b'{"jobs": []}', **hang)

    first = faults.tick()  # the shipped retries (3): each hung request is retried
    assert first.handed == sorted(f"{job}#1" for job in HEALTHY)
    # The folder's wave and the job's wave each wait out one 15 s budget, no more.
    assert 2 * ITEM_BUDGET_SECONDS <= first.seconds < TICK_BUDGET_SECONDS < 60
    assert first.job_cursors() == dict.fromkeys(HEALTHY, 1)  # "slow" has none: read again next tick
    problems = faults.problems()
    assert {"jenkins/job_unreadable/slow", "jenkins/folder_unreadable/org/dept/team"} <= set(problems)
    assert "15 s budget" in problems["jenkins/job_unreadable/slow"]["reason"]
    assert [run.success for run in faults.launch(first)] == [True]
    assert faults.stored() == ids(HEALTHY)

    jenkins_emulator.clear_faults()  # Jenkins answers again
    second = faults.tick()
    assert second.handed == ["org/dept/team/svc#1", "slow#1"] and second.seconds < 5
    assert [run.success for run in faults.launch(second)] == [True]
    assert faults.stored() == ids([*HEALTHY, "slow", "org/dept/team/svc"])  # each once
    assert not any(doc["open"] for doc in faults.problems().values())
    fault_report(
        fault="Jenkins: one job and one folder answering after 45 s (3 retries each)",
        expected=f"tick < {TICK_BUDGET_SECONDS:g} s (Dagster allows 60 s); healthy jobs handed and stored; "
                 "bad job's cursor kept; both read next tick",
        observed=f"tick {first.seconds:.1f} s; {len(first.handed)} healthy builds handed, stored "
                 f"{len(faults.stored()) - 2}+2 after recovery ({second.seconds:.1f} s tick), each id once; "
                 "slow job had no cursor; problems opened then closed")


@OPENSEARCH
@pytest.mark.parametrize(
    ("fault", "status", "body", "content_type", "reason"),
    [
        ("one job answering 500", 500, b"<html>java.lang.NullPointerException</html>", "text/html", "500"),
        ("one job answering malformed JSON", 200, b'{"builds": [{"number": 1, "result": "SUCC', "application/json",
         "malformed JSON"),
        ("one job answering an HTML error page behind a 200", 200,
         b"<!DOCTYPE html><html><body>Please sign in to Jenkins</body></html>", "text/html", "malformed JSON"),
    ],
    ids=["500", "malformed-json", "html-error-page"],
)
def test_one_bad_job_answer_is_that_jobs_problem_only(
    jenkins_emulator, faults, fault_report, fault, status, body, content_type, reason
) -> None:
    seed(jenkins_emulator, [*HEALTHY, "bad"])
    jenkins_emulator.fail(r"^/job/bad/api/json$", status, body, content_type=content_type)

    first = faults.tick()
    assert first.handed == sorted(f"{job}#1" for job in HEALTHY)
    assert "bad" not in first.job_cursors()
    problem = faults.problems()["jenkins/job_unreadable/bad"]
    assert problem["open"] and reason in problem["reason"]
    assert [run.success for run in faults.launch(first)] == [True]

    jenkins_emulator.clear_faults()
    second = faults.tick()
    assert second.handed == ["bad#1"]
    faults.launch(second)
    stored = faults.stored()
    assert stored == ids([*HEALTHY, "bad"])
    assert faults.problems()["jenkins/job_unreadable/bad"]["open"] is False
    fault_report(
        fault=f"Jenkins: {fault}",
        expected="healthy jobs handed and stored; the job recorded with the reason, its cursor kept; "
                 "its build handed once it answers; nothing lost or duplicated",
        observed=f"tick {first.seconds:.1f} s handed {len(first.handed)}; problem reason "
                 f"...{around(problem['reason'], reason)!r}...; after recovery {len(stored)} ids stored, {len(set(stored))} distinct")


@OPENSEARCH
def test_a_huge_console_is_never_read(jenkins_emulator, faults, fault_report) -> None:
    seed(jenkins_emulator, HEALTHY)
    jenkins_emulator.jobs["app"].builds[1].console = b"[Pipeline] sh\n" + b"x" * (64 * 1024 * 1024)

    tick = faults.tick()
    runs = faults.launch(tick)
    assert [run.success for run in runs] == [True]
    assert faults.stored() == ids(HEALTHY)
    assert not [path for path in jenkins_emulator.requests if "consoleText" in path or "/console" in path]
    assert tick.seconds < 5
    fault_report(fault="Jenkins: a build with a 64 MiB console log",
                 expected="never requested (c2c reads the JSON API and build-metadata.json only); build stored",
                 observed=f"0 console requests of {len(jenkins_emulator.requests)}; tick {tick.seconds:.1f} s; "
                          f"{len(faults.stored())} builds stored")


@OPENSEARCH
def test_the_controller_down_skips_the_tick_with_the_cursor_kept(jenkins_emulator, faults, fault_report) -> None:
    seed(jenkins_emulator, HEALTHY)
    first = faults.tick()
    faults.launch(first)
    before = faults.cursor
    seed(jenkins_emulator, HEALTHY, number=2)
    jenkins_emulator.stop()

    down = faults.tick()
    assert isinstance(down.result, dg.SkipReason)
    assert jenkins_emulator.url in down.message and "cursor unchanged" in down.message
    assert faults.cursor == before and down.seconds < 10

    # The same controller back on its address: the builds finished meanwhile come, once.
    jenkins_emulator.restart()
    up = faults.tick()
    assert up.handed == sorted(f"{job}#2" for job in HEALTHY)
    faults.launch(up)
    assert faults.stored() == sorted(ids(HEALTHY) + ids(HEALTHY, 2))
    fault_report(fault="Jenkins: the controller down (connection refused)",
                 expected="tick skipped naming the URL, cursor unchanged, no problem blamed on any job; "
                          "builds of the downtime handed once it is back",
                 observed=f"skip in {down.seconds:.1f} s: {down.message[:70]!r}...; cursor identical; "
                          f"{len(up.handed)} builds handed after, {len(faults.stored())} ids stored once each")


@OPENSEARCH
def test_a_failed_run_is_requested_again_until_its_builds_are_stored(
    jenkins_emulator, faults, fault_report, monkeypatch
) -> None:
    seed(jenkins_emulator, HEALTHY)
    first = faults.tick()
    key = first.requests[0].run_key
    # Credentials revoked between the tick and the run: the run fails at once (no retry helps).
    jenkins_emulator.user, jenkins_emulator.api_token = "c2c", "rotated"
    [failed] = faults.launch(first)
    assert not failed.success and faults.stored() == []
    assert key in JenkinsCursor.loads(faults.cursor).in_flight  # not forgotten

    waiting = faults.tick(user="c2c", api_token="rotated")
    assert waiting.requests == []  # the first retry waits RETRY_AFTER_SECONDS after the failure
    shipped = sensors.RETRY_AFTER_SECONDS
    # Once a run of the batch exists, its config holds the builds; the cursor keeps only the key.
    assert JenkinsCursor.loads(waiting.cursor).in_flight[key].builds == ()
    monkeypatch.setattr(sensors, "RETRY_AFTER_SECONDS", 0)
    again = faults.tick(user="c2c", api_token="rotated")
    assert [r.run_key for r in again.requests] == [f"{key}:retry1"]
    assert again.handed == first.handed
    assert [run.success for run in faults.launch(again, user="c2c", api_token="rotated")] == [True]
    assert faults.stored() == ids(HEALTHY)

    settled = faults.tick(user="c2c", api_token="rotated")
    assert settled.requests == [] and JenkinsCursor.loads(settled.cursor).in_flight == {}
    fault_report(fault="ci_builds run failed after the sensor moved on (Jenkins credentials refused)",
                 expected="the batch stays in the cursor and is requested again under a new run_key after "
                          f"{shipped} s (doubling per attempt; the test then sets it to 0); stored once the run succeeds",
                 observed=f"run failed, 0 stored; re-requested as {again.requests[0].run_key}; "
                          f"{len(faults.stored())} stored; in_flight empty after")


def test_a_build_the_store_refuses_is_an_ingest_problem_and_the_run_succeeds(
    jenkins_emulator, faults, fault_report, store
) -> None:
    seed(jenkins_emulator, ["app"], 1)
    seed(jenkins_emulator, ["app"], 2)
    seed(jenkins_emulator, ["app"], 3)
    # Jenkins' duration is a long in the mapping; a plugin-mangled value is refused by the store.
    jenkins_emulator.jobs["app"].builds[2].duration_ms = "forty minutes"  # type: ignore[assignment]

    tick = faults.tick()
    [run] = faults.launch(tick)
    assert run.success
    meta = run_metadata(run)
    assert (meta["builds_written"], meta["builds_refused"]) == (2, 1)
    assert "duration_ms" in meta["builds_refused_reasons"]["app-2"]
    [check] = run.get_asset_check_evaluations()
    assert (check.check_name, check.passed, check.severity) == ("no_refused_builds", False, dg.AssetCheckSeverity.WARN)
    assert faults.stored() == ["app-1", "app-3"]
    problem = faults.problems()["jenkins/build_refused/app-2"]
    assert problem["open"] and "duration_ms" in problem["reason"]
    # The run succeeded: the batch is done, nothing is requested again for it.
    assert faults.tick().requests == []

    jenkins_emulator.jobs["app"].builds[2].duration_ms = 60_000  # mended in Jenkins; a re-run stores it
    [rerun] = faults.launch(tick)
    assert rerun.success and run_metadata(rerun)["builds_refusals_resolved"] == 1
    assert faults.stored() == ["app-1", "app-2", "app-3"]
    assert faults.problems()["jenkins/build_refused/app-2"]["open"] is False
    fault_report(fault=f"one build document the store refuses ({store.kind}: a non-numeric duration)",
                 expected="run succeeds with builds_refused=1, check no_refused_builds WARN, open build_refused "
                          "problem with the store's reason; the others stored; closed once stored",
                 observed=f"run success, written {meta['builds_written']}, refused {meta['builds_refused']} "
                          f"(...{around(problem['reason'], 'duration_ms')!r}...), check {check.severity.value} passed={check.passed}; "
                          f"after mend {len(faults.stored())} ids, problem closed")
