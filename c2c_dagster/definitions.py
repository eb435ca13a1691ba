"""The c2c code location: what Dagster loads (``workspace.yaml`` points here).

Resources are wired from the environment once, here; assets, sensors and schedules live in
their domain packages and are merged in as they land.
"""

import dagster as dg

from c2c_dagster.store import store_resource_from_env

defs = dg.Definitions(
    resources={
        # OpenSearch when C2C_OPENSEARCH_URL is set, else the embedded SQLite store.
        "store": store_resource_from_env(),
    },
)
