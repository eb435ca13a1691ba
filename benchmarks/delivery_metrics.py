"""Benchmark: DORA's four keys over one year of 500 workloads (>= 100,000 releases, >= 1,000,000
commits), c2c's pandas computation vs the straightforward per-workload computation, in the same run.

- c2c: ``delivery_metrics`` (``c2c_dagster/delivery/metrics.py``): the year in one call, every
  scope and day; then again a month at a time, as a backfill of the year runs (``refresh.py``).
- straightforward: plain Python, workload by workload: fold its releases into deployments, for each
  deployment look at the next one and scan its app's failed syncs, walk forward to the recovery;
  then commits in time order with a seen-set per scope, and each row's document with its sorted
  lists and percentiles. Its documents are checked equal to c2c's, field for field.
- peak memory of c2c's computation: Python allocations (tracemalloc, numpy's included) in a run
  of its own, so tracing does not slow the timed one; a month at a time it includes cutting the
  month's inputs. The month-at-a-time documents are checked equal to the year-at-once ones.

The history is synthetic (generated here, seeded): two production clusters, 200 apps (Argo CD
apps of one to three workloads, and workloads on their own), rollbacks, fix releases, failed and
degraded syncs, untraceable and third-party images, commits shipped in two releases, commits
without a time. Goal: the year in under 20 s of CPU time (the wall clock is printed too; on a
shared machine it also counts other processes' turns), >= 3x the straightforward computation in
CPU time too (both build the same 148,000 documents with 4 million list entries, which bounds
what vectorising can gain), peak memory under 1 GiB for the year at once and under 256 MiB for
a month's run.
Usage: ``.venv/bin/python benchmarks/delivery_metrics.py``
"""

from __future__ import annotations

import gc
import random
import resource
import sys
import time
import tracemalloc
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from c2c_dagster.delivery.bands import percentile
from c2c_dagster.delivery.metrics import (
    COMMIT_COLUMNS,
    RAN_COLUMNS,
    RELEASE_COLUMNS,
    SYNC_COLUMNS,
    DeliveryInputs,
    delivery_metrics,
    frame,
)
from c2c_dagster.delivery.policy import DeliveryPolicy
from c2c_dagster.delivery.rows import ALL, SCOPES, row_id
from c2c_dagster.documents.base import to_documents

WORKLOADS = 500
RELEASES_PER_WORKLOAD = 210  # a little over 200 a year: some fold into one rollout or are skipped
MEAN_COMMITS = 11.5
START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = DeliveryPolicy()
GIB = 1024**3


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(rng: random.Random) -> tuple[list[dict], list[dict], list[dict]]:
    """Release events, their commits, failed/degraded syncs: one year, 500 workloads."""
    releases: list[dict] = []
    commits: list[dict] = []
    syncs: list[dict] = []
    seconds = int((END - START).total_seconds())
    commit_number = 0
    for w in range(WORKLOADS):
        cluster = "prod-a" if w % 2 else "prod-b"
        namespace = f"team{w % 40}"
        app = f"argocd/app{w // 3}" if w % 5 < 3 else f"{namespace}/svc{w}"  # Argo apps of up to 3 workloads
        external = w % 50 == 0
        times = sorted(rng.sample(range(seconds), RELEASES_PER_WORKLOAD))
        previous: list[str] = []
        for n, offset in enumerate(times):
            at = START + timedelta(seconds=offset)
            event_id = f"{cluster}/{namespace}/Deployment/w{w}/app/{iso(at)}"
            roll = rng.random()
            rollback, fix = n > 0 and roll < 0.05, 0.05 <= roll < 0.07
            untraceable = not external and 0.07 <= roll < 0.08
            releases.append({"event_id": event_id, "cluster": cluster, "namespace": namespace,
                             "workload": f"Deployment/w{w}", "app": app, "at": iso(at), "rollback": rollback,
                             "fix": fix, "traceable": not (external or untraceable), "external": external})
            if w % 7 == 0 and n % 10 == 3:  # a sidecar rolled out in the same rollout: one deployment
                releases.append({**releases[-1], "event_id": event_id + "/sidecar", "external": True, "traceable": False})
            if external or untraceable:
                continue
            shipped = list(previous) if rollback else []
            if not rollback:
                count = max(1, int(rng.expovariate(1 / MEAN_COMMITS)))
                for _ in range(count):
                    commit_number += 1
                    lead = rng.lognormvariate(9.5, 1.6)  # median ~3.7 h, a long tail of days
                    committed = None if rng.random() < 0.01 else iso(at - timedelta(seconds=lead))
                    shipped.append(f"{commit_number:040x}")
                    commits.append({"event_id": event_id, "commit_id": shipped[-1], "committed_at": committed})
                if previous and rng.random() < 0.05:  # a commit shipped in two releases
                    commits.append({"event_id": event_id, "commit_id": previous[0], "committed_at": None})
            else:
                commits += [{"event_id": event_id, "commit_id": c, "committed_at": None} for c in shipped]
            previous = shipped
            if app.startswith("argocd/") and rng.random() < 0.03:
                syncs.append({"cluster": cluster, "app": app, "finished_at": iso(at + timedelta(minutes=rng.randrange(1, 600))),
                              "signal": rng.choice(["sync_failed", "sync_degraded"])})
    return releases, commits, syncs


def inputs_of(releases: list[dict], commits: list[dict], syncs: list[dict]) -> DeliveryInputs:
    return DeliveryInputs(frame(releases, RELEASE_COLUMNS), frame(commits, COMMIT_COLUMNS), frame(syncs, SYNC_COLUMNS),
                          frame([], RAN_COLUMNS))


def c2c_year(inputs: DeliveryInputs) -> list[dict]:
    """The rows as the asset stores them: made as models, turned into documents at the store's door."""
    return to_documents(delivery_metrics(inputs, START, END, POLICY).rows)


def month_context(releases: list[dict], commits: list[dict]) -> tuple[dict, dict]:
    """What a backfill run finds in the store beside each month's window: every release's commits,
    and every commit's earlier production releases (the store's records and release events)."""
    release_of = {r["event_id"]: r for r in releases}
    by_event, earlier = defaultdict(list), defaultdict(list)
    for commit in commits:
        by_event[commit["event_id"]].append(commit)
        release = release_of[commit["event_id"]]
        if not release["rollback"]:
            earlier[commit["commit_id"]].append((release["cluster"], release["app"], release["at"]))
    return by_event, earlier


def c2c_by_month(releases: list[dict], syncs: list[dict], context: tuple[dict, dict], keep: bool = True) -> list[dict]:
    """The year a month at a time, each month given what a backfill run reads for it: the releases
    and syncs of its context window, its releases' commits, and where those ran before it. With
    ``keep`` false each month's rows are dropped once made, as a backfill run drops them once
    written, so a memory peak is one month's."""
    by_event, earlier = context
    rows: list[dict] = []
    month = START
    while month < END:
        after = (month + timedelta(days=32)).replace(day=1)
        lo, hi, first, last = iso(month - POLICY.recovery_horizon), iso(after + POLICY.failure_window), iso(month), iso(after)
        window = [r for r in releases if lo <= r["at"] < hi]
        in_month = [c for r in window if first <= r["at"] < last for c in by_event[r["event_id"]]]
        ran = [{"cluster": cluster, "app": app, "commit_id": c["commit_id"], "since": at}
               for c in in_month for cluster, app, at in earlier[c["commit_id"]] if at < first]
        month_syncs = [s for s in syncs if lo <= s["finished_at"] < hi]
        inputs = DeliveryInputs(frame(window, RELEASE_COLUMNS), frame(in_month, COMMIT_COLUMNS),
                                frame(month_syncs, SYNC_COLUMNS), frame(ran, RAN_COLUMNS))
        made = to_documents(delivery_metrics(inputs, month, after, POLICY).rows)
        if keep:
            rows += made
        del inputs, made, window, in_month, ran
        month = after
    return rows


def straightforward(releases: list[dict], commits: list[dict], syncs: list[dict]) -> dict[str, dict]:
    """The same rows, computed the plain way, workload by workload."""
    window, tolerance = POLICY.failure_window, POLICY.sync_tolerance
    parse = datetime.fromisoformat
    bad_syncs = defaultdict(list)
    for sync in syncs:
        bad_syncs[(sync["cluster"], sync["app"])].append((parse(sync["finished_at"]), sync["signal"]))
    by_workload = defaultdict(list)
    for release in releases:
        by_workload[(release["cluster"], release["namespace"], release["workload"])].append(release)

    deployments, event_deployment = [], {}
    for (cluster, namespace, workload), events in by_workload.items():
        events.sort(key=lambda e: (e["at"], e["event_id"]))
        folded: list[dict] = []
        for event in events:
            if folded and folded[-1]["at_text"] == event["at"]:
                d = folded[-1]
                d["rollback"] |= event["rollback"]
                d["fix"] |= event["fix"]
                d["traceable"] |= event["traceable"]
                d["external"] &= event["external"]
            else:
                d = {"id": f"{cluster}/{namespace}/{workload}@{event['at']}", "cluster": cluster, "app": event["app"],
                     "namespace": namespace, "at_text": event["at"], "at": parse(event["at"]), "rollback": event["rollback"],
                     "fix": event["fix"], "traceable": event["traceable"], "external": event["external"]}
                folded.append(d)
            event_deployment[event["event_id"]] = d
        for i, d in enumerate(folded):
            following = folded[i + 1] if i + 1 < len(folded) else None
            signals = set()
            if following and following["at"] - d["at"] <= window:
                if following["rollback"]:
                    signals.add("rolled_back")
                # A rollback is the remediation: a fix that follows it replaces a working version.
                if following["fix"] and not d["rollback"]:
                    signals.add("fix_release")
            for finished, signal in bad_syncs[(cluster, d["app"])]:
                probe = finished + tolerance
                if d["at"] <= probe and (following is None or probe < following["at"]) and finished <= d["at"] + window:
                    signals.add(signal)
            d["failed"], d["signals"] = bool(signals), signals
        for i, d in enumerate(folded):
            d["restored"] = next((x for x in folded[i + 1:] if not x["failed"]), None) if d["failed"] else None
        deployments += folded

    rows: dict[str, dict] = {}

    def row(scope: str, d: dict, day: str) -> dict:
        keeps_cluster, keeps_app = SCOPES[scope]
        cluster, app = d["cluster"] if keeps_cluster else ALL, d["app"] if keeps_app else ALL
        key = row_id(scope, cluster, app, day)
        if key not in rows:
            rows[key] = {"row_id": key, "scope": scope, "cluster": cluster, "app": app, "day": day, "observed_since": None,
                         "namespaces": set(), "workloads": set(), "deployments": 0, "rollbacks": 0, "fix_deployments": 0,
                         "untraceable_deployments": 0, "external_deployments": 0, "failed_deployments": 0,
                         "failures": [], "lead": [], "commits_without_time": 0, "recovery": [],
                         "failed_sync_attempts": 0}  # the history has no failed sync attempts
        return rows[key]

    start, end = START, END
    for d in deployments:
        for scope in SCOPES:
            if start <= d["at"] < end:
                figures = row(scope, d, d["at_text"][:10])
                figures["deployments"] += 1
                figures["rollbacks"] += d["rollback"]
                figures["fix_deployments"] += d["fix"]
                figures["untraceable_deployments"] += not d["traceable"] and not d["external"]
                figures["external_deployments"] += d["external"]
                figures["failed_deployments"] += d["failed"]
                figures["namespaces"].add(d["namespace"])
                figures["workloads"].add(f"{d['namespace']}/{d['id'].split('/', 2)[2].split('@')[0]}")
                if d["failed"]:
                    figures["failures"].append((d["at"], d["id"], sorted(d["signals"])))
            restored = d["restored"]
            if restored and start <= restored["at"] < end:
                row(scope, d, restored["at_text"][:10])["recovery"].append(((restored["at"] - d["at"]).total_seconds(), d["id"]))

    rollback_events = {r["event_id"] for r in releases if r["rollback"]}
    pairs = sorted({(event_deployment[c["event_id"]]["at"], event_deployment[c["event_id"]]["id"], c["commit_id"],
                     c["committed_at"]) for c in commits if c["event_id"] not in rollback_events})
    by_id = {d["id"]: d for d in deployments}
    for scope in SCOPES:
        keeps_cluster, keeps_app = SCOPES[scope]
        seen: set[tuple[str, str, str]] = set()
        for at, deployment, commit, committed in pairs:
            d = by_id[deployment]
            key = (d["cluster"] if keeps_cluster else ALL, d["app"] if keeps_app else ALL, commit)
            if key in seen:
                continue
            seen.add(key)
            if not start <= at < end:
                continue
            lead = None if committed is None else (at - parse(committed)).total_seconds()
            if lead is not None and lead >= 0:
                row(scope, d, d["at_text"][:10])["lead"].append((lead, commit))
            else:
                row(scope, d, d["at_text"][:10])["commits_without_time"] += 1

    documents = {}
    for key, figures in rows.items():
        lead = sorted(figures.pop("lead"))
        recovery = sorted(figures.pop("recovery"))
        failures = sorted(figures.pop("failures"))
        seconds = [s for s, _ in lead]
        recoveries = [s for s, _ in recovery]
        deployed, failed = figures["deployments"], figures["failed_deployments"]
        documents[key] = {
            **figures,
            "namespaces": sorted(figures["namespaces"]),
            "workloads": sorted(figures["workloads"]),
            "change_failure_rate": failed / deployed if deployed else None,
            "failures": [{"deployment": d, "signals": signals} for _, d, signals in failures],
            "lead_time_commits": [c for _, c in lead],
            "lead_time_seconds": seconds,
            "lead_time_count": len(seconds),
            "lead_time_median_seconds": percentile(seconds, 0.5),
            "lead_time_p90_seconds": percentile(seconds, 0.9),
            "recovered_deployments": [d for _, d in recovery],
            "recovery_seconds": recoveries,
            "recovery_count": len(recoveries),
            "recovery_median_seconds": percentile(recoveries, 0.5),
        }
    return documents


def same(c2c_rows: list[dict], plain: dict[str, dict]) -> list[str]:
    """Row ids on which the two computations' documents differ, field for field."""
    ours = {r["row_id"]: r for r in c2c_rows}
    return sorted(key for key in set(ours) | set(plain) if ours.get(key) != plain.get(key))


def best_of(runs: int, work: Any) -> tuple[float, float, Any]:
    """The shortest of ``runs`` timings, wall clock and this process's CPU time (other work shares
    the machine: the CPU time is what the computation itself costs), and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        gc.collect()
        began, began_cpu = time.perf_counter(), time.process_time()
        result = work()
        walls.append(time.perf_counter() - began)
        cpus.append(time.process_time() - began_cpu)
    return min(walls), min(cpus), result


def main() -> int:
    rng = random.Random(2025)
    releases, commits, syncs = generate(rng)
    inputs = inputs_of(releases, commits, syncs)
    distinct = len({c["commit_id"] for c in commits})
    print(f"history: {WORKLOADS} workloads, {len(releases):,} release events, {distinct:,} commits ({len(commits):,} "
          f"release-commit pairs), {len(syncs):,} failed or degraded syncs, {START:%Y-%m-%d} to {END:%Y-%m-%d}")
    assert len(releases) >= 100_000 and distinct >= 1_000_000

    c2c_seconds, c2c_cpu, rows = best_of(2, lambda: c2c_year(inputs))
    deployments = sum(r["deployments"] for r in rows if r["scope"] == "all")
    print(f"c2c (pandas), the year in one call: {c2c_seconds:.2f} s (CPU {c2c_cpu:.2f} s; best of 2) -> "
          f"{len(rows):,} rows, {deployments:,} deployments")
    plain_seconds, plain_cpu, plain = best_of(2, lambda: straightforward(releases, commits, syncs))
    print(f"straightforward per-workload computation: {plain_seconds:.2f} s (CPU {plain_cpu:.2f} s; best of 2) -> "
          f"{len(plain):,} rows")
    wrong = same(rows, plain)
    assert not wrong, f"the two computations disagree on {len(wrong)} rows, e.g. {wrong[:5]}"
    print(f"  the two agree on every document, field for field; c2c is {plain_seconds / c2c_seconds:.1f}x faster "
          f"(CPU time: {plain_cpu / c2c_cpu:.1f}x)")

    everything = [r for r in rows if r["scope"] == "all"]
    leads = [s for r in everything for s in r["lead_time_seconds"]]
    recoveries = [s for r in everything for s in r["recovery_seconds"]]
    failed = sum(r["failed_deployments"] for r in everything)
    print(f"  the year's keys: {deployments / 365:.1f} deployments a day; lead time median {percentile(leads, 0.5) / 3600:.2f} h "
          f"(p90 {percentile(leads, 0.9) / 3600:.1f} h, {len(leads):,} commits); change failure rate {failed / deployments:.1%}; "
          f"recovery median {percentile(recoveries, 0.5) / 3600:.2f} h")

    context = month_context(releases, commits)
    month_seconds, month_cpu, month_rows = best_of(1, lambda: c2c_by_month(releases, syncs, context))
    print(f"c2c a month at a time (a backfill's way; cutting each month's inputs timed too): {month_seconds:.2f} s "
          f"(CPU {month_cpu:.2f} s) -> {len(month_rows):,} rows")
    by_month = sorted(month_rows, key=lambda r: r["row_id"])  # each month's rows come sorted
    assert by_month == rows, "a month at a time must store exactly what the year at once does"
    print("  the same documents as the year at once")

    peaks = []
    for what, run in (("the year at once", lambda: c2c_year(inputs)),
                      ("a month at a time", lambda: c2c_by_month(releases, syncs, context, keep=False))):
        gc.collect()
        tracemalloc.start()
        run()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peaks.append(peak)
        print(f"peak memory, {what}: {peak / 2**20:,.0f} MiB of Python allocations beyond the year's inputs "
              f"({peak / len(commits):,.0f} bytes a commit of the year)")
    inputs_bytes = sum(int(df.memory_usage(deep=True).sum()) for df in (inputs.releases, inputs.commits, inputs.syncs))
    print(f"  (the inputs themselves, as DataFrames: {inputs_bytes / 2**20:,.0f} MiB; a month at a time: the peak "
          f"of one month's run, its rows dropped once made as a backfill run drops them once written)")
    # The whole process, for scale: it also holds the generated history as Python dicts, its
    # DataFrames, the straightforward computation's documents and the context of the months.
    print(f"peak RSS of the whole benchmark process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:,.2f} GiB")

    # Seconds and ratio in CPU time: on a shared machine the wall clock also counts other
    # processes' turns, unevenly between the two sides (both are printed above).
    ok = c2c_cpu < 20 and plain_cpu / c2c_cpu >= 3 and peaks[0] < GIB and peaks[1] < GIB / 4
    print(f"goal: the year in < 20 s of CPU, >= 3x the straightforward computation's CPU time, peak memory "
          f"< 1 GiB at once and < 256 MiB a month at a time: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
