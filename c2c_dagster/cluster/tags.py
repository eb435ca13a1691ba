"""The run tag naming the cluster a run works on: the scan schedule, the Argo CD sensor and the
PostSync hook set it, so runs can be filtered by cluster and, in a Dagster instance shared with
other code locations, limited to one per cluster (k8s/base/dagster.yaml)."""

CLUSTER_TAG = "c2c/cluster"
