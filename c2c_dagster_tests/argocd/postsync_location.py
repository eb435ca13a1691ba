"""The ``c2c`` code location as the PostSync hook test serves it: the real ``deployment_snapshots``.

``c2c_dagster/definitions.py`` is wired separately; this location holds just the asset the hook
launches, ``argocd_sync_sensor`` (so a wrong sensor target fails the load) with
``traceability_records``, which its post-sync runs include, and the resources they need, from
the environment (the test sets ``C2C_CLUSTER_NAME`` so the partition exists).
No daemon runs: the hook's runs are only queued, the sensor never ticks there.
"""

import dagster as dg

from c2c_dagster.argocd.sensors import argocd_sync_sensor
from c2c_dagster.cluster.resources import kubernetes_resource_from_env
from c2c_dagster.kubernetes.assets import deployment_snapshots
from c2c_dagster.registry.resources import registry_resource_from_env
from c2c_dagster.store import store_resource_from_env
from c2c_dagster.traceability.assets import traceability_records
from c2c_dagster.traceability.resources import image_policy_resource_from_env

defs = dg.Definitions(
    assets=[deployment_snapshots, traceability_records],
    sensors=[argocd_sync_sensor],
    resources={"kubernetes": kubernetes_resource_from_env(), "store": store_resource_from_env(),
               "registry": registry_resource_from_env(), "image_policy": image_policy_resource_from_env()},
)
