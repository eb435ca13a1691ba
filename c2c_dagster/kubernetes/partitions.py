"""deployment_snapshots is partitioned by cluster: one partition per configured cluster name.

Why by cluster and not by time: a snapshot is "the state of cluster X now", never a re-readable
past window (a cluster cannot be asked what ran yesterday), so time partitions would promise
backfills that cannot exist. Per cluster, each cluster's runs, failures, retries and freshness
are tracked on their own (one unreachable cluster does not fail or hide the others), and the
Argo CD sensor targets exactly the cluster an app deploys to. The names come from the settings
when the code location is built (``clusters_from_settings``), the same list the
``KubernetesResource`` is built from.
"""

import dagster as dg

from c2c_dagster.cluster.resources import clusters_from_settings
from c2c_dagster.settings import DEFAULTS, Settings


def cluster_partitions_for(settings: Settings) -> dg.StaticPartitionsDefinition:
    return dg.StaticPartitionsDefinition([cluster.name for cluster in clusters_from_settings(settings)])


# The defaults' one cluster; the code location's are ``cluster_partitions_for(its settings)``.
cluster_partitions = cluster_partitions_for(DEFAULTS)
