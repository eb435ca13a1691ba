"""c2c's Prometheus rules and configuration pass the real promtool (check and unit tests), every
alert has a firing and a quiet unit test, every recording rule is tested, and a real Prometheus
loads them all."""

from __future__ import annotations

import pytest
import yaml

from c2c_devstack.services import REPO_ROOT
from c2c_devstack.services.prometheus import promtool

pytestmark = pytest.mark.prometheus

PROMETHEUS_DIR = REPO_ROOT / "k8s" / "base" / "metrics" / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.rules.yml"))
TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.test.yml"))


def _rules(kind: str) -> list[str]:
    return [rule[kind] for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"] if kind in rule]


def _unit_tests() -> list[dict]:
    return [test for path in TEST_FILES for test in yaml.safe_load(path.read_text())["tests"]]


def test_the_rule_files_pass_promtool_check() -> None:
    assert RULE_FILES and TEST_FILES
    done = promtool("check", "rules", *map(str, RULE_FILES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(RULE_FILES)


def test_the_rule_unit_tests_pass_promtool_test() -> None:
    done = promtool("test", "rules", *map(str, TEST_FILES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(TEST_FILES), done.stdout


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    alerts = _rules("alert")
    assert sorted(alerts) == sorted([
        "C2CChangeFailureRateHigh", "C2CClusterSnapshotStale", "C2CDigestMismatch", "C2CFailedBuildDeployed", "C2CProvenanceInvalid",
        "C2CRollback",
        "C2CStoreUnreachable", "C2CUntraceableWorkloadRunning",
    ])
    cases = [case for test in _unit_tests() for case in test.get("alert_rule_test", [])]
    for alert in alerts:
        mine = [case for case in cases if case["alertname"] == alert]
        assert any(case["exp_alerts"] for case in mine), f"{alert}: no unit test where it fires"
        assert any(not case["exp_alerts"] for case in mine), f"{alert}: no unit test where it stays quiet"


def test_every_recording_rule_is_unit_tested() -> None:
    tested = {case["expr"].strip() for test in _unit_tests() for case in test.get("promql_expr_test", [])}
    for record in _rules("record"):
        assert record in tested, f"recording rule {record} has no promql_expr_test"


def test_the_shipped_prometheus_configuration_passes_promtool_check() -> None:
    done = promtool("check", "config", "prometheus.yml", cwd=PROMETHEUS_DIR)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid prometheus config file syntax" in done.stdout + done.stderr


def test_a_real_prometheus_loads_every_rule(prometheus_service) -> None:
    prometheus_service.configure(rule_files=RULE_FILES)
    groups = prometheus_service.api("rules")["groups"]
    loaded = {rule["name"]: rule for group in groups for rule in group["rules"]}
    assert set(loaded) == set(_rules("alert")) | set(_rules("record"))
    assert all(rule["health"] != "err" for rule in loaded.values()), loaded

