"""The pure computation's rules, each on the smallest history that shows it: deployments folded per
workload, the failure window's edges, which deployment a sync blames, recovery chains, one commit
once per scope (and the step that picks it, ``first_releases``, on its own), an app's first scan,
percentiles equal between the asset (numpy) and ``c2c dora`` (pure Python)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from c2c_dagster.delivery.bands import (
    failure_rate_band,
    frequency_band,
    lead_time_band,
    percentile,
    recovery_band,
)
from c2c_dagster.delivery.metrics import (
    COMMIT_COLUMNS,
    RAN_COLUMNS,
    RELEASE_COLUMNS,
    SYNC_COLUMNS,
    DeliveryInputs,
    _Codes,
    _Commits,
    delivery_metrics,
    earliest_first_scan,
    first_releases,
    frame,
    grouped_percentiles,
)
from c2c_dagster.delivery.policy import DeliveryPolicy

DAY0 = datetime(2026, 3, 2, tzinfo=UTC)


def at(hours: float) -> str:
    return (DAY0 + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def release(event_id: str, hours: float, *, workload: str = "Deployment/web", app: str = "argocd/shop",
            cluster: str = "prod", **flags: bool) -> dict:
    return {"event_id": event_id, "cluster": cluster, "namespace": "shop", "workload": workload, "app": app,
            "at": at(hours), "rollback": flags.get("rollback", False), "fix": flags.get("fix", False),
            "traceable": flags.get("traceable", True), "external": flags.get("external", False)}


def run(releases: list[dict], *, commits: list[dict] = (), syncs: list[dict] = (), ran: list[dict] = (),
        days: int = 5, policy: DeliveryPolicy = DeliveryPolicy()) -> dict[str, dict]:
    inputs = DeliveryInputs(frame(releases, RELEASE_COLUMNS), frame(list(commits), COMMIT_COLUMNS),
                            frame(list(syncs), SYNC_COLUMNS), frame(list(ran), RAN_COLUMNS))
    result = delivery_metrics(inputs, DAY0, DAY0 + timedelta(days=days), policy)
    return {r.row_id: r.to_document() for r in result.rows}  # the documents as stored


def test_containers_of_one_rollout_are_one_deployment_and_workloads_are_not_merged() -> None:
    rows = run([release("web-app", 1), release("web-sidecar", 1, external=True), release("worker", 1, workload="Deployment/worker")])
    row = rows["cluster_app/prod/argocd/shop/2026-03-02"]
    assert (row["deployments"], row["external_deployments"]) == (2, 0)


def test_a_rollback_marks_the_deployment_it_replaces_failed_up_to_the_window_edge() -> None:
    inside = run([release("a", 0), release("b", 24, rollback=True)])  # exactly one day later
    outside = run([release("a", 0), release("b", 24 + 1 / 3600, rollback=True)])  # one second more
    assert inside["cluster_app/prod/argocd/shop/2026-03-02"]["failed_deployments"] == 1
    assert outside["cluster_app/prod/argocd/shop/2026-03-02"]["failed_deployments"] == 0
    # The rollback itself is a deployment, and it restored the failed one after 24 hours.
    assert inside["cluster_app/prod/argocd/shop/2026-03-03"]["recovery_seconds"] == [86400.0]


def test_a_failed_sync_blames_each_workloads_current_deployment_only() -> None:
    releases = [release("web-1", 0), release("web-2", 2), release("worker-1", 1, workload="Deployment/worker"),
                release("other", 2, app="argocd/other", workload="Deployment/other")]
    # Finished 10 minutes before web-2's first pod started: within the tolerance, it rolled web-2 out.
    syncs = [{"cluster": "prod", "app": "argocd/shop", "finished_at": at(2 - 10 / 60), "signal": "sync_failed"}]
    rows = run(releases, syncs=syncs)
    failures = rows["all/*/*/2026-03-02"]["failures"]
    assert [f["deployment"] for f in failures] == ["prod/shop/Deployment/worker@2026-03-02T01:00:00Z",
                                                   "prod/shop/Deployment/web@2026-03-02T02:00:00Z"]
    assert rows["cluster_app/prod/argocd/other/2026-03-02"]["failed_deployments"] == 0  # another app
    assert rows["all/*/*/2026-03-02"]["failed_deployments"] == 2  # web-1 was already replaced


def test_a_sync_of_the_app_in_another_cluster_blames_nothing_here() -> None:
    syncs = [{"cluster": "prod-eu", "app": "argocd/shop", "finished_at": at(1), "signal": "sync_degraded"}]
    assert run([release("web-1", 0)], syncs=syncs)["all/*/*/2026-03-02"]["failed_deployments"] == 0


def test_consecutive_failures_each_recover_at_the_first_good_deployment() -> None:
    # a (fails: replaced by a fix) -> b (the fix, fails: rolled back) -> c (rollback, good).
    rows = run([release("a", 0), release("b", 1, fix=True), release("c", 3, rollback=True)])
    row = rows["cluster_app/prod/argocd/shop/2026-03-02"]
    assert (row["deployments"], row["failed_deployments"]) == (3, 2)
    assert row["recovery_seconds"] == [7200.0, 10800.0]  # b: 3h-1h, a: 3h-0h


def test_an_open_failure_has_no_recovery_time_yet() -> None:
    syncs = [{"cluster": "prod", "app": "argocd/shop", "finished_at": at(1), "signal": "sync_degraded"}]
    row = run([release("a", 0)], syncs=syncs)["cluster_app/prod/argocd/shop/2026-03-02"]
    assert (row["failed_deployments"], row["recovery_count"]) == (1, 0)


def test_a_commit_counts_once_per_scope_at_its_first_release() -> None:
    releases = [release("a", 2), release("b", 26), release("c", 30, cluster="prod-eu"),
                release("d", 5, app="ns/api", workload="Deployment/api")]
    commits = [{"event_id": "a", "commit_id": "c1", "committed_at": at(0)},
               {"event_id": "b", "commit_id": "c1", "committed_at": at(0)},  # shipped again
               {"event_id": "b", "commit_id": "c2", "committed_at": at(25)},
               {"event_id": "c", "commit_id": "c1", "committed_at": at(0)},  # first time in prod-eu
               {"event_id": "d", "commit_id": "c2", "committed_at": at(25)},  # before its commit time
               {"event_id": "d", "commit_id": "c3", "committed_at": None}]
    # c2 already ran in prod's argocd/shop before the range (a release earlier, or the first scan).
    ran = [{"cluster": "prod", "app": "argocd/shop", "commit_id": "c2", "since": at(-30)},
           # a's own digest: its record runs since a, which is no reason to skip a's commits
           {"cluster": "prod", "app": "argocd/shop", "commit_id": "c1", "since": at(2)}]
    rows = run(releases, commits=commits, ran=ran)
    assert rows["cluster_app/prod/argocd/shop/2026-03-02"]["lead_time_seconds"] == [7200.0]
    # b shipped c1 again (first released by a) and c2 (ran before the range): nothing new.
    assert rows["cluster_app/prod/argocd/shop/2026-03-03"]["lead_time_count"] == 0
    assert rows["cluster_app/prod-eu/argocd/shop/2026-03-03"]["lead_time_seconds"] == [30 * 3600.0]
    assert rows["app/*/argocd/shop/2026-03-03"]["lead_time_count"] == 0  # both went out on 03-02 or before
    # A commit time after the release (a skewed clock) and none at all: left out, counted.
    assert rows["cluster_app/prod/ns/api/2026-03-02"]["commits_without_time"] == 2
    assert rows["all/*/*/2026-03-02"]["lead_time_commits"] == ["c1"]


def commit_runs(runs: list[tuple[int, int, str, float, bool]]) -> tuple[_Codes, _Commits]:
    """(cluster code, app code, commit id, hours after DAY0, ran before) per row: two clusters, two apps."""
    ids = sorted({commit for _, _, commit, _, _ in runs})
    codes = _Codes(clusters=np.array(["prod", "prod-eu"], dtype=object), apps=np.array(["a", "b"], dtype=object),
                   first_day=0, days=1)
    commits = _Commits(
        cluster=np.array([c for c, *_ in runs], np.int64), app=np.array([a for _, a, *_ in runs], np.int64),
        commit=np.array([ids.index(commit) for _, _, commit, _, _ in runs], np.int64),
        at=np.array([int((DAY0 + timedelta(hours=h)).timestamp()) * 10**9 for *_, h, _ in runs], np.int64),
        seconds=np.full(len(runs), 60.0), ran_before=np.array([r for *_, r in runs], bool),
        ids=np.array(ids, dtype=object))
    return codes, commits


def chosen(scope: str, runs: list[tuple[int, int, str, float, bool]], *, from_hour: float = 0) -> list[int]:
    codes, commits = commit_runs(runs)
    start, end = DAY0 + timedelta(hours=from_hour), DAY0 + timedelta(days=5)
    return sorted(first_releases(scope, codes, commits, int(start.timestamp()) * 10**9,
                                 int(end.timestamp()) * 10**9).tolist())


def test_a_commit_counts_once_per_scope_at_its_first_release_there() -> None:
    # c1 goes out in prod/a, then prod-eu/a, then prod/b; c2 once, in prod-eu/b.
    runs = [(0, 0, "c1", 1, False), (1, 0, "c1", 2, False), (0, 1, "c1", 3, False), (1, 1, "c2", 1, False)]
    assert chosen("cluster_app", runs) == [0, 1, 2, 3]
    assert chosen("cluster", runs) == [0, 1, 3]  # prod/b is not new to prod
    assert chosen("app", runs) == [0, 2, 3]  # prod-eu/a is not new to app a
    assert chosen("all", runs) == [0, 3]


def test_a_commit_that_ran_before_is_not_new_unless_the_release_is_that_run() -> None:
    earlier = [(0, 0, "c1", 0, True), (0, 0, "c1", 2, False)]  # ran at the first scan, released again later
    assert chosen("cluster_app", earlier) == []
    assert chosen("cluster_app", [(0, 0, "c1", 2, True), (0, 0, "c1", 2, False)]) == [1]  # a tie: the release
    assert chosen("cluster_app", [(1, 0, "c1", 0, True), (0, 0, "c1", 2, False)]) == [1]  # ran elsewhere only
    assert chosen("app", [(1, 0, "c1", 0, True), (0, 0, "c1", 2, False)]) == []


def test_a_release_before_the_range_keeps_its_commit_from_counting_later() -> None:
    runs = [(0, 0, "c1", 1, False), (0, 0, "c1", 30, False), (0, 0, "c2", 30, False)]
    assert chosen("cluster_app", runs, from_hour=24) == [2]


def test_an_apps_rows_are_observed_from_the_earliest_first_scan_of_its_clusters() -> None:
    observed = {"prod": "2026-03-01T08:00:00Z", "prod-eu": "2026-02-01T08:00:00Z"}
    assert earliest_first_scan([["prod", "prod-eu", "prod"], ["prod"], ["staging"], []], observed) == [
        "2026-02-01T08:00:00Z", "2026-03-01T08:00:00Z", None, None]


def test_percentiles_agree_between_numpy_and_pure_python() -> None:
    assert (percentile([1, 2, 3, 10], 0.5), percentile([1, 2, 3, 10], 0.9)) == (2.5, 7.9)
    assert percentile([], 0.5) is None and percentile([4], 0.9) == 4
    rng = random.Random(12)
    groups = [sorted(rng.randrange(0, 10**7) for _ in range(rng.randrange(1, 40))) for _ in range(300)]
    codes = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    values = np.array([v for g in groups for v in g], dtype=float)
    median, p90 = grouped_percentiles(codes, values, len(groups), (0.5, 0.9))
    assert median.tolist() == [percentile(g, 0.5) for g in groups]
    assert p90.tolist() == [percentile(g, 0.9) for g in groups]


@pytest.mark.parametrize(("value", "band"), [(2.0, "elite"), (1.0, "elite"), (1 / 7, "high"), (1 / 30, "medium"),
                                             (1 / 31, "low")])
def test_frequency_bands(value: float, band: str) -> None:
    assert frequency_band(value) == band


def test_the_other_bands_at_their_edges() -> None:
    day, hour = 86400.0, 3600.0
    assert [lead_time_band(s) for s in (day - 1, day, 7 * day, 30 * day)] == ["elite", "high", "medium", "low"]
    assert [failure_rate_band(r) for r in (0.05, 0.1, 0.15, 0.151)] == ["elite", "high", "medium", "low"]
    assert [recovery_band(s) for s in (hour - 1, hour, day, 7 * day)] == ["elite", "high", "medium", "low"]
    assert lead_time_band(None) is None and failure_rate_band(None) is None
