"""The four keys of a generated history (``history.py``) computed by hand must come out exactly, on the
embedded store and on the real OpenSearch node; re-runs and backfills of any shape write the same rows."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from c2c_dagster.delivery.policy import build_policy
from c2c_dagster.delivery.refresh import refresh_days
from c2c_dagster.delivery.summary import Period, summarize
from c2c_dagster.documents.delivery import DeliveryMetricsRow
from c2c_dagster.store import DELIVERY_METRICS, MetadataStore
from c2c_dagster_tests.delivery.history import sha, write_history

H = 3600.0
POLICY = build_policy(production_clusters=["prod*"])
START, END = datetime(2026, 2, 28, tzinfo=UTC), datetime(2026, 3, 6, tzinfo=UTC)


def rows(store: MetadataStore) -> dict[str, dict]:
    return {r["row_id"]: r for r in store.list_range(DELIVERY_METRICS.name, limit=10_000)}


def typed(documents: list[dict]) -> list[DeliveryMetricsRow]:
    """The stored rows as ``c2c dora`` reads them."""
    return DeliveryMetricsRow.from_documents(documents)


@pytest.fixture
def history(store: MetadataStore) -> MetadataStore:
    write_history(store)
    refresh_days(store, POLICY, START, END)
    return store


def test_each_key_per_app_cluster_and_day_matches_the_hand_computation(history: MetadataStore) -> None:
    got = rows(history)
    shop = {day: got[f"cluster_app/prod/argocd/shop/2026-03-0{day}"] for day in (2, 3, 4)}

    # 03-02: D1 (web; its envoy sidecar's new external digest in the same rollout is not a second
    # deployment) and D2 (worker). staging got web-11 an hour earlier: not production, not counted.
    assert (shop[2]["deployments"], shop[2]["failed_deployments"], shop[2]["change_failure_rate"]) == (2, 0, 0.0)
    assert shop[2]["workloads"] == ["shop/Deployment/web", "shop/Deployment/worker"]
    # Lead times: cw5 10:00-09:00 = 1 h; c11b 10:00-08:00 = 2 h; c11a 03-02 10:00 - 03-01 10:00 = 24 h.
    # web-11 also lists c10, which web-10 ran before prod's first scan: in production already.
    assert shop[2]["lead_time_seconds"] == [1 * H, 2 * H, 24 * H]
    assert shop[2]["lead_time_commits"] == [sha("cw5"), sha("c11b"), sha("c11a")]
    # median of (1, 2, 24) h = 2 h; p90 at rank (3-1)*0.9 = 1.8: 2 h + 0.8 * (24 h - 2 h) = 19.6 h.
    assert (shop[2]["lead_time_median_seconds"], shop[2]["lead_time_p90_seconds"]) == (2 * H, 19.6 * H)

    # 03-03: D4 (web-12) and D5 (its rollback). D4 failed: rolled back 3 h later, and the 11:00 sync
    # failed while D4 was web's current deployment; two signals, one failed deployment: CFR 1/2.
    # The failed sync does not blame worker's D2: 03-02 10:00 + 1 day < 03-03 11:00.
    assert (shop[3]["deployments"], shop[3]["rollbacks"], shop[3]["failed_deployments"]) == (2, 1, 1)
    assert shop[3]["change_failure_rate"] == 0.5
    assert shop[3]["failures"] == [{"deployment": "prod/shop/Deployment/web@2026-03-03T09:00:00Z",
                                    "signals": ["rolled_back", "sync_failed"]}]
    # c12: 09:00 - 06:00 = 3 h. c11b is in web-12 too but went out with D1: counted once, then.
    # The rollback D5 brings c11a and c11b back: already released, nothing new.
    assert shop[3]["lead_time_seconds"] == [3 * H] and shop[3]["lead_time_commits"] == [sha("c12")]
    # D5 restored D4: 12:00 - 09:00 = 3 h, on the day of D5.
    assert shop[3]["recovery_seconds"] == [3 * H]
    assert shop[3]["recovered_deployments"] == ["prod/shop/Deployment/web@2026-03-03T09:00:00Z"]

    # 03-04: D7 (worker-6) failed: degraded 5 min later and replaced within the window by the fix
    # release D8 (branch hotfix/queue), which restored it 2 h later. The degraded sync does not
    # blame web's D5 (03-03 12:00 + 1 day < 03-04 14:05).
    assert (shop[4]["deployments"], shop[4]["fix_deployments"], shop[4]["failed_deployments"]) == (2, 1, 1)
    assert shop[4]["failures"][0]["signals"] == ["fix_release", "sync_degraded"]
    # cw7: 16:00 - 15:40 = 20 min; cw6: 14:00 - 13:30 = 30 min. Median 25 min; p90 20 + 0.9*10 = 29 min.
    assert shop[4]["lead_time_seconds"] == [1200.0, 1800.0]
    assert (shop[4]["lead_time_median_seconds"], shop[4]["lead_time_p90_seconds"]) == (1500.0, 1740.0)
    assert (shop[4]["recovery_seconds"], shop[4]["recovery_median_seconds"]) == ([2 * H], 2 * H)

    api = got["cluster_app/prod/pay/api/2026-03-05"]
    # D9 runs a digest no build produced: a deployment without lead time. D11's api-8 took ca8 (no
    # commit time recorded) and ca8b: 12:00 - 11:00 = 1 h.
    assert (api["deployments"], api["untraceable_deployments"], api["failed_deployments"]) == (2, 1, 0)
    assert (api["lead_time_seconds"], api["commits_without_time"]) == ([H], 1)
    proxy = got["cluster_app/prod/infra/proxy/2026-03-05"]
    # A third-party image's new digest: a deployment, never a lead time.
    assert (proxy["deployments"], proxy["external_deployments"], proxy["lead_time_count"]) == (1, 1, 0)
    assert got["cluster_app/prod/pay/api/2026-03-04"]["lead_time_seconds"] == [7 * 24 * H]  # ca7: 7 days

    # prod-eu's first release of web-12: c12 03-05 09:00 - 03-03 06:00 = 51 h; c11b - 03-02 08:00 = 73 h.
    eu = got["cluster_app/prod-eu/argocd/shop/2026-03-05"]
    assert eu["lead_time_seconds"] == [51 * H, 73 * H] and eu["lead_time_median_seconds"] == 62 * H
    # Across clusters both went to production earlier (prod, 03-02 and 03-03): not counted again.
    across = got["app/*/argocd/shop/2026-03-05"]
    assert (across["deployments"], across["lead_time_count"]) == (1, 0)

    assert not [r for r in got.values() if r["cluster"] == "staging"]


def test_clusters_and_days_before_their_first_scan(history: MetadataStore) -> None:
    got = rows(history)
    # prod was first scanned 03-01 08:00: no row before that day, zero rows on quiet days after.
    assert "cluster/prod/*/2026-02-28" not in got
    assert got["cluster/prod/*/2026-03-01"]["deployments"] == 0
    assert got["cluster/prod/*/2026-03-01"]["observed_since"] == "2026-03-01T08:00:00Z"
    # prod-eu was first scanned 02-01, before the days asked: every day is observed.
    assert [got[f"cluster/prod-eu/*/2026-0{d}"]["deployments"] for d in ("2-28", "3-01", "3-02", "3-03", "3-04", "3-05")] \
        == [0, 0, 0, 0, 0, 1]
    # The workloads already running at prod's first scan are no deployments: 03-01 counts none,
    # and 03-02 only the two real changes.
    assert got["cluster/prod/*/2026-03-02"]["deployments"] == 2
    # Every cluster: 03-04 has D6, D7, D8; lead times cw7 20 min, cw6 30 min, ca7 7 days: median
    # 30 min; p90 at rank 1.8: 1800 + 0.8 * (604800 - 1800) = 484200 s.
    everything = got["all/*/*/2026-03-04"]
    assert (everything["deployments"], everything["failed_deployments"]) == (3, 1)
    assert (everything["lead_time_median_seconds"], everything["lead_time_p90_seconds"]) == (1800.0, 484200.0)
    assert got["all/*/*/2026-03-05"]["deployments"] == 4  # D9, D10, D11 in prod, D12 in prod-eu


def test_the_period_figures_and_their_bands(history: MetadataStore) -> None:
    period = Period(date(2026, 3, 2), date(2026, 3, 5))
    everything = summarize(typed([r for r in rows(history).values() if r["scope"] == "all"]), period)
    # 11 deployments (D1, D2, D4-D12) over 4 observed days: 2.75 a day, elite.
    assert everything["deployment_frequency"] == {
        "deployments": 11, "per_day": 2.75, "per_week": 19.25, "rollbacks": 1, "fix_deployments": 1,
        "untraceable_deployments": 1, "external_deployments": 1, "band": "elite"}
    # Lead times (each commit once, first release anywhere): 20m 30m 1h 1h 2h 3h 24h 7d. Median
    # (1 h + 2 h) / 2 = 1.5 h (elite); p90 at rank 6.3: 24 h + 0.3 * (168 h - 24 h) = 67.2 h.
    assert everything["lead_time"] == {"commits": 8, "median_seconds": 1.5 * H, "p90_seconds": 67.2 * H,
                                       "commits_without_time": 1, "band": "elite"}
    # D4 and D7 failed out of 11: 18.2 %, low (over 15 %).
    assert everything["change_failure_rate"]["rate"] == 2 / 11
    assert everything["change_failure_rate"]["band"] == "low"
    # Recoveries 3 h and 2 h: median 2.5 h, high (under a day).
    assert everything["recovery_time"] == {"recoveries": 2, "median_seconds": 2.5 * H,
                                           "p90_seconds": 2 * H + 0.9 * H, "band": "high"}

    prod = summarize(typed([r for r in rows(history).values() if r["scope"] == "cluster" and r["cluster"] == "prod"]),
                     Period(date(2026, 2, 28), date(2026, 3, 5)))
    # Asked from 02-28, but prod was first scanned 03-01: 10 deployments over 5 observed days.
    assert (prod["period"]["days"], prod["period"]["days_observed"]) == (6, 5)
    assert prod["deployment_frequency"]["per_day"] == 2.0


def test_a_backfill_day_by_day_and_a_rerun_write_the_same_rows(store: MetadataStore) -> None:
    write_history(store)
    days = [datetime(2026, 2, 28, tzinfo=UTC), *(datetime(2026, 3, d, tzinfo=UTC) for d in range(1, 7))]
    for first, after in reversed(list(zip(days, days[1:]))):  # one day at a time, newest first
        refresh_days(store, POLICY, first, after)
    one_by_one = rows(store)
    again = refresh_days(store, POLICY, START, END)
    assert rows(store) == one_by_one  # the whole range at once: identical documents
    assert (again.written, again.deleted) == (len(one_by_one), 0)
    refresh_days(store, POLICY, START, END)
    assert rows(store) == one_by_one and store.count(DELIVERY_METRICS.name) == len(one_by_one)


def test_rows_no_longer_produced_are_removed(history: MetadataStore) -> None:
    only_prod = build_policy(production_clusters=["prod"])
    result = refresh_days(history, only_prod, START, END)
    got = rows(history)
    assert not [r for r in got if "prod-eu" in r]
    # Gone: prod-eu's 6 cluster days and its one app day; "every cluster" on 02-28 (only prod-eu
    # was observed then); argocd/shop across clusters on 03-05 (its only deployment was D12).
    assert result.deleted == 9
    assert "all/*/*/2026-02-28" not in got and "app/*/argocd/shop/2026-03-05" not in got
    assert got["all/*/*/2026-03-05"]["deployments"] == 3


def _cart_history(store: MetadataStore) -> dict[str, str]:
    """prod's cart workload (Argo CD app argocd/cart), first scanned 03-01 08:00 running cart-1:

    * R  03-02 10:00 cart-1 -> cart-2 (build cart/main-2, branch main): the release;
    * RB 03-02 12:00 cart-2 -> cart-1: rolled back 2 h later (the digest ran there before);
    * HF 03-02 20:00 cart-1 -> cart-3 (build cart/hotfix-3, branch hotfix/cart): the hotfix, 8 h
      after the rollback;
    * 03-03 09:00 a sync of argocd/cart ends Error before applying anything (manifest generation
      failed: no syncResult), while HF is the current deployment, inside its 1-day window.
    """
    from c2c_dagster.store import ARGOCD_SYNC_EVENTS, CI_BUILD_METADATA, DEPLOYMENT_METADATA, RELEASE_EVENTS
    from c2c_dagster_tests.delivery.history import digest, sync

    builds = {n: {"build_id": f"cart/{branch}-{n}", "job_name": f"cart/{branch}", "build_number": n,
                  "branch": "hotfix/cart" if branch == "hotfix" else "main",
                  "image_name": "registry.example.com/shop/cart", "image_tag": f"cart-{n}",
                  "image_digest": digest(f"cart-{n}"), "build_status": "SUCCESS", "timestamp": "2026-03-01T00:00:00Z",
                  "commits": [{"commit_id": sha(f"cart-{n}"), "author": "Ada", "email": "ada@example.com",
                               "message": f"cart {n}"}]}
              for n, branch in ((1, "main"), (2, "main"), (3, "hotfix"))}
    store.upsert(CI_BUILD_METADATA.name, list(builds.values()))
    store.upsert(DEPLOYMENT_METADATA.name, [{
        "doc_id": "prod/workload/Deployment/cart/cart@2026-03-01T08:00:00Z", "doc_type": "workload", "cluster": "prod",
        "namespace": "cart", "workload": "Deployment/cart/cart", "workload_kind": "Deployment", "workload_name": "cart",
        "snapshot_time": "2026-03-01T08:00:00Z", "first_seen": "2026-03-01T08:00:00Z", "last_seen": "2026-03-06T00:00:00Z"}])

    def release(at: str, old: int, new: int, *, rollback: bool = False) -> dict:
        return {"event_id": f"prod/cart/Deployment/cart/cart/{at}", "cluster": "prod", "namespace": "cart",
                "workload_kind": "Deployment", "workload_name": "cart", "container_name": "cart", "at": at,
                "from_digest": digest(f"cart-{old}"), "to_digest": digest(f"cart-{new}"),
                "from_build_id": builds[old]["build_id"], "to_build_id": builds[new]["build_id"],
                "to_commit_ids": [sha(f"cart-{new}")], "rollback": rollback, "argocd_app": "argocd/cart"}

    store.upsert(RELEASE_EVENTS.name, [release("2026-03-02T10:00:00Z", 1, 2), release("2026-03-02T12:00:00Z", 2, 1, rollback=True),
                                       release("2026-03-02T20:00:00Z", 1, 3)])
    store.upsert(ARGOCD_SYNC_EVENTS.name, [sync("prod", "argocd/cart", "2026-03-03T09:00:00Z", "Error", "Healthy")])
    refresh_days(store, POLICY, START, END)
    return {"release": "prod/cart/Deployment/cart@2026-03-02T10:00:00Z",
            "rollback": "prod/cart/Deployment/cart@2026-03-02T12:00:00Z",
            "hotfix": "prod/cart/Deployment/cart@2026-03-02T20:00:00Z"}


def test_a_rollback_restores_service_and_the_hotfix_after_it_fails_nothing(store: MetadataStore) -> None:
    ids = _cart_history(store)
    day = rows(store)["cluster_app/prod/argocd/cart/2026-03-02"]
    # Three deployments: R, RB, HF. Only R failed: rolled back within the window. The rollback is
    # the remediation: the hotfix after it does not make it a failed deployment (DORA: a failure
    # needs remediation; the rollback was it). HF is no failure either: nothing undid it.
    assert (day["deployments"], day["rollbacks"], day["fix_deployments"], day["failed_deployments"]) == (3, 1, 1, 1)
    assert day["failures"] == [{"deployment": ids["release"], "signals": ["rolled_back"]}]
    assert day["change_failure_rate"] == 1 / 3
    # Service was restored by the rollback: 12:00 - 10:00 = 2 h, not the 10 h to the hotfix.
    assert (day["recovered_deployments"], day["recovery_seconds"]) == ([ids["release"]], [2 * H])
    period = summarize(typed([r for r in rows(store).values() if r["scope"] == "cluster_app" and r["app"] == "argocd/cart"]),
                       Period(date(2026, 3, 2), date(2026, 3, 3)))
    assert (period["change_failure_rate"]["failed_deployments"], period["recovery_time"]["median_seconds"]) == (1, 2 * H)


def test_a_failed_sync_that_applied_nothing_is_an_attempt_not_a_failed_deployment(store: MetadataStore) -> None:
    ids = _cart_history(store)
    got = rows(store)
    # 03-03 09:00: HF (03-02 20:00) was current and inside its 1-day window, but the sync applied
    # nothing: HF keeps running unharmed. No deployment that day; one failed sync attempt.
    attempt_day = got["cluster_app/prod/argocd/cart/2026-03-03"]
    assert (attempt_day["deployments"], attempt_day["failed_deployments"], attempt_day["failed_sync_attempts"]) == (0, 0, 1)
    assert ids["hotfix"] not in [f["deployment"] for r in got.values() for f in r["failures"]]
    # It counts in every scope of its app and day, never in the rate.
    assert got["cluster/prod/*/2026-03-03"]["failed_sync_attempts"] == 1
    assert got["all/*/*/2026-03-03"]["change_failure_rate"] is None
    period = summarize(typed([r for r in got.values() if r["scope"] == "cluster_app" and r["app"] == "argocd/cart"]),
                       Period(date(2026, 3, 2), date(2026, 3, 3)))
    assert period["change_failure_rate"]["failed_sync_attempts"] == 1
    assert period["change_failure_rate"]["rate"] == 1 / 3  # R of R, RB, HF


def test_the_shared_historys_attempt_and_applied_failed_sync(history: MetadataStore) -> None:
    got = rows(history)
    # 03-04 17:00 Error before applying anything: D8 (worker-7, 16:00) stays a good deployment and
    # the day shows one attempt; the 03-03 11:00 sync applied a ConfigMap: it still fails D4.
    shop = got["cluster_app/prod/argocd/shop/2026-03-04"]
    assert (shop["failed_deployments"], shop["failed_sync_attempts"]) == (1, 1)
    assert [f["deployment"] for f in shop["failures"]] == ["prod/shop/Deployment/worker@2026-03-04T14:00:00Z"]
    assert got["cluster_app/prod/argocd/shop/2026-03-03"]["failures"][0]["signals"] == ["rolled_back", "sync_failed"]
    assert got["cluster_app/prod/argocd/shop/2026-03-03"]["failed_sync_attempts"] == 0
