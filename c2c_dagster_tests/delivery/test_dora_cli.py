"""``c2c dora --json`` as a subprocess prints the known truth delivery_metrics stored, on both stores,
and what a ``dagster asset materialize`` backfill of a range stored in the real OpenSearch node;
nothing matching, a bad query and an unreachable store exit 1, 2 and 3."""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

from c2c_dagster.delivery.policy import build_policy
from c2c_dagster.delivery.refresh import refresh_days
from c2c_dagster.store import DELIVERY_METRICS, MetadataStore, OpenSearchStore
from c2c_dagster_tests.delivery.history import PRODUCTION, write_history
from c2c_devstack.services import REPO_ROOT, free_port
from c2c_devstack.services.dagster import environ_without_store, venv_bin

H = 3600.0
PERIOD = ["--since", "2026-03-02", "--until", "2026-03-05"]


def store_env(store: MetadataStore) -> dict[str, str]:
    if isinstance(store, OpenSearchStore):
        return {"C2C_OPENSEARCH_URL": store.url, "C2C_INDEX_PREFIX": store.index_prefix, "C2C_OPENSEARCH_REPLICAS": "0"}
    return {"C2C_STORE_PATH": str(store.path)}


def dora_in(env: dict[str, str]):
    def dora(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([venv_bin("c2c"), "dora", *args], capture_output=True, text=True, env=env, timeout=120)
    return dora


def test_dora_json_answers_the_known_truth(store: MetadataStore) -> None:
    write_history(store)
    refresh_days(store, build_policy(production_clusters=["prod*"]), datetime(2026, 2, 28, tzinfo=UTC),
                 datetime(2026, 3, 6, tzinfo=UTC))
    dora = dora_in({**environ_without_store(), **store_env(store)})

    done = dora("--json", *PERIOD)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    # Derivations in test_known_truth.py: 11 deployments on 4 observed days; lead times 20m 30m 1h
    # 1h 2h 3h 24h 7d (median 1.5 h, p90 67.2 h); 2 of 11 failed; recoveries 3 h and 2 h.
    assert (answer["deployment_frequency"]["deployments"], answer["deployment_frequency"]["per_day"]) == (11, 2.75)
    assert (answer["lead_time"]["median_seconds"], answer["lead_time"]["p90_seconds"]) == (1.5 * H, 67.2 * H)
    assert answer["change_failure_rate"]["rate"] == 2 / 11
    # The 03-04 17:00 sync that failed before applying anything: an attempt, apart from the rate.
    assert answer["change_failure_rate"]["failed_sync_attempts"] == 1
    assert answer["recovery_time"]["median_seconds"] == 2.5 * H
    assert {key: answer[key]["band"] for key in ("deployment_frequency", "lead_time", "change_failure_rate",
                                                   "recovery_time")} == {
        "deployment_frequency": "elite", "lead_time": "elite", "change_failure_rate": "low", "recovery_time": "high"}
    assert [(a["app"], a["deployment_frequency"]["deployments"]) for a in answer["apps"]] == [
        ("argocd/shop", 7), ("infra/proxy", 1), ("pay/api", 3)]

    shop = json.loads(dora("--json", "--app", "argocd/shop", *PERIOD).stdout)
    # argocd/shop across clusters: lead times 20m 30m 1h 2h 3h 24h (prod-eu's c12, c11b went out
    # in prod before): median 1.5 h; p90 at rank 4.5: 3 h + 0.5 * 21 h = 13.5 h. 2 of 7 failed.
    assert (shop["lead_time"]["commits"], shop["lead_time"]["p90_seconds"]) == (6, 13.5 * H)
    assert shop["change_failure_rate"]["rate"] == 2 / 7 and "apps" not in shop

    text = dora("--cluster", "prod", "--since", "2026-02-28", "--until", "2026-03-05")
    assert text.returncode == 0
    assert "cluster prod, every app; 2026-02-28 to 2026-03-05 (5 of 6 days observed)" in text.stdout
    assert "10 deployments, 2.00 a day" in text.stdout and "[elite]" in text.stdout
    assert "failed sync attempts that applied nothing: 1" in text.stdout

    staging = dora("--cluster", "staging", *PERIOD)  # not production: never stored
    assert staging.returncode == 1 and "nothing matches --cluster staging" in staging.stderr
    bad = dora("--since", "last tuesday")
    assert bad.returncode == 2 and "--since 'last tuesday'" in bad.stderr


def test_a_dagster_cli_backfill_of_a_range_stores_what_c2c_dora_reads(opensearch_service, tmp_path: Path) -> None:
    store = OpenSearchStore(opensearch_service.url, index_prefix=f"d{uuid.uuid4().hex[:8]}-", number_of_replicas=0)
    write_history(store)
    env = {**environ_without_store(), **store_env(store), **PRODUCTION, "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text("")
    backfill = subprocess.run(
        [venv_bin("dagster"), "asset", "materialize", "-m", "c2c_dagster.definitions", "--select", "delivery_metrics",
         "--partition-range", "2026-02-28...2026-03-05"],
        capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=300)
    assert backfill.returncode == 0, backfill.stderr[-3000:]
    assert store.count(DELIVERY_METRICS.name) == 31  # test_asset.py counts them
    answer = json.loads(dora_in(env)("--json", *PERIOD).stdout)
    assert (answer["deployment_frequency"]["deployments"], answer["lead_time"]["median_seconds"]) == (11, 1.5 * H)
    store.close()


def test_an_unreachable_store_exits_3_naming_it() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run([venv_bin("c2c"), "dora"], capture_output=True, text=True, timeout=120,
                          env={**environ_without_store(), "C2C_OPENSEARCH_URL": url})
    assert done.returncode == 3 and url in done.stderr and "unreachable" in done.stderr
