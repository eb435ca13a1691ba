"""The datasources c2c's dashboards read: Prometheus, and one OpenSearch datasource per c2c index.

The OpenSearch datasource plugin (``grafana-opensearch-datasource``) has one index and one time
field per datasource, and c2c's indices keep time in different fields, so each index is its own
datasource. This module is the one home of their names, uids, indices and time fields: the
dashboards, the provisioning file and the tests all read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

OPENSEARCH_PLUGIN = "grafana-opensearch-datasource"
OPENSEARCH_PLUGIN_NAME = "OpenSearch"
PROMETHEUS_PLUGIN = "prometheus"


@dataclass(frozen=True)
class Source:
    """One datasource as the dashboards see it: a datasource template variable ``var`` whose
    default is the import-time input ``input`` (``__inputs``), filtered to datasources whose name
    matches ``regex``."""

    var: str
    input: str
    plugin: str
    plugin_name: str
    label: str
    description: str
    regex: str = ""

    @property
    def ref(self) -> dict[str, str]:
        """How panels and queries name it: through the datasource variable."""
        return {"type": self.plugin, "uid": f"${{{self.var}}}"}


@dataclass(frozen=True)
class IndexSource(Source):
    """An OpenSearch datasource over one c2c index."""

    index: str = ""
    time_field: str = ""
    uid: str = ""  # the provisioned datasource's uid

    @property
    def name(self) -> str:
        return f"c2c {self.index}"


PROMETHEUS = Source(
    var="prometheus", input="DS_PROMETHEUS", plugin=PROMETHEUS_PLUGIN, plugin_name="Prometheus",
    label="Prometheus", description="The Prometheus that scrapes `c2c metrics serve` (and the kubelets)",
)


def _index(var: str, index: str, time_field: str, what: str) -> IndexSource:
    return IndexSource(
        var=var, input=f"DS_C2C_{index.upper().replace('-', '_')}", plugin=OPENSEARCH_PLUGIN,
        plugin_name=OPENSEARCH_PLUGIN_NAME, label=f"c2c {index}",
        description=f"OpenSearch datasource over c2c's {index} index ({what}; time field {time_field})",
        regex=f"/{index}/", index=index, time_field=time_field, uid=f"c2c-{index}",
    )


BUILDS = _index("ds_builds", "ci-build-metadata", "timestamp", "one document per Jenkins build")
# A deployment-metadata document is one version of a workload or pod, valid from first_seen to
# until/last_seen: filtering on last_seen keeps every version still seen inside the range.
DEPLOYMENTS = _index("ds_deployments", "deployment-metadata", "last_seen", "versions of workloads and pods")
# One document per cluster: the last full, complete scan. An open version first seen before it was
# seen, unchanged, at its scanned_at (c2c_dagster/kubernetes/history.py): the scan rewrote none.
WATERMARKS = _index("ds_watermarks", "scan-watermarks", "scanned_at",
                    "one per cluster: the last full, complete scan, which open versions were seen at")
TRACEABILITY = _index("ds_traceability", "traceability-metadata", "updated_at",
                      "one record per workload container and running digest")
SYNCS = _index("ds_syncs", "argocd-sync-events", "finished_at", "every finished Argo CD sync")
RELEASES = _index("ds_releases", "release-events", "at", "every change of a workload's running digest")
PROBLEMS = _index("ds_problems", "ingest-problems", "last_seen",
                  "what an ingestion could not read: a Jenkins job or folder, open until no longer seen")
DELIVERY = _index("ds_delivery", "delivery-metrics", "day",
                  "DORA's four keys per scope (cluster and app) and day, from delivery_metrics")

INDEX_SOURCES: tuple[IndexSource, ...] = (BUILDS, DEPLOYMENTS, WATERMARKS, TRACEABILITY, SYNCS, RELEASES, PROBLEMS, DELIVERY)
ALL_SOURCES: tuple[Source, ...] = (PROMETHEUS, *INDEX_SOURCES)
