"""``dead_run_sensor``: marks failed the started runs whose process is gone (``dead_runs.py``).

It stands aside unless the instance runs its runs as local processes (Dagster's
DefaultRunLauncher): then the code server that evaluates this sensor is the one that launched
them, on the same host, and /proc answers for them. Launchers that check their workers
(K8sRunLauncher: the run's Job) are covered by Dagster's run monitoring
(``run_monitoring.poll_interval_seconds`` in k8s/base/dagster.yaml).
"""

from __future__ import annotations

import dagster as dg

from c2c_dagster.runs.dead_runs import process_gone, run_process
from c2c_dagster.settings import DEFAULTS, Settings

# How often started runs are checked (C2C_DEAD_RUN_SENSOR_INTERVAL_SECONDS, default 15): with the
# daemon's restart, it bounds how long a dead run holds its cluster's queue (README "When a run dies").
SENSOR_INTERVAL_SECONDS = DEFAULTS.dead_run_sensor_interval_seconds


def dead_runs_message(pid: int) -> str:
    return (f"c2c dead_run_sensor: the run's process (pid {pid}) is gone (killed, OOM, host restart) and the "
            "run never finished; marked failed so that its cluster's queued runs can start. The next scan "
            "or automation tick writes what this run did not.")


def launcher_name(instance: dg.DagsterInstance) -> str:
    """The class of the instance's run launcher, read from its configuration rather than by
    building it: a K8sRunLauncher built in the code server would load a kubeconfig there."""
    try:
        data = instance.get_ref().run_launcher_data
    except Exception:  # noqa: BLE001 - an ephemeral instance has no ref; its launcher is cheap
        return type(instance.run_launcher).__name__
    return data.class_name if data is not None else "DefaultRunLauncher"


def dead_run_tick(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    instance = context.instance
    launcher = launcher_name(instance)
    if launcher != "DefaultRunLauncher":
        return dg.SkipReason(f"runs are launched by {launcher}: Dagster's run monitoring checks their workers")
    failed = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        run = record.dagster_run
        process = run_process(run.run_id, instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT))
        if process is None or not process_gone(process):
            continue
        # Read again: the run may have finished between the query and the check.
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.status != dg.DagsterRunStatus.STARTED:
            continue
        instance.report_run_failed(current, dead_runs_message(process.pid))
        context.log.warning(f"run {run.run_id} ({run.job_name}, tags {run.tags.get('dagster/partition')}): "
                            f"process {process.pid} gone; marked failed")
        failed.append(run.run_id)
    return dg.SkipReason(f"marked failed: {', '.join(failed)}" if failed else "every started run's process is alive")


def build_dead_run_sensor(settings: Settings) -> dg.SensorDefinition:
    """The sensor at ``settings``' interval."""
    return dg.sensor(
        name="dead_run_sensor",
        minimum_interval_seconds=settings.dead_run_sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Marks failed the runs left STARTED by a process that died (local run launcher only).",
    )(dead_run_tick)


# The defaults' sensor; the code location's is ``build_dead_run_sensor(its settings)``.
dead_run_sensor = build_dead_run_sensor(DEFAULTS)
