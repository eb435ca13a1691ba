"""Every query of every panel and every template variable of c2c's dashboards, sent as Grafana and
its datasources would send it (c2c_devstack.grafana_requests documents the translation), returns the known
numbers of a scenario built by c2c's real code on the real services (scenario.py): OpenSearch
panels from the real OpenSearch node, Prometheus panels from a real Prometheus scraping
`c2c metrics serve` and kwok's emulated kubelet resource metrics, with c2c's recording rules
loaded. Then what each panel shows, computed by Grafana's own @grafana/data from those answers
shaped into the datasources' frames (display.py, frames.py; Grafana's server and the OpenSearch
plugin's binary are not available, their frame shaping is ported), is the scenario's truth, and the
previews are drawn from it. Also: the exporter's image_id equals the imageID the API server reports (the
kube-state-metrics join), and the alerts the scenario should raise are raised by that Prometheus."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from c2c_core.timeutil import parse_time
from c2c_dagster import dagster_ui as ui
from c2c_dagster.documents.traceability import Flag
from c2c_devstack import grafana_requests as g
from c2c_dagster_tests.observability import display, previews
from c2c_dagster_tests.observability.scenario import (
    CLUSTER,
    MIB,
    Scenario,
    build_scenario,
    scrape_configs,
    start_exporter,
)
from c2c_dagster_tests.observability.test_dashboards import BOARDS
from c2c_dagster_tests.observability.test_prometheus_rules import RULE_FILES
from c2c_devstack.emulators.jenkins import JenkinsEmulator

pytestmark = [pytest.mark.opensearch, pytest.mark.kubernetes, pytest.mark.registry, pytest.mark.prometheus]

SCRAPE_INTERVAL_S = 1.0
GRAFANA_URL = "https://grafana.example.com"
# Prometheus panels read a few scrapes (rates need two samples, a range query's last step may
# start before the first scrape): each dashboard's panels are retried until they agree or this passes.
SETTLE_SECONDS = 150


@pytest.fixture(scope="module")
def metrics_cluster(tmp_path_factory) -> Iterator[Any]:
    """A control plane of its own whose kwok also emulates the kubelets' resource metrics (the
    session's shared cluster runs kwok without them: they change its timing for other tests)."""
    from c2c_devstack.services import kubernetes

    cluster = kubernetes.start(tmp_path_factory.mktemp("k8s-metrics"), resource_metrics=True)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def world(metrics_cluster, oci_registry, opensearch_service, prometheus_service,
          tmp_path_factory) -> Iterator[tuple[Scenario, g.Datasources, Any, Any]]:
    workdir = tmp_path_factory.mktemp("observability")
    jenkins = JenkinsEmulator().start()
    # The assets link their materializations to this Grafana (checked by the Dagster UI test).
    grafana_before = os.environ.get(ui.GRAFANA_URL_ENV)
    os.environ[ui.GRAFANA_URL_ENV] = GRAFANA_URL
    try:
        scenario, pipeline, instance = build_scenario(metrics_cluster, oci_registry, jenkins, opensearch_service,
                                                      workdir)
    finally:
        if grafana_before is None:
            os.environ.pop(ui.GRAFANA_URL_ENV)
        else:
            os.environ[ui.GRAFANA_URL_ENV] = grafana_before
    exporter = None
    try:
        exporter = start_exporter(scenario, opensearch_service, workdir / "dagster_home", workdir)
        # Prometheus starts scraping only now, after the scenario's last change: every sample it
        # holds is of the final state the expectations describe.
        prometheus_service.configure(scrape_configs(scenario, metrics_cluster.kwok_url), rule_files=RULE_FILES,
                                     scrape_interval=f"{SCRAPE_INTERVAL_S:g}s", evaluation_interval="1s")
        datasources = g.Datasources(opensearch_url=opensearch_service.url, index_prefix=scenario.index_prefix,
                                    prometheus_url=prometheus_service.url, scrape_interval_s=SCRAPE_INTERVAL_S)
        yield scenario, datasources, prometheus_service, pipeline
    finally:
        if exporter is not None:
            exporter.stop()
        prometheus_service.configure([])
        pipeline.close()
        instance.__exit__(None, None, None)
        jenkins.stop()


# -- the scenario's truth, per dashboard: variable choices and what each panel must show --------------
def _docs(r: list) -> list[dict[str, Any]]:
    return r[0].documents


def _flags(doc: dict[str, Any]) -> set[str]:
    return set(doc.get("flags") or [])


def _day(epoch_s: float) -> int:
    return int(epoch_s // 86400 * 86400 * 1000)


def variables(s: Scenario) -> dict[str, dict[str, tuple[list[str], str | None]]]:
    """dashboard uid -> variable -> (expected options, the value to choose; None = All)."""
    ns = s.namespace
    web1, web2, api1 = (s.build("web", 1).build_id, s.build("web", 2).build_id, s.build("api", 1).build_id)
    everything = {"cluster": ([CLUSTER], None), "namespace": ([ns], None)}
    return {
        "c2c-overview": {"cluster": ([CLUSTER], None)},
        "c2c-traceability": {"cluster": ([CLUSTER], CLUSTER), "namespace": ([ns], ns),
                             "workload": (["api", "tool", "web"], "web")},
        "c2c-release-history": {**everything, "workload": (["web"], None)},
        "c2c-jenkins-builds": {
            "job": (sorted(s.jobs.values()), None),
            "build": (sorted(b.build_id for b in s.builds), None),
            "commit": (sorted(s.commits[b] for b in (web1, web2, api1)), s.commits[web1]),
        },
        "c2c-deployments-over-time": everything,
        "c2c-deployment-impact": everything,
        "c2c-argocd": {"cluster": ([CLUSTER], None), "app": (["api", "web"], None)},
        "c2c-resources": everything,
        "c2c-pod-health": {**everything, "workload": (["api", "tool", "web"], None)},
        # "*" is a value of its own (every cluster): with one app chosen, the "app" scope's rows.
        "c2c-delivery-performance": {"cluster": (["*", CLUSTER], "*"), "app": (["*", f"{ns}/web"], f"{ns}/web")},
    }


Check = Callable[[list, Scenario], tuple[Any, Any]]  # (what the panel shows, what it must show)


def _node_usage(s: Scenario, kind: str) -> dict[str, float]:
    """What kwok emulates per node: every running pod on it, at its annotated (or default) usage."""
    from kubernetes import client, config

    with config.new_client_from_config(config_file=s.kubeconfig) as api:
        pods = client.CoreV1Api(api).list_pod_for_all_namespaces().items
    usage: Counter[str] = Counter()
    for pod in pods:
        if pod.spec.node_name and pod.status.phase == "Running" and not pod.metadata.deletion_timestamp:
            annotations = pod.metadata.annotations or {}
            if kind == "cpu":
                usage[pod.spec.node_name] += float(annotations.get("kwok.x-k8s.io/usage-cpu", "1m").rstrip("m")) / 1000
            else:
                usage[pod.spec.node_name] += int(annotations.get("kwok.x-k8s.io/usage-memory", "1Mi").rstrip("Mi")) * MIB
    return dict(usage)


def _delivery(s: Scenario) -> dict[str, Check]:
    """Delivery Performance for app <ns>/web in every cluster: web's release of v2 (failed: rolled
    back) and its rollback (restores it) are the deployments; web #2's commit the one lead time."""
    ns, web2 = s.namespace, s.build("web", 2)
    [release] = [parse_time(at) for at, rollback in s.releases if not rollback]
    [rollback] = [parse_time(at) for at, rollback in s.releases if rollback]
    lead = (release - parse_time(s.committed[web2.build_id])).total_seconds()
    recovery = (rollback - release).total_seconds()
    observed = (datetime.now(UTC).date() - date.fromisoformat(s.first_scan_day)).days + 1
    day = {"release": _day(release.timestamp()), "rollback": _day(rollback.timestamp())}
    deployments = Counter(day.values())
    failed = Counter([day["release"]])
    week = Counter(_day(d / 1000 - datetime.fromtimestamp(d / 1000, UTC).weekday() * 86400) for d in day.values())
    rows = sorted((datetime.fromtimestamp(d / 1000, UTC).date().isoformat(), "*", f"{ns}/web", n,
                   int(d == day["rollback"]), failed[d], [f"{ns}/Deployment/web"]) for d, n in deployments.items())

    def series(r: list, *ids: str) -> dict[Any, Any]:
        return {keys[0]: tuple(v[i] for i in ids) for keys, v in r[0].rows if v[ids[0]]}

    return {
        "Deployments a day (last 30 days)": lambda r, s: (r[0].value, pytest.approx(2 / observed)),
        "Lead time median (last 30 days)": lambda r, s: (r[0].value, pytest.approx(lead, abs=1)),
        "Lead time p90 (last 30 days)": lambda r, s: (r[0].value, pytest.approx(lead, abs=1)),
        "Change failure rate (last 30 days)": lambda r, s: (r[0].value, 0.5),
        "Recovery time median (last 30 days)": lambda r, s: (r[0].value, pytest.approx(recovery, abs=1)),
        # 2 a day or 1 (over midnight): elite; 2 days and some: high; 50 %: low; minutes: elite.
        "DORA bands (last 30 days)": lambda r, s: (r[0].by("key"), {
            "deployment_frequency": 4, "lead_time": 3, "change_failure_rate": 1, "recovery_time": 4}),
        "Deployments": lambda r, s: (r[0].total(), 2),
        "Failed deployments": lambda r, s: (r[0].total(), 1),
        "Rollbacks": lambda r, s: (r[0].total(), 1),
        "Recoveries": lambda r, s: (r[0].total(), 1),
        "Deployments and failed deployments per day": lambda r, s: (
            series(r, "1", "4"), {d: (n, failed[d]) for d, n in deployments.items()}),
        "Deployments per week": lambda r, s: (series(r, "1"), {w: (n,) for w, n in week.items()}),
        "Deployments per day by app": lambda r, s: (r[0].by(0), {f"{ns}/web": 2}),
        "Deployments by cluster": lambda r, s: (r[0].by(0), {CLUSTER: 2}),
        "Lead time median and p90 per day": lambda r, s: (
            series(r, "1", "4"), {day["release"]: (pytest.approx(lead, abs=1), pytest.approx(lead, abs=1))}),
        "Change failure rate per day": lambda r, s: (
            {keys[0]: v["1"] for keys, v in r[0].rows if v["1"] is not None},
            {d: failed[d] / n for d, n in deployments.items()}),
        "Recovery time median per day": lambda r, s: (series(r, "1"), {day["rollback"]: (pytest.approx(recovery, abs=1),)}),
        "Delivery by day": lambda r, s: (
            sorted((d["day"], d["cluster"], d["app"], d["deployments"], d["rollbacks"], d["failed_deployments"],
                    d["workloads"]) for d in _docs(r)), rows),
    }


def expectations(s: Scenario) -> dict[str, dict[str, Check]]:
    ns = s.namespace
    web1, web2, web3 = (s.build("web", n) for n in (1, 2, 3))
    api1, api2 = s.build("api", 1), s.build("api", 2)
    d_web1, d_web2, d_api, d_tool = (s.digests[k] for k in ("web:v1", "web:v2", "api:v1", "tool:hand"))
    web_pods = sorted(p for p, v in s.pods.items() if v["workload"] == "web")
    [api_pod] = [p for p, v in s.pods.items() if v["workload"] == "api"]
    # The tool image is deployed by tag; no flag fires for that alone (tag_moved needs a tag seen moving).
    flags = {str(f): 0 for f in Flag} | {"untraceable": 1, "failed_build_deployed": 1, "drift": 1}
    releases = [(web1.build_id, web2.build_id, False), (web2.build_id, web1.build_id, True)]
    per_workload = {"web": 2, "api": 1, "tool": 1}
    cpu = {"web": 0.5, "api": 0.1, "tool": 0.001}
    memory = {"web": 128 * MIB, "api": 32 * MIB, "tool": 1 * MIB}
    builds = [web1, web2, web3, api1, api2]
    per_day = Counter((b.status, _day(s.start - b.ago.total_seconds())) for b in builds)
    durations: dict[int, list[float]] = {}
    for b in builds:
        durations.setdefault(_day(s.start - b.ago.total_seconds()), []).append(b.duration_s * 1000)

    def releases_of(docs: list[dict[str, Any]]) -> list[tuple]:
        return [(d["from_build_id"], d["to_build_id"], d["rollback"]) for d in sorted(docs, key=lambda d: d["at"])]

    return {
        "c2c-overview": {
            "Running images": lambda r, s: (r[0].value, 3),
            "Traceable share": lambda r, s: (r[0].value, pytest.approx(2 / 3)),
            "Untraceable": lambda r, s: (r[0].value, 1),
            "Digest mismatches": lambda r, s: (r[0].value, 0),
            "Drift": lambda r, s: (r[0].value, 1),
            # The scenario's image policy trusts no key: nothing is checked, so nothing is verified.
            "Verified provenance": lambda r, s: (r[0].value, 0),
            "Invalid provenance": lambda r, s: (r[0].value, 0),
            "Oldest snapshot": lambda r, s: (0 <= r[0].value < 900, True),
            "Running images by flag": lambda r, s: (r[0].by("flag"), flags),
            "Ingest problems": lambda r, s: (
                {(labels["source"], labels["problem"]): v for labels, v in r[0].series},
                {("jenkins", "digest_missing"): 2, ("argocd", "unknown_destination"): 0,
                 ("kubernetes", "partial_snapshot"): 0}),
            "Releases and rollbacks per day": lambda r, s: (r[0].by(0), {"releases": 1, "rollbacks": 1}),
            "Workloads that need attention": lambda r, s: (
                {d["workload_name"]: _flags(d) & {"untraceable", "drift", "failed_build_deployed"} for d in _docs(r)},
                {"api": {"drift", "failed_build_deployed"}, "tool": {"untraceable"}}),
        },
        "c2c-traceability": {
            "What runs in $workload: commit → build → image": lambda r, s: (
                [(d["container_name"], d["build_id"], d["commit_ids"], d["image_digest"], d["match_key"], d["flags"])
                 for d in _docs(r)],
                [("app", web1.build_id, [s.commits[web1.build_id]], d_web1, "image_digest", [])]),
            "Pods running $workload": lambda r, s: (r[0].value, 2),
            "Verified provenance": lambda r, s: (r[0].value, 0),
            "Commit-to-runtime: pods per build": lambda r, s: (
                [({k: labels[k] for k in ("container", "commit", "build_id", "image_digest", "traceable")}, v)
                 for labels, v in r[0].series],
                [({"container": "app", "commit": s.commits[web1.build_id], "build_id": web1.build_id,
                   "image_digest": d_web1, "traceable": "true"}, 2)]),
            "Pods and nodes": lambda r, s: (
                sorted((d["pod_name"], d["nodeName"], d["node.zone"], d["phase"], d["containers"][0]["image_digest"])
                       for d in _docs(r)),
                [(p, s.pods[p]["node"], s.zones[s.pods[p]["node"]], "Running", d_web1) for p in web_pods]),
            "Image version history": lambda r, s: (
                sorted((d["image_digest"], d["running"]) for d in _docs(r)), sorted([(d_web1, True), (d_web2, False)])),
            "Releases": lambda r, s: (releases_of(_docs(r)), releases),
        },
        "c2c-release-history": {
            "Releases": lambda r, s: (r[0].total(), 1),
            "Rollbacks": lambda r, s: (r[0].total(), 1),
            "Releases per workload": lambda r, s: (r[0].by(0), {"web": 2}),
            "Release cadence: releases and rollbacks per day": lambda r, s: (r[0].by(0), {"releases": 1, "rollbacks": 1}),
            "Release history": lambda r, s: (releases_of(_docs(r)), releases),
            # The workload picker lists workloads with releases (web only): its "All" scopes this table too.
            "Image version history": lambda r, s: (
                sorted((d["workload_name"], d["image_digest"], d["running"]) for d in _docs(r)),
                sorted([("web", d_web1, True), ("web", d_web2, False)])),
        },
        "c2c-jenkins-builds": {
            "Builds": lambda r, s: (r[0].total(), 5),
            "Unsuccessful builds": lambda r, s: (r[0].total(), 3),
            "Builds without a digest": lambda r, s: (r[0].total(), 2),
            "Mean build duration": lambda r, s: (r[0].by(0), {f"{s.index_prefix}ci-build-metadata": pytest.approx(74_000)}),
            "Builds per day by result": lambda r, s: (
                {keys: v["1"] for keys, v in r[0].rows if v["1"]}, dict(per_day)),
            "Builds per author": lambda r, s: (
                r[0].by(0), {"Ada Lovelace <ada@example.com>": 2, "Grace Hopper <grace@example.com>": 1}),
            "Build duration per day": lambda r, s: (
                {keys[0]: v["1"] for keys, v in r[0].rows if v["1"] is not None},
                {day: pytest.approx(sum(v) / len(v)) for day, v in durations.items()}),
            "Builds per job": lambda r, s: (r[0].by(0), {s.jobs["web"]: 3, s.jobs["api"]: 2}),
            "Builds and their images": lambda r, s: (
                sorted((d["build_id"], d["build_status"], d["digest_missing"], d.get("commit_range.from"))
                       for d in _docs(r)),
                sorted([(web1.build_id, "SUCCESS", False, None),
                        (web2.build_id, "SUCCESS", False, s.commits[web1.build_id]),
                        (web3.build_id, "FAILURE", True, None), (api1.build_id, "FAILURE", False, None),
                        (api2.build_id, "ABORTED", True, None)])),
            "Builds that contain commit $commit": lambda r, s: ([d["build_id"] for d in _docs(r)], [web1.build_id]),
        },
        "c2c-deployments-over-time": {
            "Releases in range": lambda r, s: (r[0].total(), 2),
            "Releases per day by namespace": lambda r, s: (r[0].by(0), {ns: 2}),
            "Deployment timeline: releases per hour by workload": lambda r, s: (r[0].by(0), {"web": 2}),
            "Replicas by workload: desired and available": lambda r, s: (
                {(labels["workload"], labels["state"]): v for labels, v in r[0].series},
                {(w, state): n for w, n in per_workload.items() for state in ("desired", "available")}),
            "Workload versions": lambda r, s: (
                {w: {d["revision"] for d in _docs(r) if d["workload_name"] == w} for w in per_workload},
                {"web": {"1", "2", "3"}, "api": {"1"}, "tool": {"1"}}),
        },
        "c2c-deployment-impact": {
            "Rollouts in progress": lambda r, s: (r[0].value, 0),
            "Pods not ready": lambda r, s: (r[0].value, 0),
            "Container restarts": lambda r, s: (r[0].value, 3),
            "Rollbacks": lambda r, s: (r[0].total(), 1),
            "Rollbacks: releases taken back": lambda r, s: (
                [(d["workload_name"], d["from_build_id"], d["to_build_id"]) for d in _docs(r)],
                [("web", web2.build_id, web1.build_id)]),
            "Failed builds running": lambda r, s: (r[0].value, 1),
            "Drifted images": lambda r, s: (r[0].value, 1),
            "Restarts by workload": lambda r, s: (r[0].by("workload"), {"web": 0, "api": 3, "tool": 0}),
            "Rollout status": lambda r, s: (r[0].by("workload"), {w: 1 for w in per_workload}),
            "Drift, failed builds and digest mismatches running": lambda r, s: (
                {d["workload_name"]: _flags(d) & {"drift", "failed_build_deployed", "digest_mismatch"} for d in _docs(r)},
                {"api": {"drift", "failed_build_deployed"}}),
        },
        "c2c-argocd": {
            "Syncs": lambda r, s: (r[0].total(), 4),
            "Failed syncs": lambda r, s: (r[0].total(), 1),
            "Sync failure rate": lambda r, s: (r[0].value, 0.25),
            "Mean sync duration": lambda r, s: (r[0].value, pytest.approx(75)),
            "Syncs per day by phase": lambda r, s: (r[0].by(0), {"Failed": 1, "Succeeded": 3}),
            "Syncs per application": lambda r, s: (r[0].by(0), {"api": 1, "web": 3}),
            # histogram_quantile interpolates inside the (60, 120] bucket: web's 3 syncs (30, 60, 120 s)
            # put rank 2.7 there -> 60 + 60 x 0.7 = 102; api's one (90 s) -> 60 + 60 x 0.9 = 114.
            "Sync duration p90 by application": lambda r, s: (
                r[0].by("app"), {f"{ns}/web": pytest.approx(102), f"{ns}/api": pytest.approx(114)}),
            "Failed syncs and why": lambda r, s: (
                [(d["app"], d["phase"], "admission webhook" in d["message"]) for d in _docs(r)], [("web", "Failed", True)]),
            "Sync history": lambda r, s: (
                sorted((d["app"], d["phase"], d.get("history_id") or 0) for d in _docs(r)),
                [("api", "Succeeded", 1), ("web", "Failed", 0), ("web", "Succeeded", 1), ("web", "Succeeded", 2)]),
            "Drift: running images the last sync did not declare": lambda r, s: (
                [(d["argocd_app"], d["workload_name"]) for d in _docs(r)], [(f"{ns}/api", "api")]),
        },
        "c2c-resources": {
            "Busiest node CPU": lambda r, s: (r[0].value, pytest.approx(max(_node_usage(s, "cpu").values()), rel=0.2)),
            "Node CPU usage": lambda r, s: (
                r[0].by("node"), {n: pytest.approx(v, rel=0.2) for n, v in _node_usage(s, "cpu").items()}),
            "Node memory working set": lambda r, s: (r[0].by("node"), _node_usage(s, "memory")),
            "CPU by workload": lambda r, s: (
                r[0].by("workload"), {w: pytest.approx(v, rel=0.2) for w, v in cpu.items()}),
            "Memory by workload": lambda r, s: (r[0].by("workload"), memory),
            "Top containers by CPU, with their build and commit": lambda r, s: (
                # Prometheus drops empty labels: the hand-pushed image has no build and no commit.
                {(labels["pod"], labels.get("build_id", ""), labels.get("commit", "")): v for labels, v in r[0].series},
                {(pod, (s.build(info["workload"], 1).build_id if info["workload"] != "tool" else ""),
                  (s.commits[s.build(info["workload"], 1).build_id] if info["workload"] != "tool" else "")):
                 pytest.approx(info["cpu"], rel=0.2) for pod, info in s.pods.items()}),
        },
        "c2c-pod-health": {
            "Pods": lambda r, s: (r[0].value, 4),
            "Pods not ready": lambda r, s: (r[0].value, 0),
            "Container restarts": lambda r, s: (r[0].value, 3),
            "Waiting containers": lambda r, s: (r[0].value, 0),
            "Pods by phase": lambda r, s: (r[0].by("phase"), {"Running": 4}),
            "Pods per node": lambda r, s: (r[0].by("node"), dict(Counter(v["node"] for v in s.pods.values()))),
            "Pods per zone": lambda r, s: (r[0].by(0), dict(Counter(s.zones[v["node"]] for v in s.pods.values()))),
            "Restarts by pod": lambda r, s: (r[0].by("pod"), {p: (3 if p == api_pod else 0) for p in s.pods}),
            "Containers not running": lambda r, s: (r[0].series, []),
            "Restart history": lambda r, s: (
                [(d["pod_name"], d["containers"][0]["restartCount"], d["containers"][0]["last_state_reason"],
                  d["containers"][0]["last_exitCode"]) for d in _docs(r)], [(api_pod, 3, "OOMKilled", 137)]),
        },
        "c2c-delivery-performance": _delivery(s),
    }


def _columns_present(panel: dict[str, Any], result: Any) -> list[str]:
    """Table columns the result does not have (a table showing an empty column is a broken panel)."""
    wanted = next((t["options"]["include"]["names"] for t in panel.get("transformations", [])
                   if t["id"] == "filterFieldsByName"), [])
    if isinstance(result, g.OpenSearchResult):
        have = {key for doc in result.documents for key in doc}
    else:
        have = {key for labels, _ in result.series for key in labels} | {"Value"}
        if not result.series:
            return []
    return [column for column in wanted if column not in have]


def _shown(result: Any) -> str:
    if isinstance(result, g.OpenSearchResult):
        return f"OpenSearch request {result.request}, {len(result.documents)} documents, rows {result.rows[:20]}"
    return f"PromQL {result.query}"


def test_the_scenarios_alerts_are_raised_by_prometheus(world) -> None:
    """With the shipped rules loaded: the rollback fires at once (no `for`); the failed build running
    is pending for its 5 minutes, then fires; the hand-pushed image has run for minutes, not an
    hour, so the untraceable alert stays quiet, as does every other alert for the scenario."""
    scenario, _, prometheus, _ = world
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        alerts = {(a["labels"]["alertname"], a["labels"].get("workload", "")): a
                  for a in prometheus.api("alerts")["alerts"]
                  if a["labels"].get("namespace", scenario.namespace) == scenario.namespace}
        if set(alerts) == {("C2CRollback", "web"), ("C2CFailedBuildDeployed", "api")} or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert set(alerts) == {("C2CRollback", "web"), ("C2CFailedBuildDeployed", "api")}, alerts
    assert alerts[("C2CRollback", "web")]["state"] == "firing"
    failed = alerts[("C2CFailedBuildDeployed", "api")]
    active_for = time.time() - datetime.fromisoformat(failed["activeAt"].replace("Z", "+00:00")).timestamp()
    assert failed["state"] == ("firing" if active_for >= 300 else "pending"), (failed, active_for)


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_every_variable_and_panel_returns_the_scenarios_numbers(world, name: str) -> None:
    scenario, datasources, _, _ = world
    board = BOARDS[name]
    uid = board["uid"]
    wanted = variables(scenario)[uid]
    query_variables = [v["name"] for v in board["templating"]["list"] if v["type"] == "query"]
    assert sorted(query_variables) == sorted(wanted), f"{uid}: variables without an expectation"
    checks = expectations(scenario)[uid]
    assert sorted(p["title"] for p in board["panels"]) == sorted(checks), f"{uid}: panels without an expectation"

    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        failures, _ = _run_board(board, scenario, datasources)
        if not failures or time.monotonic() > deadline:
            break
        time.sleep(2)  # Prometheus needs more scrapes / rule evaluations; nothing else changes
    assert not failures, f"{uid}:\n" + "\n".join(failures)


def _run_board(board: dict[str, Any], scenario: Scenario, datasources: g.Datasources) -> tuple[
        list[str], dict[str, tuple[list, Any]]]:
    """One refresh of the dashboard: its variables chosen as the scenario says, every panel's
    queries sent. Returns how the results differ from the scenario's truth, and per panel title
    its results and what the query proof holds them to."""
    uid = board["uid"]
    selection = g.Selection({v["name"]: v for v in board["templating"]["list"]})
    wanted = variables(scenario)[uid]
    query_variables = [v["name"] for v in board["templating"]["list"] if v["type"] == "query"]
    checks = expectations(scenario)[uid]
    failures: list[str] = []
    ran: dict[str, tuple[list, Any]] = {}
    time_range = g.TimeRange.of(board)  # "now" moves on, as on each refresh of the dashboard
    for variable in query_variables:  # in order: later ones use the earlier ones' values
        options = g.variable_options(board, variable, selection, datasources, time_range)
        expected_options, choice = wanted[variable]
        if options != expected_options:
            failures.append(f"variable {variable}: options {options}, expected {expected_options}")
        selection.choose(variable, choice, options)
    for panel in board["panels"]:
        results = [g.run_target(t, panel, selection, datasources, time_range) for t in panel["targets"]]
        try:
            shown, expected = checks[panel["title"]](results, scenario)
        except (KeyError, IndexError, AssertionError, TypeError) as exc:
            failures.append(f"{panel['title']}: {type(exc).__name__} {exc} in {_shown(results[0])}")
            continue
        ran[panel["title"]] = (results, expected)
        if shown != expected:
            failures.append(f"{panel['title']}: shows {shown}, expected {expected} ({_shown(results[0])})")
        missing = _columns_present(panel, results[0])
        if missing:
            failures.append(f"{panel['title']}: columns {missing} absent from the result")
    return failures, ran


@pytest.fixture(scope="module")
def displayed() -> dict[str, dict[str, Any]]:
    """Dashboard file -> panel title -> what @grafana/data shows (filled by the display proof)."""
    return {}


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_every_panel_shows_the_scenarios_truth_through_grafana_data(world, displayed, name: str) -> None:
    """The display proof: each panel's results, shaped into frames as the OpenSearch plugin's
    response parser and Grafana's Prometheus datasource shape them (frames.py), are displayed by
    @grafana/data itself (display.cjs: transformations, field overrides, getFieldDisplayValues /
    reduceField) and compared with the truth: the number on a stat, one bar per term on a bar
    gauge, a table's columns, rows and cells, a time series' series. "No data" where the scenario
    has data fails."""
    scenario, datasources, _, _ = world
    board = BOARDS[name]
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        failures, ran = _run_board(board, scenario, datasources)
        shown = display.display_board(board, {title: results for title, (results, _) in ran.items()})
        for panel in board["panels"]:
            if panel["title"] in ran:
                results, expected = ran[panel["title"]]
                failures += [f"{panel['title']} ({panel['type']}): {failure}"
                             for failure in display.display_failures(panel, shown[panel["title"]], results, expected)]
        if not failures or time.monotonic() > deadline:
            break
        time.sleep(2)
    displayed[name] = shown
    assert not failures, f"{board['uid']}:\n" + "\n".join(failures)


def test_the_previews_render_every_dashboard(world, displayed, tmp_path) -> None:
    """The preview generator draws every dashboard from what @grafana/data showed (into
    $C2C_PREVIEWS_DIR when set: scripts/dashboard-previews writes dashboards/previews/ so)."""
    scenario, datasources, _, _ = world
    for name, board in BOARDS.items():
        if name not in displayed:  # the display proof was deselected: one refresh of the dashboard
            _, ran = _run_board(board, scenario, datasources)
            displayed[name] = display.display_board(board, {title: results for title, (results, _) in ran.items()})
    out = Path(os.environ.get(previews.PREVIEWS_ENV) or tmp_path)
    pngs = previews.render(BOARDS, displayed, out)
    assert sorted(p.name for p in pngs) == sorted(name.removesuffix(".json") + ".png" for name in BOARDS)
    for png in pngs:
        image = png.read_bytes()
        assert image.startswith(b"\x89PNG") and len(image) > 20_000, (png, len(image))


def test_the_exporter_image_id_is_the_api_servers_imageID(world) -> None:
    """What makes `on (namespace, pod, container, image_id)` with kube-state-metrics work: the same
    string kube-state-metrics copies from status.containerStatuses[].imageID."""
    scenario, _, _, _ = world
    text = requests.get(f"{scenario.exporter_url}/metrics", timeout=30).text
    info = {f"{s.labels['pod']}/{s.labels['container']}": s.labels["image_id"]
            for family in text_string_to_metric_families(text) if family.name == "c2c_container_info"
            for s in family.samples if s.labels["namespace"] == scenario.namespace}
    assert info == scenario.image_ids
    assert all("@sha256:" in image_id for image_id in info.values())
    durations = [s.value for family in text_string_to_metric_families(text)
                 if family.name == "c2c_snapshot_duration_seconds" for s in family.samples]
    assert len(durations) == 1 and 0 < durations[0] < 600  # from the Dagster instance's run records


def test_the_dagster_ui_shows_the_same_story(world) -> None:
    """The real assets' last materializations carry the previews (flagged records, per-namespace
    counts, newest releases, the builds) and links to the matching dashboards."""
    scenario, _, _, pipeline = world

    def metadata(asset: str) -> dict[str, Any]:
        [record] = pipeline.instance.fetch_materializations(dg.AssetKey(asset), limit=1).records
        return record.asset_materialization.metadata

    def rows(value: Any) -> list[dict[str, Any]]:
        return [record.data for record in value.value.records]

    traced = metadata("traceability_records")
    assert sorted((r["workload"], r["flags"]) for r in rows(traced["flagged_records"])) == [
        ("api", "failed_build_deployed, drift"), ("tool", "untraceable")]
    assert rows(traced["per_namespace"]) == [
        {"namespace": scenario.namespace, "running_images": 3, "traced_to_a_build": 2, "untraceable": 1}]
    web1, web2 = scenario.build("web", 1).build_id, scenario.build("web", 2).build_id
    # This run's release: the rollback (the earlier release was the previous run's).
    assert [(r["workload"], r["from_build_id"], r["to_build_id"], r["rollback"]) for r in rows(traced["newest_releases"])] \
        == [("web", web2, web1, True)]
    assert traced["dashboard"].value == f"{GRAFANA_URL}/d/{ui.OVERVIEW}?var-cluster={CLUSTER}"
    snapshot = metadata("deployment_snapshots")
    assert rows(snapshot["per_namespace"]) == [
        {"namespace": scenario.namespace, "workloads": 3, "pods": 4, "not_ready": 0, "restarts": 3}]
    assert snapshot["dashboard"].value == f"{GRAFANA_URL}/d/{ui.POD_HEALTH}?var-cluster={CLUSTER}"
    builds = metadata("ci_builds")
    assert sorted(r["build_id"] for r in rows(builds["builds"])) == sorted(b.build_id for b in scenario.builds)
    assert builds["dashboard"].value == f"{GRAFANA_URL}/d/{ui.JENKINS_BUILDS}"
    delivery = metadata("delivery_metrics")  # the days the scenario ran: web's two deployments, one failed
    assert (delivery["deployments"].value, delivery["change_failure_rate"].value) == (2, 0.5)
    assert delivery["dashboard"].value == f"{GRAFANA_URL}/d/{ui.DELIVERY}"
