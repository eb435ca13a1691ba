"""``c2c dora``: DORA's four keys with their performance bands, as ``delivery_metrics`` stored them
(wired into ``c2c`` by ``c2c_dagster.cli``). Exit status as ``c2c trace``: 0 answered, 1 nothing
matches, 2 bad query, 3 store unreachable."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from c2c_core.cliargs import shown
from c2c_dagster.delivery.report import DoraQuery, DoraQueryError, dora_report, parse_period
from c2c_dagster.store import StoreError, StoreSettings
from c2c_dagster.store.settings import shared_store


def add_parser(commands: Any) -> None:
    dora = commands.add_parser("dora", help="DORA's four keys from what ran in production, with performance bands")
    dora.add_argument("--app", help="one app: the Argo CD app (namespace/name) or, without one, the workload's namespace/name")
    dora.add_argument("--cluster", help="one production cluster (default: every production cluster)")
    dora.add_argument("--since", default="30d", type=_since,
                      help="the period: 30d (default; the last 30 days, today included), 4w, or a day YYYY-MM-DD")
    dora.add_argument("--until", help="the period's last day, YYYY-MM-DD (default: today, UTC)")
    dora.add_argument("--json", action="store_true", help="print JSON for machines")


# Ten years of days: a longer period would ask the store for that many days' rows, and a large
# enough one is before year 1 (a date overflow, not an answer).
MAX_PERIOD_DAYS = 3660


def _since(text: str) -> str:
    """--since as ``parse_period`` reads it, with the length of a relative period bounded."""
    match = re.fullmatch(r"\s*(\d+)([dw])\s*", text)
    if match and (len(match.group(1)) > 6 or int(match.group(1)) * (7 if match.group(2) == "w" else 1) > MAX_PERIOD_DAYS):
        raise argparse.ArgumentTypeError(f"{shown(text)}: at most {MAX_PERIOD_DAYS} days (e.g. 30d, 4w, or a day YYYY-MM-DD)")
    return text


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours else []
    parts += [f"{minutes}m"] if minutes or not parts else []
    return " ".join(parts)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def render(report: dict[str, Any]) -> str:
    period, frequency = report["period"], report["deployment_frequency"]
    lead, failure, recovery = report["lead_time"], report["change_failure_rate"], report["recovery_time"]
    scope = report["scope"]
    where = (f"cluster {scope['cluster']}" if scope["cluster"] != "*" else "every production cluster") + ", " + (
        f"app {scope['app']}" if scope["app"] != "*" else "every app")
    per_day = frequency["per_day"]
    lines = [
        f"c2c dora: {where}; {period['first_day']} to {period['last_day']} ({period['days_observed']} of {period['days']} days observed)",
        f"  deployment frequency    {frequency['deployments']} deployments, "
        + (f"{per_day:.2f} a day, {frequency['per_week']:.1f} a week" if per_day is not None else "no day observed")
        + f"   [{frequency['band'] or '-'}]",
        f"  lead time for changes   median {_duration(lead['median_seconds'])}, p90 {_duration(lead['p90_seconds'])} "
        f"over {lead['commits']} commits   [{lead['band'] or '-'}]",
        f"  change failure rate     {_rate(failure['rate'])} ({failure['failed_deployments']} of {failure['deployments']})"
        f"   [{failure['band'] or '-'}]"
        + (f"; failed sync attempts that applied nothing: {failure['failed_sync_attempts']}"
           if failure.get("failed_sync_attempts") else ""),
        f"  recovery time           median {_duration(recovery['median_seconds'])} over {recovery['recoveries']} recoveries"
        f"   [{recovery['band'] or '-'}]",
    ]
    if frequency["untraceable_deployments"] or frequency["external_deployments"] or lead["commits_without_time"]:
        lines.append(f"  (deployments of images no build produced: {frequency['untraceable_deployments']}, third-party: "
                     f"{frequency['external_deployments']}, counted for frequency only; commits without a time: "
                     f"{lead['commits_without_time']})")
    if report.get("apps"):
        lines += ["", f"  {'APP':<32} {'CLUSTER':<16} {'DEPLOYS':>7} {'A DAY':>6} {'LEAD MEDIAN':>12} {'CFR':>6} {'RECOVERY':>10}"]
        for app in report["apps"]:
            rate = app["deployment_frequency"]["per_day"]
            lines.append(
                f"  {app['app']:<32} {app['cluster']:<16} {app['deployment_frequency']['deployments']:>7} "
                f"{'-' if rate is None else f'{rate:.2f}':>6} {_duration(app['lead_time']['median_seconds']):>12} "
                f"{_rate(app['change_failure_rate']['rate']):>6} {_duration(app['recovery_time']['median_seconds']):>10}")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    try:
        period = parse_period(args.since, args.until)
        if (period.last_day - period.first_day).days >= MAX_PERIOD_DAYS:
            raise DoraQueryError(f"--since {period.first_day} to --until {period.last_day}: at most {MAX_PERIOD_DAYS} days")
        query = DoraQuery(app=args.app, cluster=args.cluster)
        store = shared_store(StoreSettings.from_env())
        report = dora_report(store, query, period)
    except DoraQueryError as exc:
        print(f"c2c dora: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"c2c dora: {exc}", file=sys.stderr)
        return 3
    if report is None:
        asked = " ".join(f"--{name} {value}" for name, value in (("app", args.app), ("cluster", args.cluster)) if value)
        print(f"c2c dora: nothing matches {asked or 'any production cluster'} from {period.first_day} to {period.last_day} "
              f"in the {store.kind} store (delivery_metrics stores a production app's rows on the days it deployed; "
              "is the app or cluster spelled as c2c trace shows it, and the period's days materialized?)", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2, sort_keys=True) if args.json else render(report), end="\n" if args.json else "")
    return 0
