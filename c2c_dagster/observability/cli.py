"""``c2c metrics serve``: the exporter's command line (wired into ``c2c`` by ``c2c_dagster.cli``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from c2c_core.cliargs import positive_seconds, shown, whole_number
from c2c_dagster.settings import DEFAULTS, load_settings
from c2c_dagster.store import StoreSettings
from c2c_dagster.store.settings import shared_store

DEFAULT_PORT = DEFAULTS.metrics_port


def add_parser(commands: Any) -> None:
    """Add ``metrics serve`` to the ``c2c`` command's subcommands."""
    metrics = commands.add_parser("metrics", help="Prometheus metrics from the c2c store")
    actions = metrics.add_subparsers(dest="metrics_command", required=True)
    serve = actions.add_parser("serve", help="serve /metrics for Prometheus to scrape")
    # Defaults are the settings' (validated by them, naming the variable); the types check what is typed.
    settings = load_settings()
    serve.add_argument("--address", default=settings.metrics_address,
                       help="listen address (C2C_METRICS_ADDRESS; default 0.0.0.0)")
    serve.add_argument("--port", type=whole_number("--port / C2C_METRICS_PORT", 1, 65535),
                       default=settings.metrics_port,
                       help=f"listen port (C2C_METRICS_PORT; default {DEFAULT_PORT})")
    serve.add_argument("--refresh-seconds", type=positive_seconds("--refresh-seconds / C2C_METRICS_REFRESH_SECONDS"),
                       default=settings.metrics_refresh_seconds,
                       help="read the store at most this often; scrapes in between get the last reading (default 30)")
    serve.add_argument("--dora-days", type=_positive, default=settings.metrics_dora_days,
                       help="the window of the c2c_dora_* gauges in days, today included, as c2c dora --since <N>d "
                            "(C2C_METRICS_DORA_DAYS; default 30)")
    # A string default goes through ``type`` too: a DAGSTER_HOME that is no directory is refused alike.
    serve.add_argument("--dagster-home", type=_directory, default=settings.dagster_home,
                       help="a Dagster instance to read snapshot run durations from (default $DAGSTER_HOME; "
                            "without one, c2c_snapshot_duration_seconds is not exported)")


def _directory(text: str) -> str:
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{shown(text)}: --dagster-home / DAGSTER_HOME is an existing directory "
                                         "(a Dagster instance's home)")
    return text


def _positive(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        days = 0
    if days < 1:
        raise argparse.ArgumentTypeError(f"--dora-days / C2C_METRICS_DORA_DAYS {shown(text)}: a whole number of days, "
                                         "at least 1")
    return days


def run(args: argparse.Namespace) -> int:
    from c2c_dagster.observability.exporter import StoreCollector, serve

    instance = None
    if args.dagster_home:
        import dagster as dg

        os.environ["DAGSTER_HOME"] = args.dagster_home
        instance = dg.DagsterInstance.get()
    settings = StoreSettings.from_env()
    collector = StoreCollector(lambda: shared_store(settings), refresh_seconds=args.refresh_seconds,
                               dagster_instance=instance, dora_days=args.dora_days)
    try:
        serve(collector, args.address, args.port)
    except OSError as exc:
        print(f"c2c metrics serve: cannot listen on {args.address}:{args.port}: {exc}", file=sys.stderr)
        return 2
    return 0
