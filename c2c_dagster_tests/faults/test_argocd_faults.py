"""argocd_sync_sensor under Argo CD faults, with the real Argo CD 3.6 controller on the real control
plane: the application controller SIGKILLed and restarted between a sync and the sensor's tick
(the sync is recorded once, its snapshot requested once, nothing invented by the restart); and
Redis SIGKILLed (Argo CD degrades; c2c reads Applications from the API server, not from Argo CD's
cache, so its ticks go on, record only syncs that happened, and pick up the next one once Redis is
back). Nothing is emulated: the faults are SIGKILLs of the real processes.
"""

from __future__ import annotations

import time

import pytest

from c2c_dagster_tests.argocd.conftest import GitOps, gitops, mine, tick  # noqa: F401 - gitops: a fixture

pytestmark = [pytest.mark.kubernetes, pytest.mark.argocd]

CONTROLLER = "argocd-application-controller"


def _history_ids(gitops: GitOps, app: str) -> list[int]:
    return [entry["id"] for entry in gitops.app(app)["status"].get("history") or []]


def test_controller_restarted_between_a_sync_and_the_tick_records_the_sync_once(gitops: GitOps, fault_report) -> None:
    baseline, _ = tick(gitops, None)
    revision = gitops.commit_image("web", "registry.local/shop/web:1.0")
    gitops.create_app("web")
    app = gitops.argocd.wait_for_operation(gitops.app_namespace, "web", revision=revision)
    event_id = gitops.event_id(app, 0)

    gitops.argocd.kill(CONTROLLER)
    started = time.monotonic()
    gitops.argocd.start_again(CONTROLLER)
    restart_seconds = time.monotonic() - started
    # The restarted controller reconciles the app again (a full comparison): give it that cycle.
    gitops.argocd.refresh(gitops.app_namespace, "web")
    gitops.argocd.wait_for(gitops.app_namespace, "web", lambda a: (a.get("status") or {}).get("sync", {}).get(
        "status") == "Synced" and not (a.get("metadata", {}).get("annotations") or {}).get(
        "argocd.argoproj.io/refresh"), what="web compared after the restart")

    result, _ = tick(gitops, baseline.cursor)
    assert [r.run_key for r in mine(result, gitops)] == [f"post-sync:{event_id}"]
    assert set(gitops.events("web")) == {event_id} and _history_ids(gitops, "web") == [0]
    # The same tick again (Dagster retries a failed tick with its old cursor): the same run key,
    # which Dagster launches once; the next tick: nothing new.
    again, _ = tick(gitops, baseline.cursor)
    assert [r.run_key for r in mine(again, gitops)] == [f"post-sync:{event_id}"]
    quiet, _ = tick(gitops, result.cursor)
    assert mine(quiet, gitops) == [] and set(gitops.events("web")) == {event_id}
    fault_report(
        fault="Argo CD application controller SIGKILLed and restarted between a sync and the sensor's tick",
        expected="the sync recorded once, one snapshot run key, nothing new from the restart",
        observed=f"controller healthy again after {restart_seconds:.1f} s; 1 sync event ({event_id.rsplit('/', 1)[-1]}), "
                 f"run keys {len(mine(result, gitops))} (same key on a repeated tick), next tick 0 requests")


def test_redis_gone_degrades_argo_cd_and_c2c_records_only_real_syncs(gitops: GitOps, fault_report) -> None:
    baseline, _ = tick(gitops, None)
    first = gitops.commit_image("web", "registry.local/shop/web:1.0")
    gitops.create_app("web")
    app = gitops.argocd.wait_for_operation(gitops.app_namespace, "web", revision=first)
    synced, _ = tick(gitops, baseline.cursor)
    assert [r.run_key for r in mine(synced, gitops)] == [f"post-sync:{gitops.event_id(app, 0)}"]

    gitops.argocd.kill("redis")
    try:
        second = gitops.commit_image("web", "registry.local/shop/web:1.1")
        gitops.argocd.refresh(gitops.app_namespace, "web")
        # What Argo CD does without its cache: wait a while, then read what it wrote.
        time.sleep(20)
        during, _ = tick(gitops, synced.cursor)
        history = _history_ids(gitops, "web")
        # c2c records exactly the syncs in Argo CD's history, whatever it managed without Redis.
        assert set(gitops.events("web")) == {gitops.event_id(gitops.app("web"), i) for i in history}
        assert len(mine(during, gitops)) == len(history) - 1
    finally:
        gitops.argocd.start_again("redis")
    app = gitops.synced("web", second, timeout=120)
    after, _ = tick(gitops, during.cursor)
    history_after = _history_ids(gitops, "web")
    assert history_after == [0, 1]
    assert set(gitops.events("web")) == {gitops.event_id(app, i) for i in history_after}
    # The sync is requested once: in the tick during the outage if Argo CD synced then, else after.
    requested = [r.run_key for r in mine(during, gitops) + mine(after, gitops)]
    assert requested == [f"post-sync:{gitops.event_id(app, 1)}"]
    fault_report(
        fault="Argo CD's Redis SIGKILLed during a commit, restarted later",
        expected="c2c's ticks go on; only syncs Argo CD made are recorded, each once",
        observed=f"tick during the outage: {len(mine(during, gitops))} request(s), Argo CD history then {history}; "
                 f"after Redis returned: history {history_after}, 2 sync events, the new sync requested once")

