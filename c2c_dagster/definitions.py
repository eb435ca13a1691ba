"""The c2c code location: what Dagster loads (``workspace.yaml`` points here).

Resources are wired from the environment once, here; assets, sensors and schedules live in
their domain packages and are merged in as they land.
"""

import dagster as dg

from c2c_dagster.jenkins.assets import ci_builds
from c2c_dagster.jenkins.resources import jenkins_resource_from_env
from c2c_dagster.jenkins.sensors import jenkins_build_sensor
from c2c_dagster.store import store_resource_from_env

defs = dg.Definitions(
    assets=[ci_builds],
    sensors=[jenkins_build_sensor],
    resources={
        # OpenSearch when C2C_OPENSEARCH_URL is set, else the embedded SQLite store.
        "store": store_resource_from_env(),
        # C2C_JENKINS_URL/_USER/_API_TOKEN as EnvVars: resolved in the run worker, never shown in the UI.
        "jenkins": jenkins_resource_from_env(),
    },
)
