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
  need remediation (a hotfix, a rollback). Here: the share of deployments that failed, a deployment
  failing when, within the failure window, it is *rolled back* (the next deployment of that
  workload returns to a digest that ran there before), *fixed* (the next deployment is a fix
  release, ``policy.py``), or *its own rollout fails* (a sync of its Argo CD app that changed the
  cluster ends ``Failed``/``Error`` or leaves the app ``Degraded`` while it is the workload's
  current deployment). A rollback restores service: it is the remediation, not a failure, so a
  fix release following a rollback does not make the rollback failed (a rollback can still fail
  by its own rollout). A sync that failed before applying anything deployed nothing and failed
  no running deployment: it is counted apart, as ``failed_sync_attempts`` of its app and day,
  never in the rate. A failed deployment is counted once however many signals it has; they are
  listed on the row. The failure itself is the signal: no incident system is needed.
* **Failed deployment recovery time** — DORA: how long it takes to recover from a failed
  deployment. Here: from a failed deployment to the first later deployment of the same workload
  that restored a working version (did not fail itself): the rollback when there was one, else
  the fix; counted on the day of that restoring deployment. A failure still open has no
  recovery time yet.

Scopes: every figure is kept for each (cluster, app), each cluster (all its apps), each app (all
clusters) and everything, so a period's median is computed from the lead times of exactly that
scope, each commit once (``"*"`` stands for "all"). An *app* is the Argo CD application that
manages the workload when c2c knows it, else the workload itself (``namespace/name``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from c2c_dagster.delivery.bands import quantile_fraction
from c2c_dagster.delivery.policy import DeliveryPolicy
from c2c_dagster.delivery.rows import ALL, SCOPES, row_id
from c2c_dagster.documents.base import gc_paused
from c2c_dagster.documents.delivery import DeliveryMetricsRow, DeploymentFailure


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
# Failed or degraded syncs that changed the cluster: signal is "sync_failed" or "sync_degraded".
SYNC_COLUMNS = {"cluster": "str", "app": "str", "finished_at": "datetime64[ns, UTC]", "signal": "str"}
# Failed syncs that applied nothing: attempts, not deployments; counted per app and day.
ATTEMPT_COLUMNS = {"cluster": "str", "app": "str", "finished_at": "datetime64[ns, UTC]"}
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
    attempts: pd.DataFrame = field(default_factory=lambda: frame([], ATTEMPT_COLUMNS))


@dataclass
class DeliveryResult:
    rows: list[DeliveryMetricsRow]  # every scope, every day of the range
    deployments: pd.DataFrame  # the judged deployments of the range (for previews)


def _iso(moment: pd.Timestamp) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{moment.microsecond // 1000:03d}" if moment.microsecond else "") + "Z"


def _iso_all(moments: pd.Series) -> pd.Series:
    """``_iso`` of every moment at once (numpy's formatting, milliseconds only where there are some)."""
    values = moments.to_numpy(dtype="datetime64[ns]")
    seconds = np.datetime_as_string(values, unit="s")
    with_ms = np.datetime_as_string(values, unit="ms")
    has_ms = (values.view(np.int64) % 10**9) >= 1000  # as _iso: milliseconds when there is a fraction
    return pd.Series(np.char.add(np.where(has_ms, with_ms, seconds), "Z"), index=moments.index).astype(object)


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
    deps["deployment_id"] = chain + "@" + _iso_all(deps["at"]) if len(deps) else pd.Series(dtype=object)
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
    # A rollback is the remediation: the fix that follows it replaces a working version.
    fixed = replaced_soon & by_chain["fix"].shift(-1, fill_value=False).astype(bool) & ~d["rollback"].astype(bool)

    signals: list[set[str]] = [set() for _ in range(len(d))]
    for row in np.flatnonzero(rolled_back.to_numpy()):
        signals[row].add(SIGNAL_ROLLBACK)
    for row in np.flatnonzero(fixed.to_numpy()):
        signals[row].add(SIGNAL_FIX)
    for row, signal in _sync_blame(d, syncs, policy):
        signals[row].add(signal)
    d["signals"] = [sorted(s) for s in signals]
    d["failed"] = np.array([bool(s) for s in signals], dtype=bool)

    # The next deployment of the workload that did not fail (the rollback, else the fix) restores
    # every failed one before it.
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


NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True)
class _Codes:
    """Clusters and apps as sorted codes, and the scope-and-day key every row is grouped by: one
    int64 per (cluster or ALL, app or ALL, day), so a year of commits sorts and groups as numbers."""

    clusters: np.ndarray  # sorted names
    apps: np.ndarray
    first_day: int  # days since the epoch
    days: int

    def key(self, scope: str, cluster: np.ndarray, app: np.ndarray, day: np.ndarray) -> np.ndarray:
        keeps_cluster, keeps_app = SCOPES[scope]
        c = cluster + 1 if keeps_cluster else np.zeros(len(day), dtype=np.int64)
        a = app + 1 if keeps_app else np.zeros(len(day), dtype=np.int64)
        return (c * (len(self.apps) + 1) + a) * self.days + (day - self.first_day)

    def labels(self, keys: np.ndarray) -> tuple[list[str], list[str], list[str]]:
        """``key`` undone: the cluster (or ALL), the app (or ALL) and the day (YYYY-MM-DD) of each key."""
        rest, day = np.divmod(keys, self.days)
        cluster, app = np.divmod(rest, len(self.apps) + 1)
        clusters = np.concatenate(([ALL], self.clusters)).astype(object)[cluster].tolist()
        apps = np.concatenate(([ALL], self.apps)).astype(object)[app].tolist()
        return clusters, apps, [_day_text(self.first_day + d) for d in day.tolist()]


@lru_cache(maxsize=4096)
def _day_text(days_since_epoch: int) -> str:
    return str(np.datetime64(days_since_epoch, "D"))


def _codes(names: pd.Series, known: np.ndarray) -> np.ndarray:
    return np.searchsorted(known, names.to_numpy(dtype=object)).astype(np.int64) if len(names) else np.zeros(0, np.int64)


class _Groups:
    """Values of some columns grouped by key, in a given order; read back aligned with the sorted
    keys of the rows being built: per row, a slice of each column's Python list (the documents
    want lists), and group statistics of a numeric column."""

    def __init__(self, keys: np.ndarray, order: np.ndarray, columns: Mapping[str, np.ndarray]):
        ordered = keys[order]
        bounds = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
        self.starts = np.concatenate(([0], bounds)) if len(order) else np.zeros(0, np.int64)
        self.ends = np.concatenate((bounds, [len(order)])) if len(order) else np.zeros(0, np.int64)
        self.keys = ordered[self.starts] if len(order) else np.zeros(0, np.int64)
        self.arrays = {name: column[order] for name, column in columns.items()}

    def align(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each row key: the index of its group, and whether it has one."""
        if not len(self.keys):
            return np.zeros(len(rows), np.int64), np.zeros(len(rows), bool)
        index = np.minimum(np.searchsorted(self.keys, rows), len(self.keys) - 1)
        return index, self.keys[index] == rows

    def sizes(self, rows: np.ndarray) -> list[int]:
        """How many values each row key has (0 for a key without a group)."""
        if not len(self.keys):
            return [0] * len(rows)
        index, hit = self.align(rows)
        return np.where(hit, (self.ends - self.starts)[index], 0).tolist()

    def sums(self, rows: np.ndarray, column: str) -> list[int]:
        """Each row key's sum of a numeric column (0 for a key without a group)."""
        if not len(self.keys):
            return [0] * len(rows)
        index, hit = self.align(rows)
        return np.where(hit, np.add.reduceat(self.arrays[column], self.starts)[index], 0).tolist()

    def lists(self, rows: np.ndarray, column: str) -> list[list[Any]]:
        if not len(self.keys):
            return [[] for _ in range(len(rows))]
        index, hit = self.align(rows)
        values = self.arrays[column].tolist()
        found = np.flatnonzero(hit)
        result: list[list[Any]] = [[] for _ in range(len(rows))]
        for row, a, b in zip(found.tolist(), self.starts[index[found]].tolist(), self.ends[index[found]].tolist(), strict=True):
            result[row] = values[a:b]
        return result

    def stats(self, rows: np.ndarray, column: str) -> tuple[list[float | None], list[float | None]]:
        """(medians, p90s) per row of a numeric column sorted ascending within each group; None
        for a row without values."""
        index, hit = self.align(rows)
        if not len(self.keys):
            return [None] * len(rows), [None] * len(rows)
        lengths = self.ends - self.starts
        median, p90 = grouped_percentiles(np.repeat(np.arange(len(lengths)), lengths), self.arrays[column].astype(float),
                                          len(lengths), (0.5, 0.9))
        return ([v if h else None for v, h in zip(median[index].tolist(), hit.tolist(), strict=True)],
                [v if h else None for v, h in zip(p90[index].tolist(), hit.tolist(), strict=True)])


@dataclass
class _Commits:
    """Each (deployment, commit) of the computed releases, and the earlier runs of those commits, as
    arrays: cluster and app codes, commit codes (sorted ids), time, lead seconds, earlier-run flag."""

    cluster: np.ndarray
    app: np.ndarray
    commit: np.ndarray
    at: np.ndarray  # ns since the epoch
    seconds: np.ndarray  # NaN: no usable commit time
    ran_before: np.ndarray
    ids: np.ndarray  # commit id of each code
    dated: np.ndarray = field(init=False)  # a usable lead time: a commit time, not after the release
    in_time_order: np.ndarray = field(init=False)  # by time, a release before an earlier run at the same time
    in_value_order: np.ndarray = field(init=False)  # by lead seconds, then commit id
    commit_ids: np.ndarray = field(init=False)  # the commit id of each row

    def __post_init__(self) -> None:
        self.commit_ids = self.ids[self.commit]
        self.dated = ~np.isnan(self.seconds) & (self.seconds >= 0)
        self.in_time_order = np.lexsort((self.ran_before, self.at))
        self.in_value_order = np.lexsort((self.commit, self.seconds))


def _commits(deps: pd.DataFrame, inputs: DeliveryInputs, event_map: pd.DataFrame, codes: _Codes) -> _Commits:
    """A rollback's commits are left out: it returns to a digest that ran in that workload before,
    so they were in production already (even before c2c's first scan, which no release event
    records)."""
    rollbacks = inputs.releases.loc[inputs.releases["rollback"], "event_id"]
    commits = inputs.commits[~inputs.commits["event_id"].isin(rollbacks)]
    row_of = pd.Index(event_map["event_id"]).get_indexer(commits["event_id"])
    commits, row_of = commits[row_of >= 0], row_of[row_of >= 0]
    dep_row = event_map["row"].to_numpy()[row_of]
    ran = inputs.ran
    code_of, ids = pd.factorize(np.concatenate((commits["commit_id"].to_numpy(dtype=object),
                                                ran["commit_id"].to_numpy(dtype=object))), sort=True)
    n = len(commits)
    at = deps["at"].to_numpy(dtype="datetime64[ns]").view(np.int64)[dep_row]
    committed = commits["committed_at"].to_numpy(dtype="datetime64[ns]")
    seconds = np.where(np.isnat(committed), np.nan, (at - committed.view(np.int64)) / 1e9)
    real = pd.DataFrame({"dep": dep_row, "commit": code_of[:n], "seconds": seconds}).drop_duplicates(["dep", "commit"])
    dep = real["dep"].to_numpy()
    return _Commits(
        cluster=np.concatenate((deps["cluster_code"].to_numpy()[dep], _codes(ran["cluster"], codes.clusters))),
        app=np.concatenate((deps["app_code"].to_numpy()[dep], _codes(ran["app"], codes.apps))),
        commit=np.concatenate((real["commit"].to_numpy(), code_of[n:])),
        at=np.concatenate((at[real.index.to_numpy()] if len(real) else np.zeros(0, np.int64),
                           ran["since"].to_numpy(dtype="datetime64[ns]").view(np.int64))),
        seconds=np.concatenate((real["seconds"].to_numpy(), np.full(len(ran), np.nan))),
        ran_before=np.concatenate((np.zeros(len(real), bool), np.ones(len(ran), bool))),
        ids=np.asarray(ids, dtype=object),
    )


def delivery_metrics(inputs: DeliveryInputs, start: datetime, end: datetime, policy: DeliveryPolicy) -> DeliveryResult:
    """The rows of every scope for the UTC days in [start, end).

    ``inputs.releases`` must reach back to ``start - policy.recovery_horizon`` (the failed
    deployments a restoring one in the range may end) and forward to ``end + failure_window``
    (the signals that mark a deployment of the range failed); ``inputs.syncs`` likewise.
    ``inputs.commits`` needs the commits of the range's releases (more are harmless), and
    ``inputs.ran`` when each of them first ran in production, as far as the store knows.
    """
    # Millions of fresh, acyclic lists and floats for the documents: the cyclic GC would walk them
    # again and again and free nothing (see gc_paused).
    with gc_paused():
        return _delivery_metrics(inputs, start, end, policy)


def _delivery_metrics(inputs: DeliveryInputs, start: datetime, end: datetime, policy: DeliveryPolicy) -> DeliveryResult:
    start_ns, end_ns = pd.Timestamp(start).value, pd.Timestamp(end).value
    deps, event_map = deployments_of(inputs.releases)
    deps = judge(deps, inputs.syncs, policy)
    event_map = event_map.assign(row=pd.Index(deps["deployment_id"]).get_indexer(event_map["deployment_id"]))
    at = deps["at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    attempts = inputs.attempts
    attempt_ns = attempts["finished_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    attempts = attempts[(attempt_ns >= start_ns) & (attempt_ns < end_ns)].reset_index(drop=True)
    codes = _Codes(
        clusters=np.array(sorted({*deps["cluster"], *inputs.ran["cluster"], *inputs.observed_since,
                                  *attempts["cluster"]}), dtype=object),
        apps=np.array(sorted({*deps["app"], *inputs.ran["app"], *attempts["app"]}), dtype=object),
        first_day=min(start_ns, int(at.min()) if len(at) else start_ns) // NS_PER_DAY,
        days=(max(end_ns, int(at.max()) + 1 if len(at) else end_ns) - min(start_ns, int(at.min()) if len(at) else start_ns))
        // NS_PER_DAY + 2,
    )
    deps["cluster_code"] = _codes(deps["cluster"], codes.clusters)
    deps["app_code"] = _codes(deps["app"], codes.apps)
    deps["day"] = at // NS_PER_DAY
    restored_ns = deps["restored_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    deps["restored_day"] = np.where(deps["failed"], restored_ns // NS_PER_DAY, -1)
    deps["recovery_seconds"] = np.where(deps["failed"], (restored_ns - at) / 1e9, np.nan)
    in_range = deps[(at >= start_ns) & (at < end_ns)].reset_index(drop=True)
    restored = deps[deps["failed"].to_numpy() & deps["restored_at"].notna().to_numpy()
                    & (restored_ns >= start_ns) & (restored_ns < end_ns)].reset_index(drop=True)
    commits = _commits(deps, inputs, event_map, codes)
    attempts = attempts.assign(
        cluster_code=_codes(attempts["cluster"], codes.clusters), app_code=_codes(attempts["app"], codes.apps),
        day=attempts["finished_at"].to_numpy(dtype="datetime64[ns]").view(np.int64) // NS_PER_DAY)

    rows: list[DeliveryMetricsRow] = []
    for scope in SCOPES:
        rows += _scope_rows(scope, codes, in_range, restored, commits, inputs, start_ns, end_ns, attempts)
    rows.sort(key=lambda r: r.row_id)
    return DeliveryResult(rows=rows, deployments=in_range)


# The deployment counts of a row, each a 0/1 flag per deployment summed per row.
DEPLOYMENT_COUNTS = ("deployments", "rollbacks", "fix_deployments", "failed_deployments", "untraceable_deployments",
                     "external_deployments")


@dataclass(frozen=True)
class _ScopeFigures:
    """One scope's figures grouped by row key (``_Codes.key``), each group in the order its row lists it."""

    counted: _Groups  # a 0/1 column per DEPLOYMENT_COUNTS name
    failures: _Groups  # failed deployments by release time, then id: deployment_id, signals
    workloads: _Groups  # each deployment's workload (namespace/Kind/name), namespace and cluster
    recoveries: _Groups  # on the restoring day, by recovery time, then id: deployment_id, recovery_seconds
    attempts: _Groups  # failed syncs that applied nothing (only counted)
    leads: _Groups  # new commits with a usable time, by lead time, then commit: commit_id, seconds
    undated: _Groups  # new commits without a usable time (only counted)

    def keys(self) -> np.ndarray:
        return np.concatenate([self.counted.keys, self.leads.keys, self.recoveries.keys, self.undated.keys,
                               self.attempts.keys])


def _scope_rows(scope: str, codes: _Codes, deps: pd.DataFrame, restored: pd.DataFrame, commits: _Commits,
                inputs: DeliveryInputs, start_ns: int, end_ns: int, attempts: pd.DataFrame) -> list[DeliveryMetricsRow]:
    """One scope's rows: every key with something in it, plus the days c2c observed."""
    keys = codes.key(scope, deps["cluster_code"].to_numpy(), deps["app_code"].to_numpy(), deps["day"].to_numpy())
    leads, undated = _lead_times(scope, codes, commits, first_releases(scope, codes, commits, start_ns, end_ns))
    figures = _ScopeFigures(
        counted=_counted(keys, deps), failures=_failures(keys, deps), workloads=_workloads(keys, deps),
        recoveries=_recoveries(scope, codes, restored), attempts=_attempts(scope, codes, attempts),
        leads=leads, undated=undated)
    row_keys = np.unique(np.concatenate([figures.keys(),
                                         _observed_days(scope, codes, inputs.observed_since, start_ns, end_ns)]))
    return _rows(scope, codes, row_keys, figures, _observed_since(inputs.observed_since))


def _counted(keys: np.ndarray, deps: pd.DataFrame) -> _Groups:
    traceable, external = deps["traceable"].to_numpy(bool), deps["external"].to_numpy(bool)
    flags = {"deployments": np.ones(len(deps), bool), "rollbacks": deps["rollback"].to_numpy(bool),
             "fix_deployments": deps["fix"].to_numpy(bool), "failed_deployments": deps["failed"].to_numpy(bool),
             "untraceable_deployments": ~traceable & ~external, "external_deployments": external}
    return _Groups(keys, np.argsort(keys, kind="stable"), {name: flags[name].astype(np.int64) for name in DEPLOYMENT_COUNTS})


def _failures(keys: np.ndarray, deps: pd.DataFrame) -> _Groups:
    ids = deps["deployment_id"].to_numpy(dtype=object)
    failed = np.flatnonzero(deps["failed"].to_numpy())
    order = failed[np.lexsort((ids[failed], deps["at"].to_numpy()[failed], keys[failed]))]
    return _Groups(keys, order, {"deployment_id": ids, "signals": deps["signals"].to_numpy(dtype=object)})


def _workloads(keys: np.ndarray, deps: pd.DataFrame) -> _Groups:
    return _Groups(keys, np.argsort(keys, kind="stable"), {
        "workload": (deps["namespace"] + "/" + deps["workload"]).to_numpy(dtype=object),
        "namespace": deps["namespace"].to_numpy(dtype=object), "cluster": deps["cluster"].to_numpy(dtype=object)})


def _recoveries(scope: str, codes: _Codes, restored: pd.DataFrame) -> _Groups:
    """Failed deployments counted on the day of the deployment that restored them."""
    keys = codes.key(scope, restored["cluster_code"].to_numpy(), restored["app_code"].to_numpy(),
                     restored["restored_day"].to_numpy())
    ids = restored["deployment_id"].to_numpy(dtype=object)
    seconds = restored["recovery_seconds"].to_numpy()
    return _Groups(keys, np.lexsort((ids, seconds, keys)), {"deployment_id": ids, "recovery_seconds": seconds})


def _attempts(scope: str, codes: _Codes, attempts: pd.DataFrame) -> _Groups:
    keys = codes.key(scope, attempts["cluster_code"].to_numpy(np.int64), attempts["app_code"].to_numpy(np.int64),
                     attempts["day"].to_numpy(np.int64))
    return _Groups(keys, np.argsort(keys, kind="stable"), {})


def first_releases(scope: str, codes: _Codes, commits: _Commits, start_ns: int, end_ns: int) -> np.ndarray:
    """The rows of ``commits`` whose lead time ``scope`` counts, in [start, end): each commit once,
    at its first release in the scope; a commit that ran there earlier (``ran_before``: at the first
    scan, or released outside the range) is not new. On a tie the release counts: its own digest's
    record says it ran since that very release."""
    keeps_cluster, keeps_app = SCOPES[scope]
    in_time = commits.in_time_order
    # One number per (commit, scope's cluster, scope's app): ALL takes 0, as in _Codes.key.
    scoped = commits.commit[in_time] * ((len(codes.clusters) + 1) * (len(codes.apps) + 1))
    if keeps_cluster:
        scoped = scoped + (commits.cluster[in_time] + 1) * (len(codes.apps) + 1)
    if keeps_app:
        scoped = scoped + commits.app[in_time] + 1
    chosen = in_time[~pd.Series(scoped).duplicated().to_numpy()]
    return chosen[~commits.ran_before[chosen] & (commits.at[chosen] >= start_ns) & (commits.at[chosen] < end_ns)]


def _lead_times(scope: str, codes: _Codes, commits: _Commits, chosen: np.ndarray) -> tuple[_Groups, _Groups]:
    """The ``chosen`` commits on their release's row: those with a usable time (lead times), and those without."""
    keys = np.zeros(len(commits.at), dtype=np.int64)
    keys[chosen] = codes.key(scope, commits.cluster[chosen], commits.app[chosen], commits.at[chosen] // NS_PER_DAY)
    usable = np.zeros(len(commits.at), dtype=bool)
    usable[chosen] = commits.dated[chosen]
    # In (seconds, commit) order already: a stable sort by key keeps it within each day.
    by_value = commits.in_value_order[usable[commits.in_value_order]]
    leads = _Groups(keys, by_value[np.argsort(keys[by_value], kind="stable")],
                    {"commit_id": commits.commit_ids, "seconds": commits.seconds})
    undated = chosen[~commits.dated[chosen]]
    return leads, _Groups(keys, undated[np.argsort(keys[undated], kind="stable")], {})


def _rows(scope: str, codes: _Codes, row_keys: np.ndarray, figures: _ScopeFigures,
          observed: Mapping[str, str]) -> list[DeliveryMetricsRow]:
    """A row per key, read column by column from the groups (a scope has up to ~10^5 rows)."""
    clusters, apps, days = codes.labels(row_keys)
    counts = {name: figures.counted.sums(row_keys, name) for name in DEPLOYMENT_COUNTS}
    failed_attempts, without_time = figures.attempts.sizes(row_keys), figures.undated.sizes(row_keys)
    lead_seconds, lead_commits = figures.leads.lists(row_keys, "seconds"), figures.leads.lists(row_keys, "commit_id")
    lead_median, lead_p90 = figures.leads.stats(row_keys, "seconds")
    recovery_seconds = figures.recoveries.lists(row_keys, "recovery_seconds")
    recovered = figures.recoveries.lists(row_keys, "deployment_id")
    recovery_median, _ = figures.recoveries.stats(row_keys, "recovery_seconds")
    failure_ids, failure_signals = figures.failures.lists(row_keys, "deployment_id"), figures.failures.lists(row_keys, "signals")
    workloads, namespaces = figures.workloads.lists(row_keys, "workload"), figures.workloads.lists(row_keys, "namespace")
    # An app across clusters was observed from the first scan of the clusters it was deployed to.
    since = (earliest_first_scan(figures.workloads.lists(row_keys, "cluster"), observed) if scope == "app"
             else [observed.get(cluster) for cluster in clusters])
    deployments, failed = counts["deployments"], counts["failed_deployments"]
    return [
        DeliveryMetricsRow(
            row_id=row_id(scope, clusters[i], apps[i], days[i]), scope=scope, cluster=clusters[i], app=apps[i],
            day=days[i], observed_since=since[i],
            namespaces=sorted(set(namespaces[i])), workloads=sorted(set(workloads[i])),
            deployments=deployments[i], rollbacks=counts["rollbacks"][i], fix_deployments=counts["fix_deployments"][i],
            untraceable_deployments=counts["untraceable_deployments"][i],
            external_deployments=counts["external_deployments"][i], failed_deployments=failed[i],
            change_failure_rate=failed[i] / deployments[i] if deployments[i] else None,
            failures=[DeploymentFailure(deployment=d, signals=s) for d, s in zip(failure_ids[i], failure_signals[i], strict=True)],
            failed_sync_attempts=failed_attempts[i],
            lead_time_commits=lead_commits[i], lead_time_seconds=lead_seconds[i], lead_time_count=len(lead_seconds[i]),
            lead_time_median_seconds=lead_median[i], lead_time_p90_seconds=lead_p90[i],
            commits_without_time=without_time[i],
            recovered_deployments=recovered[i], recovery_seconds=recovery_seconds[i],
            recovery_count=len(recovery_seconds[i]), recovery_median_seconds=recovery_median[i],
        )
        for i in range(len(row_keys))
    ]


def earliest_first_scan(deployed_in: Sequence[Sequence[str]], observed: Mapping[str, str]) -> list[str | None]:
    """For each row, the first scan of the clusters it was deployed to (the earliest); None when
    c2c knows none of them."""
    return [min((observed[c] for c in set(where) if c in observed), default=None) for where in deployed_in]


def _observed_since(observed: Mapping[str, datetime]) -> dict[str, str]:
    """Each cluster's first scan, and for "every cluster" the earliest of them."""
    text = {cluster: _iso(pd.Timestamp(moment)) for cluster, moment in observed.items()}
    if observed:
        text[ALL] = _iso(pd.Timestamp(min(observed.values())))
    return text


def _observed_days(scope: str, codes: _Codes, observed: Mapping[str, datetime], start_ns: int, end_ns: int) -> np.ndarray:
    """Row keys for the scopes without an app on every day c2c observed, deployments or not, so a
    quiet day reads as zero and a day before the first scan reads as nothing."""
    keeps_cluster, keeps_app = SCOPES[scope]
    if keeps_app or not observed:
        return np.zeros(0, np.int64)
    days = np.arange(start_ns // NS_PER_DAY, (end_ns - 1) // NS_PER_DAY + 1)
    firsts = {cluster: pd.Timestamp(moment).value // NS_PER_DAY for cluster, moment in observed.items()}
    if not keeps_cluster:
        seen = days[days >= min(firsts.values())]
        return codes.key(scope, np.zeros(len(seen), np.int64), np.zeros(len(seen), np.int64), seen)
    found = [codes.key(scope, np.full(int((days >= first).sum()), int(np.searchsorted(codes.clusters, cluster))),
                       np.zeros(int((days >= first).sum()), np.int64), days[days >= first])
             for cluster, first in firsts.items()]
    return np.concatenate(found) if found else np.zeros(0, np.int64)
