"""c2c's Prometheus metrics, as a pure function of what the store holds (``StoreState``).

Every series and its labels are declared here; ``k8s/base/metrics/README.md`` documents them and
their cardinality. Label sets are bounded by the clusters' own size: the per-container and per-pod
series grow with the containers and pods running now (as kube-state-metrics' do), the per-image
ones with the workload containers x digests running now, the event counters with workloads,
Argo CD apps and Jenkins jobs; every other label takes values from a fixed set (flag, phase,
state, build result, rollback, problem). The DORA gauges (``dora.py``) have one series per
delivery scope: app x cluster, cluster, app and everything.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from c2c_core.timeutil import parse_time
from c2c_dagster.documents.base import gc_paused
from c2c_dagster.documents.deployments import PodVersion, Replicas, Version, WorkloadVersion
from c2c_dagster.documents.traceability import TraceabilityRecord
from c2c_dagster.observability.dora import DEFAULT_WINDOW_DAYS, ScopeSummary, dora_families
from c2c_dagster.store.base import Group
from c2c_dagster.provenance.verify import STATES as PROVENANCE_STATES
from c2c_dagster.documents.traceability import Flag
from c2c_dagster.traceability.running_containers import TRACED_CONTAINER_TYPES

WORKLOAD = ("cluster", "namespace", "workload_kind", "workload")
IMAGE = (*WORKLOAD, "container", "image_digest")
POD_CONTAINER = (*WORKLOAD, "pod", "container")
REPLICA_STATES = ("desired", "current", "ready", "available", "updated")
#: The provenance label of a running image whose provenance was not checked.
NOT_CHECKED = "not_checked"
#: Seconds; Argo CD syncs take from seconds (a config change) to many minutes (hooks, big rollouts).
SYNC_DURATION_BUCKETS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


@dataclass
class StoreState:
    """What the exporter read from the store (and, optionally, Dagster) for one scrape, as the
    documents' models."""

    pods: list[PodVersion] = field(default_factory=list)  # open deployment-metadata versions, doc_type pod
    workloads: list[WorkloadVersion] = field(default_factory=list)  # ... doc_type workload
    records: list[TraceabilityRecord] = field(default_factory=list)  # traceability-metadata, running
    releases: list[Group] = field(default_factory=list)  # by cluster, namespace, workload_kind, workload_name, rollback
    syncs: list[Group] = field(default_factory=list)  # by cluster, app_namespace, app, phase
    sync_durations: list[tuple[str | None, str, float]] = field(default_factory=list)  # (cluster, app, seconds)
    builds: list[Group] = field(default_factory=list)  # by job_name, build_status
    builds_without_digest: int = 0
    open_problems: list[Group] = field(default_factory=list)  # ingest-problems, open, by source and kind
    snapshot_durations: dict[str, float] = field(default_factory=dict)  # cluster -> seconds (from Dagster)
    dora: list[ScopeSummary] = field(default_factory=list)  # delivery-metrics summaries of the window
    dora_window_days: int = DEFAULT_WINDOW_DAYS


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _epoch(value: Any) -> float | None:
    moment = parse_time(value)
    return None if moment is None else moment.timestamp()


def _workload_labels(doc: Version | TraceabilityRecord) -> list[str]:
    return [_s(doc.cluster), _s(doc.namespace), _s(doc.workload_kind), _s(doc.workload_name)]


def _app(namespace: Any, name: Any) -> str:
    return f"{namespace}/{name}" if namespace else _s(name)


def _record_key(record: TraceabilityRecord) -> tuple[str, ...]:
    return (*_workload_labels(record), _s(record.container_name), _s(record.image_digest))


def traceable(record: TraceabilityRecord) -> bool:
    return str(Flag.UNTRACEABLE) not in record.flags


def _head_commit(record: TraceabilityRecord | None) -> str:
    # A build's commits are newest first: the head of its commit range names the build's source.
    return record.commit_ids[0] if record is not None and record.commit_ids else ""


def image_families(records: Sequence[TraceabilityRecord]) -> list[Metric]:
    """Per running image (workload container x digest): pods, since when, flags; per cluster: counts."""
    pods = GaugeMetricFamily(
        "c2c_workload_image_pods", "Pods of a workload container running an image digest, with the build and "
        "head commit c2c traced it to.",
        labels=[*IMAGE, "image_tag", "build_id", "build_status", "commit", "argocd_app", "match_key", "traceable"])
    since = GaugeMetricFamily(
        "c2c_workload_image_since_timestamp_seconds", "When the digest was first seen running in the workload "
        "container (its release time).", labels=[*IMAGE, "traceable"])
    flags = GaugeMetricFamily("c2c_workload_image_flag", "1 for each flag a running image carries.",
                              labels=[*IMAGE, "flag"])
    provenance = GaugeMetricFamily("c2c_workload_image_provenance", "1 for a running image whose signed build "
                                   "provenance c2c checked, labelled with the outcome (verified, unsigned, invalid) "
                                   "and the image class (internal, external).",
                                   labels=[*IMAGE, "provenance", "image_class"])
    by_state: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys((*PROVENANCE_STATES, NOT_CHECKED), 0))
    per_cluster: dict[str, dict[str, int]] = defaultdict(lambda: {str(f): 0 for f in Flag})
    running: dict[str, int] = defaultdict(int)
    pending: dict[str, int] = defaultdict(int)
    for record in records:
        cluster = _s(record.cluster)
        per_cluster[cluster]  # noqa: B018 - every cluster reports its counts, zeros included
        if not record.image_digest:
            # Containers whose runtime has not reported a digest yet (still pulling): not an image
            # that runs, and judged only once the digest is known.
            pending[cluster] += len(record.pods)
            continue
        key = list(_record_key(record))
        yes = "true" if traceable(record) else "false"
        pods.add_metric([*key, _s(record.image_tag), _s(record.build_id), _s(record.build_status),
                         _head_commit(record), _s(record.argocd_app), _s(record.match_key), yes],
                        len(record.pods))
        started = _epoch(record.first_seen)
        if started is not None:
            since.add_metric([*key, yes], started)
        running[cluster] += 1
        state = record.provenance or NOT_CHECKED
        by_state[cluster][state] = by_state[cluster].get(state, 0) + 1
        if state != NOT_CHECKED:
            provenance.add_metric([*key, state, _s(record.image_class)], 1)
        for flag in record.flags:
            flags.add_metric([*key, flag], 1)
            per_cluster[cluster][flag] = per_cluster[cluster].get(flag, 0) + 1
    running_family = GaugeMetricFamily("c2c_running_images", "Running images (workload container x digest) "
                                       "per cluster: one traceability record each.", labels=["cluster"])
    flagged = GaugeMetricFamily("c2c_flagged_images", "Running images carrying each flag, per cluster "
                                "(0 when none).", labels=["cluster", "flag"])
    pending_family = GaugeMetricFamily("c2c_pending_containers", "Containers of running workloads whose image "
                                       "digest is not known yet (the image is still being pulled).",
                                       labels=["cluster"])
    provenance_family = GaugeMetricFamily("c2c_provenance_images", "Running images per cluster by provenance "
                                          "outcome: verified, unsigned, invalid, or not_checked (the image policy "
                                          "trusts no key, or the registry did not answer); 0 when none.",
                                          labels=["cluster", "provenance"])
    for cluster in sorted(per_cluster):
        running_family.add_metric([cluster], running[cluster])
        pending_family.add_metric([cluster], pending[cluster])
        for flag, count in sorted(per_cluster[cluster].items()):
            flagged.add_metric([cluster, flag], count)
        for state, count in by_state[cluster].items():
            provenance_family.add_metric([cluster, state], count)
    return [pods, since, flags, running_family, flagged, pending_family, provenance, provenance_family]


def runtime_families(pods: Sequence[PodVersion], workloads: Sequence[WorkloadVersion],
                     records: Sequence[TraceabilityRecord]) -> list[Metric]:
    """Per pod, per container and per workload, from the open versions of the cluster snapshots."""
    by_image = {_record_key(r): r for r in records}
    pod_info = GaugeMetricFamily("c2c_pod_info", "A pod c2c's last snapshot saw, with its node, phase and readiness.",
                                 labels=[*WORKLOAD, "pod", "node", "phase", "ready"])
    info = GaugeMetricFamily(
        "c2c_container_info", "A running container and what it runs: image_id is the runtime's imageID exactly as "
        "in status.containerStatuses[].imageID (kube-state-metrics' image_id), with the build and head commit.",
        labels=[*WORKLOAD, "pod", "node", "container", "image", "image_id", "image_digest", "build_id", "commit",
                "argocd_app", "traceable", "match_key"])
    restarts = CounterMetricFamily("c2c_container_restarts", "Restarts of a container of a pod running now "
                                   "(restartCount).", labels=list(POD_CONTAINER))
    states = GaugeMetricFamily("c2c_container_state", "A container's state (running, waiting, terminated) and its "
                               "reason.", labels=[*POD_CONTAINER, "state", "reason"])
    for pod in pods:
        base = _workload_labels(pod)
        name, node = _s(pod.pod_name), _s(pod.nodeName)
        pod_info.add_metric([*base, name, node, _s(pod.phase), "true" if pod.ready else "false"], 1)
        for container in pod.containers:
            if container.type not in TRACED_CONTAINER_TYPES:
                continue
            cname, state = _s(container.name), _s(container.state) or "unknown"
            restarts.add_metric([*base, name, cname], int(container.restartCount or 0))
            # A completed init container is how a pod starts, not a problem to show.
            if not (container.type == "init" and state == "terminated" and container.reason == "Completed"):
                states.add_metric([*base, name, cname, state, _s(container.reason)], 1)
            if state != "running":
                continue
            record = by_image.get((*base, cname, _s(container.image_digest)))
            info.add_metric([*base, name, node, cname, _s(container.image), _s(container.imageID),
                             _s(container.image_digest), _s(record.build_id if record else None), _head_commit(record),
                             _s((record.argocd_app if record else None) or pod.argocd_app),
                             ("true" if traceable(record) else "false") if record else "",
                             _s(record.match_key if record else None)], 1)
    replicas = GaugeMetricFamily("c2c_workload_replicas", "Replicas of a Deployment, StatefulSet or DaemonSet by "
                                 "state, as of the last snapshot.", labels=[*WORKLOAD, "state"])
    complete = GaugeMetricFamily("c2c_workload_rollout_complete", "1 when the workload's rollout is complete, 0 "
                                 "while in progress.", labels=list(WORKLOAD))
    for workload in workloads:
        base = _workload_labels(workload)
        for state, count in zip(REPLICA_STATES, _replica_counts(workload.replicas), strict=True):
            replicas.add_metric([*base, state], int(count or 0))
        complete.add_metric(base, 1 if workload.rollout_complete else 0)
    return [pod_info, info, restarts, states, replicas, complete]


def _replica_counts(replicas: Replicas | None) -> tuple[int | None, ...]:
    """The counts in REPLICA_STATES' order."""
    r = replicas or Replicas()
    return r.desired, r.current, r.ready, r.available, r.updated


def snapshot_families(docs: Iterable[Version], durations: Mapping[str, float]) -> tuple[list[Metric], int]:
    """When each cluster was last seen and how long its last snapshot took; and how many open
    versions came from a partial snapshot."""
    newest: dict[str, float] = {}
    partial: int = 0
    for doc in docs:
        seen = _epoch(doc.last_seen)
        cluster = _s(doc.cluster)
        if seen is not None and seen > newest.get(cluster, 0):
            newest[cluster] = seen
        partial += bool(doc.partial)
    timestamp = GaugeMetricFamily("c2c_snapshot_timestamp_seconds", "When c2c last saw the cluster (the newest "
                                  "snapshot that touched it).", labels=["cluster"])
    for cluster, seen in sorted(newest.items()):
        timestamp.add_metric([cluster], seen)
    duration = GaugeMetricFamily("c2c_snapshot_duration_seconds", "Wall time of the cluster's last "
                                 "deployment_snapshots run (from the Dagster instance).", labels=["cluster"])
    for cluster, seconds in sorted(durations.items()):
        duration.add_metric([cluster], seconds)
    return [timestamp, duration], partial


def event_families(state: StoreState) -> tuple[list[Metric], int]:
    """Counters and last-seen times of release events, Argo CD syncs and Jenkins builds; and how
    many syncs went to a cluster c2c does not read."""
    releases = CounterMetricFamily("c2c_releases", "Release events (changes of a workload's running digest); "
                                   "rollback=true for returns to an earlier digest.", labels=[*WORKLOAD, "rollback"])
    last_release = GaugeMetricFamily("c2c_last_release_timestamp_seconds", "When the workload's newest release "
                                     "(or rollback) started running.", labels=[*WORKLOAD, "rollback"])
    for group in state.releases:
        labels = [_s(v) for v in group.key]
        releases.add_metric(labels, group.count)
        if group.latest.get("at") is not None:
            last_release.add_metric(labels, group.latest["at"])
    syncs = CounterMetricFamily("c2c_argocd_syncs", "Finished Argo CD syncs by outcome (phase).",
                                labels=["cluster", "app", "phase"])
    last_sync = GaugeMetricFamily("c2c_argocd_last_sync_timestamp_seconds", "When the app's newest sync of that "
                                  "outcome finished.", labels=["cluster", "app", "phase"])
    unknown_destination = 0
    for group in state.syncs:
        cluster, app_namespace, app, phase = group.key
        unknown_destination += group.count if cluster is None else 0
        labels = [_s(cluster), _app(app_namespace, app), _s(phase)]
        syncs.add_metric(labels, group.count)
        if group.latest.get("finished_at") is not None:
            last_sync.add_metric(labels, group.latest["finished_at"])
    # jenkins_job, not job: Prometheus' own job label names the scrape job.
    builds = CounterMetricFamily("c2c_builds", "Finished Jenkins builds c2c ingested, by job and result.",
                                 labels=["jenkins_job", "status"])
    last_build = GaugeMetricFamily("c2c_last_build_timestamp_seconds", "When the job's newest build of that "
                                   "result started.", labels=["jenkins_job", "status"])
    for group in state.builds:
        labels = [_s(v) for v in group.key]
        builds.add_metric(labels, group.count)
        if group.latest.get("timestamp") is not None:
            last_build.add_metric(labels, group.latest["timestamp"])
    return [releases, last_release, syncs, last_sync, _sync_histogram(state.sync_durations), builds,
            last_build], unknown_destination


def _sync_histogram(durations: Iterable[tuple[str | None, str, float]]) -> Metric:
    per_app: dict[tuple[str, str], list[float]] = defaultdict(list)
    for cluster, app, seconds in durations:
        per_app[(_s(cluster), app)].append(seconds)
    histogram = HistogramMetricFamily("c2c_argocd_sync_duration_seconds", "Duration of finished Argo CD syncs "
                                      "(finishedAt - startedAt): deployment duration.", labels=["cluster", "app"])
    for (cluster, app), values in sorted(per_app.items()):
        buckets = [(str(bound), sum(1 for v in values if v <= bound)) for bound in SYNC_DURATION_BUCKETS]
        histogram.add_metric([cluster, app], [*buckets, ("+Inf", len(values))], sum(values))
    return histogram


def families(state: StoreState) -> list[Metric]:
    """Every c2c series for one scrape (the exporter adds its own health series)."""
    # A scrape makes ~10^5 samples and label dicts that hold no cycles, beside the state's ~10^4
    # document models: the cyclic GC would walk them all again and again and free nothing.
    # Measured on 5,000 pods, 1,000 workloads and 2,000 records (embedded store), reading the
    # state and making the families: 0.62-0.65 s of CPU with it paused, 0.77-0.78 s without
    # (and 0.62-0.65 s when the state was dicts, the GC running).
    with gc_paused():
        return _families(state)


def _families(state: StoreState) -> list[Metric]:
    snapshot, partial = snapshot_families([*state.pods, *state.workloads], state.snapshot_durations)
    events, unknown_destination = event_families(state)
    problems = GaugeMetricFamily("c2c_ingest_problem_documents", "Documents c2c stored with a known ingest "
                                 "problem, by source: Jenkins builds without a valid build-metadata.json "
                                 "(digest unknown), Argo CD syncs to a cluster c2c does not read, open versions "
                                 "from a partial (RBAC-limited) snapshot, and the open entries of ingest-problems "
                                 "(jobs or folders an ingestion could not read, by kind).", labels=["source", "problem"])
    problems.add_metric(["jenkins", "digest_missing"], state.builds_without_digest)
    problems.add_metric(["argocd", "unknown_destination"], unknown_destination)
    problems.add_metric(["kubernetes", "partial_snapshot"], partial)
    for group in state.open_problems:
        source, kind = (_s(v) for v in group.key)
        problems.add_metric([source, kind], group.count)
    return [*image_families(state.records), *runtime_families(state.pods, state.workloads, state.records),
            *snapshot, *events, problems, *dora_families(state.dora, state.dora_window_days)]
