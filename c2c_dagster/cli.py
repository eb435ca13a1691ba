"""``c2c``: ask the traceability store from a shell. ``c2c trace --workload shop/web`` and friends;
``c2c metrics serve`` serves Prometheus metrics from the same store; ``c2c dora`` prints DORA's four keys.

The store is chosen by the same settings Dagster uses (``C2C_OPENSEARCH_URL`` or the embedded
``C2C_STORE_PATH``). ``c2c trace`` only reads, so read-only credentials will do. Exit status: 0
answered, 1 nothing matches, 2 bad query, 3 store unreachable. ``c2c store init`` sets up the
index templates and indices ahead of the first write (the writers would otherwise do it);
``c2c store prune --days N`` deletes history older than N days, as the retention schedule does.
``c2c config`` prints every setting c2c reads, its effective value and whether the environment set
it (secrets masked); a bad value is reported there, as at load, naming the variable.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from c2c_core.cliargs import ArgumentParser, whole_number
from c2c_core.timeutil import iso_utc, utc_now
from c2c_dagster.delivery import cli as dora_cli
from c2c_dagster.observability import cli as metrics_cli
from c2c_dagster.settings import MAX_RETENTION_DAYS, SettingsError, describe, load_settings
from c2c_dagster.store import ALL_INDICES, StoreError, StoreSettings
from c2c_dagster.store.retention import RETENTION_ENV, apply_retention, cutoff_for, retention_days_from_env
from c2c_dagster.store.settings import shared_store
from c2c_dagster.traceability.render import render
from c2c_dagster.traceability.trace import (
    TraceQueryError,
    trace_build,
    trace_commit,
    trace_digest,
    trace_pod,
    trace_workload,
)

QUERIES = {
    "workload": (trace_workload, "[CLUSTER/]NAMESPACE/NAME", "commits, authors, build, image and digest, release time, pods"),
    "pod": (trace_pod, "NAMESPACE/POD", "the same, for the workload a pod belongs to"),
    "commit": (trace_commit, "SHA", "everywhere a commit runs now, and where it ran before (prefix allowed)"),
    "build": (trace_build, "BUILD_ID", "everywhere a build's image runs (e.g. Node-JS/master-67)"),
    "digest": (trace_digest, "sha256:HEX", "the build behind a digest and everywhere it runs"),
}


def build_parser() -> ArgumentParser:
    """Every argument is checked here or by the query it feeds: a bad one is exit 2 and one line
    (``c2c_core.cliargs``), never a traceback."""
    parser = ArgumentParser(prog="c2c", description="Code-to-container traceability queries.")
    commands = parser.add_subparsers(dest="command", required=True)
    trace = commands.add_parser("trace", help="trace a workload, pod, commit, build or digest")
    group = trace.add_mutually_exclusive_group(required=True)
    for name, (_, metavar, help_text) in QUERIES.items():
        group.add_argument(f"--{name}", metavar=metavar, help=help_text)
    trace.add_argument("--json", action="store_true", help="print JSON for machines")
    store = commands.add_parser("store", help="manage the store")
    store_commands = store.add_subparsers(dest="store_command", required=True)
    store_commands.add_parser(
        "init", help="create the index templates and indices (needs write and template permissions)"
    )
    prune = store_commands.add_parser(
        "prune", help=f"delete history older than --days (default ${RETENTION_ENV}): closed versions, stopped records, "
                      "old ingest problems; builds, syncs and release events are kept")
    prune.add_argument("--days", type=whole_number("--days", 1, MAX_RETENTION_DAYS), metavar="N",
                       help=f"days of history to keep (1 to {MAX_RETENTION_DAYS})")
    commands.add_parser("config", help="print every setting, its value (secrets masked) and its source")
    metrics_cli.add_parser(commands)
    dora_cli.add_parser(commands)
    return parser


def show_config() -> int:
    try:
        rows = describe(load_settings())
    except SettingsError as exc:
        print(f"c2c config: {exc}", file=sys.stderr)
        return 2
    width = max(len(name) for name, _, _ in rows)
    for name, value, source in rows:
        print(f"{name:<{width}}  {source:<7}  {value}")
    return 0


def store_init() -> int:
    settings = StoreSettings.from_env()
    try:
        store = shared_store(settings)
        store.ensure_indices()
    except StoreError as exc:
        print(f"c2c store init: {exc}", file=sys.stderr)
        return 3
    where = settings.opensearch_url or getattr(store, "path", "")
    prefix = settings.index_prefix if settings.opensearch_url else ""
    print(f"c2c store init: {len(ALL_INDICES)} indices ready in the {store.kind} store at {where}: "
          + ", ".join(f"{prefix}{spec.name}" for spec in ALL_INDICES))
    return 0


def store_prune(days: int | None) -> int:
    try:
        days = days if days is not None else retention_days_from_env()
        if days is None:
            print(f"c2c store prune: give --days N or set {RETENTION_ENV}; nothing deleted", file=sys.stderr)
            return 2
        cutoff = cutoff_for(days, utc_now())
    except ValueError as exc:
        print(f"c2c store prune: {exc}", file=sys.stderr)
        return 2
    try:
        deleted = apply_retention(shared_store(StoreSettings.from_env()), cutoff)
    except StoreError as exc:
        print(f"c2c store prune: {exc} (nothing is lost: run it again)", file=sys.stderr)
        return 3
    print(f"c2c store prune: history before {iso_utc(cutoff)} deleted: "
          + ", ".join(f"{index} {count}" for index, count in deleted.items()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SettingsError as exc:  # the metrics command's defaults are settings
        print(f"c2c: {exc}", file=sys.stderr)
        return 2
    if args.command == "config":
        return show_config()
    if args.command == "store":
        return store_prune(args.days) if args.store_command == "prune" else store_init()
    if args.command == "metrics":
        return metrics_cli.run(args)
    if args.command == "dora":
        return dora_cli.run(args)
    kind = next(name for name in QUERIES if getattr(args, name) is not None)
    value = getattr(args, kind)
    try:
        store = shared_store(StoreSettings.from_env())
        answer = QUERIES[kind][0](store, value)
    except TraceQueryError as exc:
        print(f"c2c trace: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"c2c trace: {exc}", file=sys.stderr)
        return 3
    if answer.empty:
        print(f"c2c trace: nothing matches --{kind} {value} in the {store.kind} store", file=sys.stderr)
        return 1
    print(json.dumps(answer.as_json(), indent=2, sort_keys=True) if args.json else render(answer), end="" if not args.json else "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
