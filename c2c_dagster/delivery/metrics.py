"""DORA's four keys from what actually ran: pure pandas, release events in, one row per scope and day out.

The raw material is c2c's release events (``traceability/releases.py``): every change of the digest
a workload container runs, seen in the cluster, not inferred from a pipeline run or a sync. The
definitions, each against DORA's (dora.dev, "DORA's software delivery metrics: the four keys"):

* **Deployment** — DORA: a change deployed to production. Here: a change of what a production
  workload runs. The release events of one workload's containers that started at the same moment
  (an app container and its sidecar rolled out together) are one deployment. Its time, the
  *release time*, is the event's ``at``: the ``startTime`` of the first pod that ran the new digest,
  i.e. when the new digest ran — not when CI finished (the image may wait days) nor when Argo CD
  marked its sync finished (after the pods were healthy, and never for a ``kubectl`` change).
  Kubelet sets ``startTime`` when it accepts the pod, just before pulling the image; where a pod had
  none, the scan that first saw the digest. Workloads already running when c2c first scanned a
  cluster are history, not deployments (``release_events`` starts each workload's history at its
  first observation), so a first import never floods the figures. A workload's very first rollout
  is not counted either: it is not a change of a running digest.
* **Deployment frequency** — DORA: how often changes are deployed to production. Here: deployments
  per day of each scope (``deployments``); ``c2c dora`` divides a period's sum by the days c2c
  observed the clusters in it. Releases of external (third-party) images and of images no build
  produced (``untraceable``) count: they changed what production runs. Rollbacks count too.
* **Lead time for changes** — DORA: the time it takes a commit to get into production. Here: for
  every commit of the build that made a deployment's new digest (the build's commit range, as
  ``c2c-build-metadata`` or Jenkins' change sets recorded it): release time minus commit time
  (the committer date: when the commit took its final form, after any rebase), each commit counted
  once, at its first release in the scope. A commit that already ran there is not new: one a digest
  running at c2c's first scan carried (a rebuild's range can list it again), one released before,
  and every commit of a rollback. Median and p90 per scope and period. Deployments
  without a build (external and untraceable images) have no commits, hence no lead time; commits
  without a recorded time, or with a time after the release (a skewed clock), are counted in
  ``commits_without_time`` and left out.
* **Change failure rate** — DORA: the share of deployments that cause a failure in production and
  need remediation (a hotfix, a rollback). Here: the share of deployments followed, within the
  failure window, by any of: a *rollback* replacing it (the next deployment of that workload
  returns to a digest that ran there before), a *fix release* replacing it (``policy.py``), or a
  *failed or degraded sync* of its Argo CD app while it was the workload's current deployment (an
  operation ending ``Failed``/``Error``, or health ``Degraded``). A failed deployment is counted
  once however many signals it has; they are listed on the row. The failure itself is the signal:
  no incident system is needed.
* **Failed deployment recovery time** — DORA: how long it takes to recover from a failed
  deployment. Here: from a failed deployment to the next deployment of the same workload that did
  not fail (the rollback or the fix that restored it), counted on the day of that restoring
  deployment. A failure still open has no recovery time yet.

Scopes: every figure is kept for each (cluster, app), each cluster (all its apps), each app (all
clusters) and everything, so a period's median is computed from the lead times of exactly that
scope, each commit once (``"*"`` stands for "all"). An *app* is the Argo CD application that
manages the workload when c2c knows it, else the workload itself (``namespace/name``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from c2c_dagster.delivery.bands import quantile_fraction
from c2c_dagster.delivery.policy import DeliveryPolicy
from c2c_dagster.delivery.rows import ALL, SCOPES, row_id


# One row per release event (a container's digest change) of a production workload.
RELEASE_COLUMNS = {
    "event_id": "str",
    "cluster": "str",
    "namespace": "str",
    "workload": "str",  # Kind/name
    "app": "str",
    "at": "datetime64[ns, UTC]",
    "rollback": "bool",
    "fix": "bool",  # its build is a fix release's (policy.DeliveryPolicy.is_fix)
    "traceable": "bool",  # a build made the new digest
    "external": "bool",  # a third-party image
}
# The commits each release's build brought (the build's commit range).
COMMIT_COLUMNS = {"event_id": "str", "commit_id": "str", "committed_at": "datetime64[ns, UTC]"}
# Failed or degraded syncs: signal is "sync_failed" or "sync_degraded".
SYNC_COLUMNS = {"cluster": "str", "app": "str", "finished_at": "datetime64[ns, UTC]", "signal": "str"}
# Commits that ran in production from ``since`` on, by cluster and app, whatever the releases given
# say: digests running at c2c's first scan, and releases outside the computed range.
RAN_COLUMNS = {"cluster": "str", "app": "str", "commit_id": "str", "since": "datetime64[ns, UTC]"}

SIGNAL_ROLLBACK = "rolled_back"
SIGNAL_FIX = "fix_release"


def frame(rows: Sequence[Mapping[str, Any]] | None, columns: Mapping[str, str]) -> pd.DataFrame:
    """A DataFrame with exactly ``columns`` and their types (an empty one too)."""
    data = pd.DataFrame(list(rows or []), columns=list(columns))
    for name, kind in columns.items():
        if kind.startswith("datetime"):
            data[name] = pd.to_datetime(data[name], utc=True, format="ISO8601")
        elif kind == "bool":
            data[name] = data[name].fillna(False).astype(bool)
        else:
            data[name] = data[name].astype(object)
    return data


@dataclass
class DeliveryInputs:
    releases: pd.DataFrame
    commits: pd.DataFrame
    syncs: pd.DataFrame
    ran: pd.DataFrame = field(default_factory=lambda: frame([], RAN_COLUMNS))
    # cluster -> when c2c first scanned it: days before have no rows, days after count as observed.
    observed_since: Mapping[str, datetime] = field(default_factory=dict)


@dataclass
class DeliveryResult:
    rows: list[dict[str, Any]]  # the documents, every scope, every day of the range
    deployments: pd.DataFrame  # the judged deployments of the range (for previews)


def _iso(moment: pd.Timestamp) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{moment.microsecond // 1000:03d}" if moment.microsecond else "") + "Z"


def deployments_of(releases: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Release events folded into deployments (one per workload and release time), and the map
    from each event to its deployment."""
    keys = ["cluster", "namespace", "workload", "at"]
    ordered = releases.sort_values([*keys, "event_id"], kind="stable")
    grouped = ordered.groupby(keys, sort=False)
    deps = grouped.agg(app=("app", "first"), rollback=("rollback", "any"), fix=("fix", "any"),
                       traceable=("traceable", "any"), external=("external", "all")).reset_index()
    chain = deps["cluster"] + "/" + deps["namespace"] + "/" + deps["workload"]
    deps["chain"] = chain
    deps["deployment_id"] = chain + "@" + deps["at"].map(_iso) if len(deps) else pd.Series(dtype=object)
    event_map = ordered[[*keys, "event_id"]].merge(deps[[*keys, "deployment_id"]], on=keys)[["event_id", "deployment_id"]]
    return deps, event_map


def judge(deps: pd.DataFrame, syncs: pd.DataFrame, policy: DeliveryPolicy) -> pd.DataFrame:
    """Which deployments failed, why, and which later deployment restored each (module docstring)."""
    d = deps.sort_values(["chain", "at"], kind="stable").reset_index(drop=True)
    window = pd.Timedelta(policy.failure_window)
    by_chain = d.groupby("chain", sort=False)
    next_at = by_chain["at"].shift(-1)
    replaced_soon = (next_at - d["at"]) <= window
    rolled_back = replaced_soon & by_chain["rollback"].shift(-1, fill_value=False).astype(bool)
    fixed = replaced_soon & by_chain["fix"].shift(-1, fill_value=False).astype(bool)

    signals: list[set[str]] = [set() for _ in range(len(d))]
    for row in np.flatnonzero(rolled_back.to_numpy()):
        signals[row].add(SIGNAL_ROLLBACK)
    for row in np.flatnonzero(fixed.to_numpy()):
        signals[row].add(SIGNAL_FIX)
    for row, signal in _sync_blame(d, syncs, policy):
        signals[row].add(signal)
    d["signals"] = [sorted(s) for s in signals]
    d["failed"] = np.array([bool(s) for s in signals], dtype=bool)

    # The next deployment of the workload that did not fail restores every failed one before it.
    ok_at = d["at"].where(~d["failed"])
    ok_id = d["deployment_id"].where(~d["failed"])
    d["restored_at"] = ok_at.groupby(d["chain"]).shift(-1).groupby(d["chain"]).bfill()
    d["restored_by"] = ok_id.groupby(d["chain"]).shift(-1).groupby(d["chain"]).bfill()
    d.loc[~d["failed"], ["restored_at", "restored_by"]] = None
    return d


def _sync_blame(d: pd.DataFrame, syncs: pd.DataFrame, policy: DeliveryPolicy) -> list[tuple[int, str]]:
    """(row, signal) for each failed or degraded sync: it blames, in every workload of its app, the
    deployment current when it finished (within the failure window of that deployment)."""
    if syncs.empty or d.empty:
        return []
    workloads = d[["cluster", "app", "chain"]].drop_duplicates()
    pairs = syncs.merge(workloads, on=["cluster", "app"])
    if pairs.empty:
        return []
    # A sync finishing up to the tolerance before a deployment's first pod started rolled it out.
    pairs["probe"] = pairs["finished_at"] + pd.Timedelta(policy.sync_tolerance)
    pairs = pairs.sort_values("probe", kind="stable")
    current = d[["chain", "at"]].assign(row=np.arange(len(d))).sort_values("at", kind="stable")
    matched = pd.merge_asof(pairs, current, left_on="probe", right_on="at", by="chain", direction="backward")
    matched = matched[matched["row"].notna()]
    matched = matched[matched["finished_at"] <= matched["at"] + pd.Timedelta(policy.failure_window)]
    return list(zip(matched["row"].astype(int), matched["signal"], strict=True))


def grouped_percentiles(codes: np.ndarray, values: np.ndarray, groups: int, qs: Sequence[float]) -> list[np.ndarray]:
    """``bands.percentile`` for many groups at once, the same arithmetic: ``codes`` (0..groups-1)
    with ``values`` sorted by value within each code. NaN for a group without values."""
    counts = np.bincount(codes, minlength=groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    has = counts > 0
    out = []
    for q in qs:
        num, den = quantile_fraction(q)
        lower, rest = np.divmod((counts[has] - 1) * num, den)
        upper = np.minimum(lower + 1, counts[has] - 1)
        result = np.full(groups, np.nan)
        result[has] = (values[starts[has] + lower] * (den - rest) + values[starts[has] + upper] * rest) / den
        out.append(result)
    return out


def _first_releases(deps: pd.DataFrame, commits: pd.DataFrame, event_map: pd.DataFrame,
                    rollbacks: pd.Series) -> pd.DataFrame:
    """One row per (deployment, commit) with the deployment's scope fields and the lead time.

    A rollback's commits are left out: it returns to a digest that ran in that workload before,
    so they were in production already (even when that was before c2c's first scan, which no
    release event records)."""
    c = commits[~commits["event_id"].isin(rollbacks)]
    c = c.merge(event_map, on="event_id").drop_duplicates(["deployment_id", "commit_id"])
    c = c.merge(deps[["deployment_id", "cluster", "app", "at"]], on="deployment_id")
    c["seconds"] = (c["at"] - c["committed_at"]).dt.total_seconds()
    return c.sort_values(["at", "deployment_id", "commit_id"], kind="stable")


def _scoped(data: pd.DataFrame, scope: str) -> pd.DataFrame:
    keeps_cluster, keeps_app = SCOPES[scope]
    return data.assign(scope_cluster=data["cluster"] if keeps_cluster else ALL,
                       scope_app=data["app"] if keeps_app else ALL)


KEYS = ["scope_cluster", "scope_app", "day"]


def _split(data: pd.DataFrame, columns: Sequence[str]) -> dict[tuple[str, str, pd.Timestamp], dict[str, list[Any]]]:
    """Lists of ``columns`` per (scope cluster, scope app, day) of ``data`` (already in list order)."""
    if data.empty:
        return {}
    data = data.sort_values(KEYS, kind="stable")
    codes = data.groupby(KEYS, sort=False).ngroup().to_numpy()
    bounds = np.flatnonzero(np.diff(codes)) + 1
    firsts = data[KEYS].iloc[np.concatenate(([0], bounds))].itertuples(index=False, name=None)
    parts = {c: np.split(data[c].to_numpy(), bounds) for c in columns}
    return {key: {c: parts[c][i].tolist() for c in columns} for i, key in enumerate(firsts)}


def _medians(values: dict[tuple, dict[str, list[Any]]], column: str) -> dict[tuple, tuple[float, float]]:
    """(median, p90) of each group's ``column`` list (sorted ascending already)."""
    keys = list(values)
    if not keys:
        return {}
    lengths = np.array([len(values[k][column]) for k in keys])
    flat = np.array([v for k in keys for v in values[k][column]], dtype=float)
    codes = np.repeat(np.arange(len(keys)), lengths)
    median, p90 = grouped_percentiles(codes, flat, len(keys), (0.5, 0.9))
    return {k: (float(median[i]), float(p90[i])) for i, k in enumerate(keys)}


def delivery_metrics(inputs: DeliveryInputs, start: datetime, end: datetime, policy: DeliveryPolicy) -> DeliveryResult:
    """The rows of every scope for the UTC days in [start, end).

    ``inputs.releases`` must reach back to ``start - policy.recovery_horizon`` (the failed
    deployments a restoring one in the range may end) and forward to ``end + failure_window``
    (the signals that mark a deployment of the range failed); ``inputs.syncs`` likewise.
    ``inputs.commits`` needs the commits of the range's releases (more are harmless), and
    ``inputs.ran`` when each of them first ran in production, as far as the store knows.
    """
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    deps, event_map = deployments_of(inputs.releases)
    deps = judge(deps, inputs.syncs, policy)
    deps["day"] = deps["at"].dt.floor("D")
    in_range = deps[(deps["at"] >= start_ts) & (deps["at"] < end_ts)]
    restored = deps[deps["failed"] & (deps["restored_at"] >= start_ts) & (deps["restored_at"] < end_ts)].copy()
    restored["day"] = pd.to_datetime(restored["restored_at"], utc=True).dt.floor("D")
    restored["recovery_seconds"] = (pd.to_datetime(restored["restored_at"], utc=True) - restored["at"]).dt.total_seconds()
    restored = restored.sort_values(["recovery_seconds", "deployment_id"], kind="stable")
    rollback_events = inputs.releases.loc[inputs.releases["rollback"], "event_id"]
    first = _first_releases(deps, inputs.commits, event_map, rollback_events)

    rows: list[dict[str, Any]] = []
    for scope in SCOPES:
        rows += _scope_rows(scope, in_range, restored, first, inputs, start_ts, end_ts)
    rows.sort(key=lambda r: r["row_id"])
    return DeliveryResult(rows=rows, deployments=in_range)


def _scope_rows(scope: str, in_range: pd.DataFrame, restored: pd.DataFrame, first: pd.DataFrame,
                inputs: DeliveryInputs, start: pd.Timestamp, end: pd.Timestamp) -> list[dict[str, Any]]:
    deps = _scoped(in_range, scope)
    counts: dict[tuple, dict[str, Any]] = {}
    if not deps.empty:
        totals = deps.assign(
            deployments=1, untraceable=~deps["traceable"] & ~deps["external"],
        ).groupby(KEYS).agg(
            deployments=("deployments", "sum"), rollbacks=("rollback", "sum"), fixes=("fix", "sum"),
            failed=("failed", "sum"), untraceable=("untraceable", "sum"), external=("external", "sum"),
        )
        counts = {key: row for key, row in zip(totals.index, totals.to_dict("records"), strict=True)}
    failures = _split(deps[deps["failed"]].sort_values(["at", "deployment_id"], kind="stable"),
                      ["deployment_id", "signals"])
    workloads = _split(deps.assign(workload_key=deps["namespace"] + "/" + deps["workload"]),
                       ["workload_key", "namespace", "cluster"])
    recoveries = _split(_scoped(restored, scope), ["deployment_id", "recovery_seconds"])

    # Each commit once per scope, at its first release in that scope; a commit that ran there
    # earlier (inputs.ran: at the first scan, or released outside the range) is not new. On a tie
    # the release counts: its own digest's record says it ran since that very release.
    ran = _scoped(inputs.ran, scope)
    candidates = pd.concat([
        _scoped(first, scope)[["scope_cluster", "scope_app", "commit_id", "at", "seconds"]].assign(ran_before=False),
        pd.DataFrame({"scope_cluster": ran["scope_cluster"], "scope_app": ran["scope_app"], "commit_id": ran["commit_id"],
                      "at": ran["since"], "seconds": np.nan, "ran_before": True}),
    ], ignore_index=True) if not ran.empty else _scoped(first, scope).assign(ran_before=False)
    candidates = candidates.sort_values(["at", "ran_before"], kind="stable")
    scoped_first = candidates.drop_duplicates(["scope_cluster", "scope_app", "commit_id"])
    scoped_first = scoped_first[~scoped_first["ran_before"].astype(bool)]
    scoped_first = scoped_first[(scoped_first["at"] >= start) & (scoped_first["at"] < end)]
    scoped_first = scoped_first.assign(day=scoped_first["at"].dt.floor("D"))
    dated_mask = scoped_first["seconds"].notna() & (scoped_first["seconds"] >= 0)
    dated = scoped_first[dated_mask].sort_values(["seconds", "commit_id"], kind="stable")
    undated = scoped_first[~dated_mask].groupby(KEYS).size().to_dict() if (~dated_mask).any() else {}
    leads = _split(dated, ["commit_id", "seconds"])
    lead_stats = _medians(leads, "seconds")
    recovery_stats = _medians(recoveries, "recovery_seconds")

    keys = set(counts) | set(leads) | set(recoveries) | set(undated)
    keys |= _observed_days(scope, inputs.observed_since, start, end)
    observed = _observed_since(inputs.observed_since)
    rows = []
    for key in sorted(keys):
        cluster, app, day = key
        count = counts.get(key, {})
        deployments = int(count.get("deployments", 0))
        failed = int(count.get("failed", 0))
        lead = leads.get(key, {"commit_id": [], "seconds": []})
        recovery = recoveries.get(key, {"deployment_id": [], "recovery_seconds": []})
        fails = failures.get(key, {"deployment_id": [], "signals": []})
        where = workloads.get(key, {"workload_key": [], "namespace": [], "cluster": []})
        lead_median, lead_p90 = lead_stats.get(key, (None, None))
        recovery_median, _ = recovery_stats.get(key, (None, None))
        day_text = day.strftime("%Y-%m-%d")
        rows.append({
            "row_id": row_id(scope, cluster, app, day_text),
            "scope": scope,
            "cluster": cluster,
            "app": app,
            "day": day_text,
            # An app's rows across clusters: the first scan of the clusters it was deployed to.
            "observed_since": min((observed[c] for c in set(where["cluster"]) if c in observed), default=None)
            if scope == "app" else observed.get(cluster),
            "namespaces": sorted(set(where["namespace"])),
            "workloads": sorted(set(where["workload_key"])),
            "deployments": deployments,
            "rollbacks": int(count.get("rollbacks", 0)),
            "fix_deployments": int(count.get("fixes", 0)),
            "untraceable_deployments": int(count.get("untraceable", 0)),
            "external_deployments": int(count.get("external", 0)),
            "failed_deployments": failed,
            "change_failure_rate": failed / deployments if deployments else None,
            "failures": [{"deployment": d, "signals": s} for d, s in zip(fails["deployment_id"], fails["signals"], strict=True)],
            "lead_time_commits": lead["commit_id"],
            "lead_time_seconds": lead["seconds"],
            "lead_time_count": len(lead["seconds"]),
            "lead_time_median_seconds": lead_median,
            "lead_time_p90_seconds": lead_p90,
            "commits_without_time": int(undated.get(key, 0)),
            "recovered_deployments": recovery["deployment_id"],
            "recovery_seconds": recovery["recovery_seconds"],
            "recovery_count": len(recovery["recovery_seconds"]),
            "recovery_median_seconds": recovery_median,
        })
    return rows


def _observed_since(observed: Mapping[str, datetime]) -> dict[str, str]:
    """Each cluster's first scan, and for "every cluster" the earliest of them."""
    text = {cluster: _iso(pd.Timestamp(moment)) for cluster, moment in observed.items()}
    if observed:
        text[ALL] = _iso(pd.Timestamp(min(observed.values())))
    return text


def _observed_days(scope: str, observed: Mapping[str, datetime], start: pd.Timestamp, end: pd.Timestamp) -> set[tuple]:
    """Rows for the scopes without an app on every day c2c observed, deployments or not, so a quiet
    day reads as zero and a day before the first scan reads as nothing."""
    keeps_cluster, keeps_app = SCOPES[scope]
    if keeps_app or not observed:
        return set()
    firsts = {cluster: pd.Timestamp(moment).floor("D") for cluster, moment in observed.items()}
    if not keeps_cluster:
        firsts = {ALL: min(firsts.values())}
    days = pd.date_range(start.floor("D"), end - timedelta(microseconds=1), freq="D", tz="UTC")
    return {(cluster, ALL, day) for cluster, first in firsts.items() for day in days if day >= first}
