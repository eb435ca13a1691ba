"""c2c's configuration is one ``Settings``: a bad value is refused naming the variable, its value and
what is allowed; two different settings build two different code locations in one process (no module
reloaded, none reads the environment when imported); the README's table is the settings' own; and
``c2c config`` shows every value with its source, secrets masked. Nothing here is emulated: the
command is the installed ``c2c``, the definitions are Dagster's own."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from c2c_dagster.definitions import build_definitions
from c2c_dagster.settings import VARS, Settings, SettingsError, configuration_table, with_table
from c2c_devstack.services.dagster import venv_bin

REPO = Path(__file__).resolve().parents[1]
SECRET = "c2c-recognisable-s3cret"


@pytest.mark.parametrize(("variable", "value", "allowed"), [
    ("C2C_RETENTION_DAYS", "1y", "want a whole number of days, 1 to 36500"),
    ("C2C_RETENTION_DAYS", "9" * 40, "want a whole number of days, 1 to 36500"),
    ("C2C_OPENSEARCH_REPLICAS", "-1", "want a whole number of replicas, at least 0"),
    ("C2C_JENKINS_HISTORY_START", "2019/01/01", "want a day in YYYY-MM-DD form"),
    ("C2C_DELIVERY_HISTORY_START", "20200101", "want a day in YYYY-MM-DD form"),
    ("C2C_SCAN_CRON", "every ten minutes", "want a cron expression of five fields"),
    ("C2C_K8S_IN_CLUSTER", "maybe", "want true or false"),
    ("C2C_OPENSEARCH_VERIFY_CERTS", "nope", "want true or false"),
    ("C2C_METRICS_PORT", "99999", "want a TCP port, 1 to 65535"),
    ("C2C_ARGOCD_SENSOR_INTERVAL_SECONDS", "0", "want a whole number of seconds, at least 1"),
    ("C2C_DORA_FAILURE_WINDOW", "soon", "not a duration like 90s, 25m, 2h or 3d"),
    ("C2C_DORA_FIX_MESSAGES", "(", "not a regular expression"),
    ("C2C_FRESHNESS_DELIVERY_METRICS", "1h/45m", "the warn window must be shorter than the fail window"),
    ("C2C_GRAFANA_URL", "grafana:3000", "want an http:// or https:// URL"),
])
def test_a_bad_value_names_the_variable_its_value_and_what_is_allowed(variable: str, value: str, allowed: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})
    assert f"{variable}={value!r}: " in str(caught.value) and allowed in str(caught.value)


def test_every_bad_value_is_reported_at_once_and_a_secret_never_echoed() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"C2C_RETENTION_DAYS": "0", "C2C_METRICS_PORT": "http", "C2C_JENKINS_API_TOKEN": SECRET})
    assert "C2C_RETENTION_DAYS='0'" in str(caught.value) and "C2C_METRICS_PORT='http'" in str(caught.value)
    settings = Settings.from_env({"C2C_OPENSEARCH_PASSWORD": SECRET, "C2C_JENKINS_API_TOKEN": SECRET,
                                  "C2C_REGISTRY_PASSWORD": SECRET})
    assert SECRET not in repr(settings) and SECRET not in str(settings)
    assert settings.opensearch_password is not None and settings.opensearch_password.get_secret_value() == SECRET


def test_unset_or_blank_takes_the_default_and_the_source_says_so() -> None:
    settings = Settings.from_env({"C2C_SCAN_CRON": "  ", "C2C_CLUSTER_NAME": "prod-eu", "C2C_RETENTION_DAYS": " 400 "})
    assert settings.scan_cron == "*/10 * * * *" and settings.source("scan_cron") == "default"
    assert settings.cluster_name == "prod-eu" and settings.source("cluster_name") == "env"
    assert settings.retention_days == 400
    assert all(var.env.startswith("C2C_") or var.env == "DAGSTER_HOME" for var in VARS.values())


def test_two_settings_build_two_code_locations_in_one_process(tmp_path: Path) -> None:
    clusters = tmp_path / "clusters.yaml"
    clusters.write_text("- {name: prod-eu}\n- {name: prod-us}\n")
    default = build_definitions(Settings.from_env({}))
    custom = build_definitions(Settings.from_env({
        "C2C_JENKINS_HISTORY_START": "2004-07-01", "C2C_DELIVERY_HISTORY_START": "2024-02-29",
        "C2C_K8S_CLUSTERS_FILE": str(clusters), "C2C_SCAN_CRON": "*/5 * * * *", "C2C_JENKINS_URL": "http://jenkins:8080",
        "C2C_ARGOCD_SENSOR_INTERVAL_SECONDS": "30", "C2C_RETENTION_DAYS": "90", "C2C_DORA_FAILURE_WINDOW": "3d",
        "C2C_FRESHNESS_CI_BUILDS": "2h/4h", "C2C_DEAD_RUN_SENSOR_INTERVAL_SECONDS": "60",
        "C2C_AUTOMATION_INTERVAL_SECONDS": "5",
    }))

    def first_day(defs: dg.Definitions, asset: str) -> str:
        return defs.resolve_assets_def(asset).partitions_def.get_first_partition_key()

    assert (first_day(default, "ci_builds"), first_day(custom, "ci_builds")) == ("2010-01-01", "2004-07-01")
    assert (first_day(default, "delivery_metrics"), first_day(custom, "delivery_metrics")) == ("2020-01-01", "2024-02-29")
    for asset in ("deployment_snapshots", "traceability_records"):
        assert default.resolve_assets_def(asset).partitions_def.get_partition_keys() == ["default"]
        assert custom.resolve_assets_def(asset).partitions_def.get_partition_keys() == ["prod-eu", "prod-us"]

    graph = custom.resolve_asset_graph()
    assert graph.get(dg.AssetKey("ci_builds")).freshness_policy.warn_window.to_timedelta() == timedelta(hours=2)
    assert default.resolve_asset_graph().get(dg.AssetKey("ci_builds")).freshness_policy.warn_window.to_timedelta() \
        == timedelta(days=1)
    # The delivery automation looks back over the failure window's days plus today: 1d -> 2 days, 3d -> 4.
    assert "days=2" in repr(default.resolve_assets_def("delivery_metrics").automation_conditions_by_key)
    assert "days=4" in repr(custom.resolve_assets_def("delivery_metrics").automation_conditions_by_key)

    scan = (default.resolve_schedule_def("cluster_scan_schedule"), custom.resolve_schedule_def("cluster_scan_schedule"))
    assert [s.cron_schedule for s in scan] == ["*/10 * * * *", "*/5 * * * *"]
    assert [s.default_status for s in scan] == [dg.DefaultScheduleStatus.STOPPED, dg.DefaultScheduleStatus.RUNNING]
    retention = [d.resolve_schedule_def("store_retention_schedule").default_status for d in (default, custom)]
    assert retention == [dg.DefaultScheduleStatus.STOPPED, dg.DefaultScheduleStatus.RUNNING]
    argocd = [d.resolve_sensor_def("argocd_sync_sensor") for d in (default, custom)]
    assert [s.minimum_interval_seconds for s in argocd] == [4, 30]
    assert [s.default_status for s in argocd] == [dg.DefaultSensorStatus.STOPPED, dg.DefaultSensorStatus.RUNNING]
    assert [d.resolve_sensor_def("dead_run_sensor").minimum_interval_seconds for d in (default, custom)] == [15, 60]
    for name in ("traceability_automation", "delivery_automation"):  # Dagster's default 30 s unless set
        assert [d.resolve_sensor_def(name).minimum_interval_seconds for d in (default, custom)] == [30, 5]
    jenkins = [d.resolve_sensor_def("jenkins_build_sensor").default_status for d in (default, custom)]
    assert jenkins == [dg.DefaultSensorStatus.STOPPED, dg.DefaultSensorStatus.RUNNING]
    # Both validate as whole code locations (every job, asset selection and partition mapping resolves).
    for defs in (default, custom):
        dg.Definitions.validate_loadable(defs)


def test_no_module_reads_the_environment_when_imported() -> None:
    # A bad value: every module still imports (none reads it), and the code location refuses it by name.
    env = {"PATH": "/usr/bin:/bin", "C2C_SCAN_CRON": "bad", "C2C_RETENTION_DAYS": "soon"}
    modules = sorted(
        ".".join(path.relative_to(REPO).with_suffix("").parts) for path in (REPO / "c2c_dagster").rglob("*.py")
        if path.name not in ("__init__.py", "__main__.py") and path.stem != "definitions"
    )
    code = "import importlib, sys\nfor name in sys.argv[1:]: importlib.import_module(name)\nprint('imported')"
    imported = subprocess.run([sys.executable, "-W", "ignore", "-c", code, *modules], env=env, capture_output=True,
                              text=True, timeout=300)
    assert imported.returncode == 0, imported.stderr[-2000:]
    loaded = subprocess.run([sys.executable, "-W", "ignore", "-c", "import c2c_dagster.definitions"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert loaded.returncode != 0
    assert "C2C_SCAN_CRON='bad'" in loaded.stderr and "C2C_RETENTION_DAYS='soon'" in loaded.stderr


def test_the_readme_table_is_generated_from_the_settings() -> None:
    readme = (REPO / "README.md").read_text()
    assert configuration_table() in readme
    assert with_table(readme) == readme, "README's table is stale: run python -m c2c_dagster.settings README.md"
    for var in VARS.values():
        assert f"| `{var.env}` |" in readme


def test_c2c_config_prints_every_setting_with_its_source_and_masks_secrets(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "C2C_OPENSEARCH_URL": "https://opensearch.example:9200",
           "C2C_OPENSEARCH_USER": "c2c_reader", "C2C_OPENSEARCH_PASSWORD": SECRET, "C2C_JENKINS_API_TOKEN": SECRET,
           "C2C_REGISTRY_PASSWORD": SECRET, "C2C_SCAN_CRON": "*/5 * * * *"}
    shown = subprocess.run([venv_bin("c2c"), "config"], env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert SECRET not in shown.stdout + shown.stderr
    rows = {line.split()[0]: line.split()[1:] for line in shown.stdout.splitlines()}
    assert set(rows) == {var.env for var in VARS.values()}
    assert rows["C2C_OPENSEARCH_PASSWORD"] == ["env", "********"]
    assert rows["C2C_JENKINS_API_TOKEN"] == ["env", "********"]
    assert rows["C2C_OPENSEARCH_USER"] == ["env", "c2c_reader"]
    assert rows["C2C_SCAN_CRON"] == ["env", "*/5", "*", "*", "*", "*"]
    assert rows["C2C_CLUSTER_NAME"] == ["default", "default"]
    assert rows["C2C_OPENSEARCH_REPLICAS"] == ["default", "1"]
    refused = subprocess.run([venv_bin("c2c"), "config"], env={**env, "C2C_METRICS_PORT": "http"},
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "C2C_METRICS_PORT='http': want a TCP port" in refused.stderr
