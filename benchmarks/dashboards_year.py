"""Benchmark: a year of history for 500 workloads in a real OpenSearch node, every OpenSearch panel
query of c2c's dashboards and the ``c2c trace`` queries over it, p95 per query.

The history is made with c2c's own document models and written with ``OpenSearchStore.upsert``
(the real index templates): per workload about 200 releases over the year (release events, the
builds behind them, the workload and pod versions they left, traceability records of every digest
that ran, Argo CD syncs), about 100,000 of each in all.

Panels are sent as Grafana would send them (``c2c_devstack.grafana_requests``, the translation the
dashboard query-proof test uses): every OpenSearch target of every ``dashboards/*.json``, with its
variables chosen two ways ("all": All where a variable has it, else its first option; "one": the
first option of each) and over two ranges (the dashboard's default and the whole year), each
``REPEAT`` times; the OpenSearch-backed variable queries are timed too. Variables that Grafana
fills from Prometheus (not running here) take their options from the generated data.
``c2c trace`` is timed through its functions (``trace_workload``, ``trace_commit`` with a 7-character
prefix, ``trace_digest``) on ``TRACE_SAMPLES`` different targets each.

Baseline in the same run: a round trip to the node that does no work (``_count`` of an index with
a ``size: 0`` match_all search), p95 over as many calls; each p95 is printed with its ratio to it.
Targets: p95 < 1 s per panel query, < 100 ms per trace query.
Usage: ``.venv/bin/python benchmarks/dashboards_year.py [WORKLOADS]``
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from c2c_dagster.documents.argocd import SyncEventDocument
from c2c_core.builds import Commit, is_failed_build
from c2c_core.timeutil import iso_utc
from c2c_dagster.documents.builds import BuildDocument
from c2c_dagster.documents.deployments import NodePlacement, PodContainer, Replicas, TemplateContainer, PodVersion, WorkloadVersion
from c2c_dagster.documents.traceability import Flag, RecordPod, ReleaseEvent, TraceabilityRecord
from c2c_dagster.store import OpenSearchStore
from c2c_dagster.traceability.trace import trace_commit, trace_digest, trace_workload
from c2c_devstack import grafana_requests as g
from c2c_devstack.services import REPO_ROOT, opensearch

WORKLOADS = 500
RELEASES_PER_WORKLOAD = 200  # ~4 a week: 100,000 a year for 500 workloads
CLUSTERS = ("prod", "staging")
NAMESPACES = 20
ZONES = ("zone-a", "zone-b", "zone-c")
REPEAT = 20
TRACE_SAMPLES = 50
PANEL_TARGET_S = 1.0
TRACE_TARGET_S = 0.1
PREFIX = "year-"
YEAR = timedelta(days=365)


def digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def sha(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()


@dataclass(frozen=True)
class Workload:
    cluster: str
    namespace: str
    name: str

    @property
    def job(self) -> str:
        return f"{self.namespace}/{self.name}/main"

    @property
    def repo(self) -> str:
        return f"registry.example/{self.namespace}/{self.name}"


def workloads(count: int) -> list[Workload]:
    return [Workload(CLUSTERS[i % len(CLUSTERS)], f"team-{i % NAMESPACES:02d}", f"svc-{i:03d}") for i in range(count)]


def history(w: Workload, now: datetime, rng: random.Random) -> dict[str, list[Any]]:
    """One workload's year: each release a build, a release event, a sync, a workload version,
    pod versions and a traceability record for the digest it brought."""
    docs: dict[str, list[Any]] = {k: [] for k in ("ci-build-metadata", "release-events", "argocd-sync-events",
                                                   "deployment-metadata", "traceability-metadata")}
    start = now - YEAR
    times = sorted(start + timedelta(seconds=rng.uniform(0, YEAR.total_seconds())) for _ in range(RELEASES_PER_WORKLOAD))
    ran: list[tuple[str, str]] = []  # (digest, build id) of each release that ran, in order
    for n, at in enumerate(times, 1):
        built = at - timedelta(minutes=rng.uniform(5, 120))
        commit = sha(f"{w.job}-{n}")
        status = "SUCCESS" if rng.random() > 0.05 else "FAILURE"
        build = BuildDocument(
            build_id=f"{w.job}-{n}", job_name=w.job, build_number=n, branch="main", image_name=w.repo,
            image_tag=f"main-{n}-{commit[:7]}", image_digest=digest(f"{w.job}-{n}"),
            commits=[Commit(commit_id=commit, author=f"dev{n % 30}", email=f"dev{n % 30}@example.com",
                            message=f"change {n}", timestamp=iso_utc(built - timedelta(hours=2)))],
            authors=[f"dev{n % 30} <dev{n % 30}@example.com>"], build_status=status, timestamp=iso_utc(built),
            duration_ms=int(rng.uniform(60, 900) * 1000), build_url=f"https://jenkins.example/job/{w.job}/{n}/",
            digest_missing=False, metadata_source="artifact", ingested_at=iso_utc(built + timedelta(minutes=20)),
        )
        docs["ci-build-metadata"].append(build)
        previous = ran[-1] if ran else None
        rollback = len(ran) >= 2 and rng.random() < 0.03  # back to what ran before the current one
        to_digest, to_build = ran[-2] if rollback else (build.image_digest, build.build_id)
        app = f"{w.namespace}-{w.name}"
        event_id = f"argocd/argocd/{app}/uid-{w.name}/{n}"
        docs["argocd-sync-events"].append(SyncEventDocument(
            event_id=event_id, argocd_cluster="argocd", cluster=w.cluster, app=app, app_namespace="argocd",
            project="default", destination_namespace=w.namespace, repo_url="https://git.example/config.git",
            revision=sha(f"config-{w.name}-{n}"), history_id=n, phase="Succeeded" if rng.random() > 0.04 else "Failed",
            sync_status="Synced", health="Healthy", initiated_by="automated", automated=True,
            images=[f"{w.repo}@{to_digest}"], started_at=iso_utc(at - timedelta(seconds=30)), finished_at=iso_utc(at),
        ))
        docs["release-events"].append(ReleaseEvent(
            event_id=f"{w.cluster}/{w.namespace}/Deployment/{w.name}/app/{iso_utc(at)}", cluster=w.cluster,
            namespace=w.namespace, workload_kind="Deployment", workload_name=w.name, container_name="app", at=iso_utc(at),
            from_digest=previous[0] if previous else None, to_digest=to_digest,
            from_build_id=previous[1] if previous else None, to_build_id=to_build, to_commit_ids=[commit],
            to_build_time=iso_utc(built), rollback=rollback, argocd_app=app,
            argocd_revision=sha(f"config-{w.name}-{n}"), initiated_by="automated",
        ))
        until = times[n] if n < len(times) else None
        last_seen = until or now
        current = None if until else w.cluster
        base = dict(cluster=w.cluster, namespace=w.namespace, workload=f"Deployment/{w.namespace}/{w.name}",
                    workload_kind="Deployment", workload_name=w.name, argocd_app=app, mode="scan",
                    snapshot_time=iso_utc(at), first_seen=iso_utc(at), last_seen=iso_utc(last_seen),
                    until=iso_utc(until) if until else None, current=current,
                    current_ns=f"{w.cluster}/{w.namespace}" if current else None)
        image = f"{w.repo}:{build.image_tag}"
        docs["deployment-metadata"].append(WorkloadVersion(
            doc_id=f"{w.cluster}/workload/Deployment/{w.namespace}/{w.name}@{iso_utc(at)}", doc_type="workload",
            revision=str(n), replicas=Replicas(desired=2, current=2, ready=2, available=2, updated=2),
            generation=n, observedGeneration=n, rollout_complete=True, pod_count=2,
            containers=[TemplateContainer(type="regular", name="app", image=image, image_tag=build.image_tag, image_pin="tag")],
            **base,
        ))
        for p in range(1 if n % 2 else 2):  # ~1.5 pod versions per release: a pod replaced, sometimes restarted
            pod = f"{w.name}-{n:04d}-{p}"
            docs["deployment-metadata"].append(PodVersion(
                doc_id=f"{w.cluster}/pod/{w.namespace}/{pod}@{iso_utc(at)}", doc_type="pod", pod_name=pod,
                nodeName=f"node-{(n + p) % 50}", node=NodePlacement(name=f"node-{(n + p) % 50}", zone=ZONES[(n + p) % 3]),
                phase="Running", ready=True, startTime=iso_utc(at),
                containers=[PodContainer(type="regular", name="app", image=image, image_tag=build.image_tag,
                                         image_digest=to_digest, imageID=f"{w.repo}@{to_digest}",
                                         ready=True, restartCount=rng.choice((0, 0, 0, 1, 3)), state="running")],
                **base,
            ))
        flags = [str(Flag.FAILED_BUILD_DEPLOYED)] if is_failed_build(status) else []
        docs["traceability-metadata"].append(TraceabilityRecord(
            record_id=f"{w.cluster}/{w.namespace}/Deployment/{w.name}/app/{to_digest}", cluster=w.cluster,
            namespace=w.namespace, workload_kind="Deployment", workload_name=w.name, container_name="app",
            image=image, image_tag=build.image_tag, image_digest=to_digest,
            pods=[RecordPod(f"{w.name}-{n:04d}-0", f"node-{n % 50}", iso_utc(at))], build_id=to_build,
            job_name=w.job, build_number=n, build_status=status, commit_ids=[commit], authors=list(build.authors),
            argocd_app=app, argocd_revision=sha(f"config-{w.name}-{n}"), match_key="image_digest",
            match_confidence="exact", first_seen=iso_utc(at), image_class="internal", digest_state="known",
            flags=flags, updated_at=iso_utc(last_seen), running=until is None, last_seen=iso_utc(last_seen),
        ))
        ran.append((to_digest, to_build))
    return docs


def load(store: OpenSearchStore, all_workloads: list[Workload], now: datetime) -> dict[str, int]:
    """Write the history a batch of workloads at a time; how many documents each index holds."""
    rng = random.Random(11)
    ids: dict[str, set[str]] = {}  # a digest that ran before keeps its one traceability record
    batch: dict[str, list[dict]] = {}
    for i, w in enumerate(all_workloads, 1):
        for index, models in history(w, now, rng).items():
            batch.setdefault(index, []).extend(m.to_document() for m in models)
        if i % 50 == 0 or i == len(all_workloads):
            for index, docs in batch.items():
                result = store.upsert(index, docs, refresh=False)
                ids.setdefault(index, set()).update(result.ids)
            batch = {}
    for index in ids:
        store.refresh(index)
    return {index: len(found) for index, found in ids.items()}


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def timed(fn: Callable[[], object], times: int) -> list[float]:
    out = []
    for _ in range(times):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def boards() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted((REPO_ROOT / "dashboards").glob("*.json")):
        yield path.stem, json.loads(path.read_text())


def data_options(name: str, all_workloads: list[Workload]) -> list[str]:
    """Options of a Prometheus-backed variable, from the generated data."""
    values = {"cluster": [w.cluster for w in all_workloads], "namespace": [w.namespace for w in all_workloads],
              "workload": [w.name for w in all_workloads]}[name]
    return sorted(set(values))


def select(board: dict[str, Any], how: str, datasources: g.Datasources, time_range: g.TimeRange,
           all_workloads: list[Workload], variable_times: dict[str, list[float]]) -> g.Selection:
    selection = g.Selection({v["name"]: v for v in board["templating"]["list"]})
    for variable in board["templating"]["list"]:
        if variable["type"] != "query":
            continue
        name = variable["name"]
        if variable["datasource"]["type"] == g.PROMETHEUS.plugin:
            options = data_options(name, all_workloads)
        else:
            started = time.perf_counter()
            options = g.variable_options(board, name, selection, datasources, time_range)
            variable_times.setdefault(f"variable ${name}", []).append(time.perf_counter() - started)
        assert options, f"{board['uid']}: variable {name} has no options over the generated data"
        use_all = how == "all" and variable.get("includeAll")
        selection.choose(name, None if use_all else options[0], options)
    return selection


def _reason(exc: AssertionError) -> str:
    text = str(exc)
    found = text.rfind("'reason': '")
    return text[found + 11 : text.find("'", found + 11)] if found >= 0 else text[-300:]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else WORKLOADS
    all_workloads = workloads(count)
    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory() as workdir:
        node = opensearch.start(Path(workdir))
        try:
            store = OpenSearchStore(node.url, index_prefix=PREFIX, number_of_replicas=0, timeout=120)
            started = time.perf_counter()
            counts = load(store, all_workloads, now)
            load_seconds = time.perf_counter() - started
            total = sum(counts.values())
            print(f"loaded {total} documents for {count} workloads over a year in {load_seconds:.0f} s "
                  f"({total / load_seconds:.0f} docs/s): " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
            for index, docs in counts.items():
                assert store.count(index) == docs, f"{index}: {store.count(index)} stored, {docs} written"

            session = requests.Session()
            floor = timed(lambda: session.post(f"{node.url}/{PREFIX}release-events/_search",
                                               json={"size": 0, "query": {"match_all": {}}}).raise_for_status(), 200)
            floor_p95 = p95(floor)
            datasources = g.Datasources(node.url, PREFIX, prometheus_url="", scrape_interval_s=1.0)
            panel_rows: list[tuple[str, float]] = []
            variable_times: dict[str, list[float]] = {}
            refused: list[str] = []
            for stem, board in boards():
                year = g.TimeRange(int((now - YEAR).timestamp() * 1000), int(now.timestamp() * 1000))
                default = g.TimeRange.of(board, now.timestamp())
                for range_name, time_range in (("default", default), ("year", year)):
                    for how in ("all", "one"):
                        selection = select(board, how, datasources, time_range, all_workloads, variable_times)
                        for panel in board["panels"]:
                            for target in panel["targets"]:
                                if target["datasource"]["type"] == g.PROMETHEUS.plugin:
                                    continue
                                label = f"{stem} / {panel['title']} [{target['refId']}] ({range_name}, {how})"
                                try:
                                    times = timed(lambda: g.run_opensearch(target, selection, datasources, time_range),
                                                  REPEAT)
                                except AssertionError as exc:  # OpenSearch refused the query: shown, not timed
                                    refused.append(f"{label}: {_reason(exc)}")
                                    continue
                                panel_rows.append((label, p95(times)))

            trace_rows: list[tuple[str, float, int, int]] = []
            rng = random.Random(5)
            picks = rng.sample(all_workloads, min(TRACE_SAMPLES, len(all_workloads)))
            for kind, ask in (
                ("workload", lambda w, n: trace_workload(store, f"{w.cluster}/{w.namespace}/{w.name}")),
                ("commit prefix", lambda w, n: trace_commit(store, sha(f"{w.job}-{n}")[:7])),
                ("digest", lambda w, n: trace_digest(store, digest(f"{w.job}-{n}"))),
            ):
                times, found = [], 0
                for w in picks:
                    n = rng.randrange(1, RELEASES_PER_WORKLOAD + 1)
                    started = time.perf_counter()
                    answer = ask(w, n)
                    times.append(time.perf_counter() - started)
                    found += not answer.empty
                trace_rows.append((kind, p95(times), found, len(picks)))
            store.close()
        finally:
            node.stop()

    print(f"baseline: an empty search round trip, p95 {floor_p95 * 1000:.1f} ms over {len(floor)} calls; "
          f"nproc {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    print(f"panel queries: p95 of {REPEAT} runs each (ms, ratio to the baseline):")
    for label, value in panel_rows:
        print(f"  {value * 1000:8.1f}  {value / floor_p95:6.1f}x  {label}")
    for label, times in sorted(variable_times.items()):
        print(f"  {p95(times) * 1000:8.1f}  {p95(times) / floor_p95:6.1f}x  {label} (p95 of {len(times)})")
    for line in refused:
        print(f"  REFUSED  {line}")
    worst = max(value for _, value in panel_rows)
    panels_met = worst < PANEL_TARGET_S and not refused
    print(f"slowest panel p95: {worst * 1000:.0f} ms over {len(panel_rows)} query/selection/range combinations "
          f"(target < {PANEL_TARGET_S * 1000:.0f} ms: {'met' if panels_met else 'NOT MET'}); {len(refused)} refused")
    print("c2c trace: p95 per kind of query (ms, ratio to the baseline):")
    for kind, value, found, asked in trace_rows:
        print(f"  {value * 1000:8.1f}  {value / floor_p95:6.1f}x  {kind} ({found} of {asked} targets answered)")
    trace_met = all(value < TRACE_TARGET_S for _, value, _, _ in trace_rows)
    print(f"slowest trace p95: {max(v for _, v, _, _ in trace_rows) * 1000:.0f} ms "
          f"(target < {TRACE_TARGET_S * 1000:.0f} ms: {'met' if trace_met else 'NOT MET'})")
    sys.exit(0 if panels_met and trace_met else 1)


if __name__ == "__main__":
    main()
