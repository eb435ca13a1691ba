"""dead_run_sensor checks runs only where they are local processes: with Dagster's DefaultRunLauncher
it looks at the started runs, with the K8s run launcher (whose workers Dagster's run monitoring
checks) it stands aside without building the launcher. The kill itself is proved end to end in
c2c_dagster_tests/faults/test_daemon_faults.py."""

from __future__ import annotations

import dagster as dg

from c2c_dagster.runs.sensors import dead_run_sensor, launcher_name

K8S_LAUNCHER = {"module": "dagster_k8s", "class": "K8sRunLauncher",
                "config": {"job_namespace": "c2c", "load_incluster_config": True,
                           "instance_config_map": "c2c-dagster-instance", "service_account_name": "c2c-collector"}}


def test_with_the_default_launcher_it_checks_the_started_runs(tmp_path) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        assert launcher_name(instance) == "DefaultRunLauncher"
        result = dead_run_sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(result, dg.SkipReason) and "alive" in result.skip_message


def test_with_the_k8s_launcher_it_stands_aside_for_run_monitoring(tmp_path) -> None:
    # No cluster here: building the K8sRunLauncher would fail to load its in-cluster config.
    with dg.instance_for_test(temp_dir=str(tmp_path), overrides={"run_launcher": K8S_LAUNCHER}) as instance:
        assert launcher_name(instance) == "K8sRunLauncher"
        result = dead_run_sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(result, dg.SkipReason) and "run monitoring" in result.skip_message
