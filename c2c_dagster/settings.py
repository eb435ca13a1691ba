"""Everything c2c reads from its environment, in one typed, documented place: ``Settings``.

Each field names its variable, its default and what it means (the README's configuration table is
generated from these docs, ``configuration_table``). ``Settings.from_env`` validates every value at
once; a bad one is reported as ``VARIABLE='value': what is allowed``. ``load_settings`` reads the
process's environment once (again only if a c2c variable changes, as tests do). Secrets are
``SecretStr``s: masked in the repr and in ``c2c config``; resources still take them as Dagster
``EnvVar``s, resolved at run time. No Dagster import here, so the command-line tools start fast.

Adding a variable: one annotated field below (its ``Var``: name, meaning, parser), then
``python -m c2c_dagster.settings README.md`` to regenerate the table (``test_settings`` fails until then).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PrivateAttr, SecretStr


class SettingsError(ValueError):
    """One or more variables c2c cannot use; each line names the variable, its value and what is allowed."""


@dataclass(frozen=True)
class Var:
    """Field metadata: the environment variable, how its text becomes the value, what it means."""

    env: str
    doc: str
    parse: Callable[[str], Any] = str
    secret: bool = False


# ---------------------------------------------------------------------------------------------
# Parsers: text in, value out, or ValueError saying what is allowed (the caller names the variable).

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def parse_duration(text: str) -> timedelta:
    """``90s``, ``25m``, ``2h``, ``3d``."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 90s, 25m, 2h or 3d")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def parse_windows(text: str) -> tuple[timedelta, timedelta]:
    """``WARN/FAIL`` freshness windows, checked against Dagster's rules (each >= 1 minute, warn < fail)."""
    warn_text, sep, fail_text = text.partition("/")
    if not sep:
        raise ValueError(f"{text!r} should read WARN/FAIL, e.g. 25m/40m")
    warn, fail = parse_duration(warn_text), parse_duration(fail_text)
    if warn < timedelta(minutes=1):
        raise ValueError(f"{text!r}: Dagster needs windows of at least 1 minute")
    if warn >= fail:
        raise ValueError(f"{text!r}: the warn window must be shorter than the fail window")
    return warn, fail


def parse_day(text: str) -> date:
    """A day written ``YYYY-MM-DD`` (the one history-start parser: Jenkins and delivery alike)."""
    text = text.strip()
    try:
        # date.fromisoformat also takes 20260131 and 2026-W05-6: only the 10-character form is a day here.
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("want a day in YYYY-MM-DD form") from None


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("want true or false")


def _whole(minimum: int, what: str, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = text.strip()
        # Length first: int() of a 100,000-digit string is refused by Python itself, with a traceback.
        if len(value) > 12 or not value.isdigit() or int(value) < minimum or (maximum and int(value) > maximum):
            bound = f"{minimum} to {maximum}" if maximum else f"at least {minimum}"
            raise ValueError(f"want a whole number of {what}, {bound}")
        return int(value)
    return parse


def _port(text: str) -> int:
    value = text.strip()
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError("want a TCP port, 1 to 65535")
    return int(value)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ValueError("want a number of seconds above 0")
    return value


def parse_list(text: str) -> tuple[str, ...]:
    """Comma-separated, blanks dropped."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _regex(text: str) -> str:
    try:
        re.compile(text)
    except re.error as exc:
        raise ValueError(f"not a regular expression ({exc})") from None
    return text


def _duration_text(text: str) -> str:
    parse_duration(text)
    return text.strip()


def _windows_text(text: str) -> str:
    parse_windows(text)
    return text.strip()


def _cron(text: str) -> str:
    # Five fields, each of cron's characters: Dagster checks the rest when it loads the schedule.
    fields = text.split()
    if len(fields) != 5 or not all(re.fullmatch(r"[0-9*/,\-A-Za-z?LW#]+", f) for f in fields):
        raise ValueError("want a cron expression of five fields, e.g. */10 * * * *")
    return " ".join(fields)


def _url(text: str) -> str:
    if not re.match(r"^https?://\S+$", text.strip()):
        raise ValueError("want an http:// or https:// URL")
    return text.strip()


# ---------------------------------------------------------------------------------------------

# A hundred years: a longer retention keeps everything, and its cutoff would be before year 1.
MAX_RETENTION_DAYS = 36_500

#: Each asset's freshness windows when its ``C2C_FRESHNESS_<ASSET>`` is unset, and why
#: (``freshness.py`` turns them into policies).
FRESHNESS_DEFAULTS: dict[str, str] = {
    "ci_builds": "1d/3d",  # a quiet weekend (~62 h) passes, a quiet week fails
    "argocd_sync_events": "3d/7d",  # a week without any sync: the sensor has more likely stopped
    "deployment_snapshots": "25m/40m",  # two and three missed 10-minute scans
    "traceability_records": "30m/45m",  # the snapshot's, plus a run
    "delivery_metrics": "45m/1h",  # the records', plus a run
}


def _freshness(asset: str) -> Var:
    return Var(f"C2C_FRESHNESS_{asset.upper()}", f"`{asset}`'s freshness windows as `WARN/FAIL` (`s`, `m`, `h`, `d`; "
               f"default `{FRESHNESS_DEFAULTS[asset]}`). Dagster judges the newest materialization of any partition",
               _windows_text)


class Settings(BaseModel):
    """c2c's configuration; every field is one environment variable (its ``Var``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # The store
    opensearch_url: Annotated[str | None, Var(
        "C2C_OPENSEARCH_URL", "OpenSearch to write to; unset → the embedded store", _url)] = None
    opensearch_user: Annotated[str | None, Var(
        "C2C_OPENSEARCH_USER", "OpenSearch user (wired as `dagster.EnvVar`, never shown in the UI): the writer's for "
        "Dagster, the reader's for `c2c trace`, `c2c dora` and the exporter (see *A secured OpenSearch*)")] = None
    opensearch_password: Annotated[SecretStr | None, Var(
        "C2C_OPENSEARCH_PASSWORD", "that user's password (an `EnvVar`; masked by `c2c config`)", SecretStr,
        secret=True)] = None
    opensearch_ca_certs: Annotated[str | None, Var(
        "C2C_OPENSEARCH_CA_CERTS", "TLS: the PEM bundle of the CA that signed the cluster's certificate")] = None
    opensearch_verify_certs: Annotated[bool, Var(
        "C2C_OPENSEARCH_VERIFY_CERTS", "TLS verification (`false` only for a throwaway test cluster)", parse_bool)] = True
    opensearch_replicas: Annotated[int, Var(
        "C2C_OPENSEARCH_REPLICAS", "replicas of each index (a single test node uses 0)", _whole(0, "replicas"))] = 1
    index_prefix: Annotated[str, Var("C2C_INDEX_PREFIX", "a prefix for every index name")] = ""
    store_path: Annotated[str | None, Var(
        "C2C_STORE_PATH", "the embedded SQLite file (unset: `$DAGSTER_HOME/c2c/store.sqlite`, else "
        "`~/.c2c/store.sqlite`)")] = None
    dagster_home: Annotated[str | None, Var(
        "DAGSTER_HOME", "the Dagster instance (Dagster's own variable): the embedded store's default home, and "
        "where `c2c metrics serve` reads snapshot run durations")] = None
    retention_days: Annotated[int | None, Var(
        "C2C_RETENTION_DAYS", "days of history to keep; set, the daily `store_retention_schedule` deletes closed "
        "versions, stopped records and ingest problems older than that (unset: everything is kept)",
        _whole(1, "days", MAX_RETENTION_DAYS))] = None

    # Jenkins
    jenkins_url: Annotated[str | None, Var(
        "C2C_JENKINS_URL", "the Jenkins controller; `jenkins_build_sensor` runs by default only when it is set",
        _url)] = None
    jenkins_user: Annotated[str | None, Var("C2C_JENKINS_USER", "Jenkins user (an `EnvVar`)")] = None
    jenkins_api_token: Annotated[SecretStr | None, Var(
        "C2C_JENKINS_API_TOKEN", "that user's API token (an `EnvVar`; masked by `c2c config`)", SecretStr,
        secret=True)] = None
    jenkins_history_start: Annotated[date, Var(
        "C2C_JENKINS_HISTORY_START", "first day of `ci_builds`' daily partitions (`YYYY-MM-DD`, before Hudson became "
        "Jenkins); builds older than it, or without a start time, are ingested into that first partition",
        parse_day)] = date(2010, 1, 1)
    jenkins_max_folder_depth: Annotated[int, Var(
        "C2C_JENKINS_MAX_FOLDER_DEPTH", "how many levels of Jenkins folders are followed; a deeper folder is reported, "
        "never dropped silently", _whole(1, "folder levels"))] = 10

    # Kubernetes and Argo CD
    kubeconfig: Annotated[str | None, Var(
        "C2C_KUBECONFIG", "the kubeconfig of the one cluster (the sensors and the schedule run by default only when "
        "a cluster is configured: this, `C2C_K8S_CLUSTERS_FILE` or `C2C_K8S_IN_CLUSTER`)")] = None
    k8s_context: Annotated[str | None, Var("C2C_K8S_CONTEXT", "the kubeconfig context of that cluster")] = None
    cluster_name: Annotated[str, Var("C2C_CLUSTER_NAME", "that cluster's name (its partition key)")] = "default"
    k8s_clusters_file: Annotated[str | None, Var(
        "C2C_K8S_CLUSTERS_FILE", "instead: a YAML list of clusters (`KubeClusterConfig` fields)")] = None
    k8s_in_cluster: Annotated[bool, Var(
        "C2C_K8S_IN_CLUSTER", "`true`: the one cluster is the one c2c runs in (its service account)",
        parse_bool)] = False
    scan_cron: Annotated[str, Var(
        "C2C_SCAN_CRON", "the scan schedule (the seed's CronJob)", _cron)] = "*/10 * * * *"
    argocd_sensor_interval_seconds: Annotated[int, Var(
        "C2C_ARGOCD_SENSOR_INTERVAL_SECONDS", "how often `argocd_sync_sensor` lists the Applications (every pass of "
        "Dagster's 5 s sensor loop; bounds how soon a sync's record lands; raise it for hundreds of clusters)",
        _whole(1, "seconds"))] = 4

    dead_run_sensor_interval_seconds: Annotated[int, Var(
        "C2C_DEAD_RUN_SENSOR_INTERVAL_SECONDS", "how often `dead_run_sensor` checks the started runs (local run "
        "launcher only): with the daemon's restart it bounds how long a dead run holds its cluster's queue (see "
        "*When a run dies*)", _whole(1, "seconds"))] = 15
    automation_interval_seconds: Annotated[int, Var(
        "C2C_AUTOMATION_INTERVAL_SECONDS", "how often `traceability_automation` and `delivery_automation` evaluate "
        "(Dagster's default 30 s): bounds how soon records follow a snapshot or a build; a tick while a scan of the "
        "cluster runs waits for the next, so keep it well under the scan's interval", _whole(1, "seconds"))] = 30

    # Registries and images
    registry_user: Annotated[str | None, Var(
        "C2C_REGISTRY_USER", "registry user (an `EnvVar`) for revision labels of images no build's digest names and "
        "for what running tags point at now")] = None
    registry_password: Annotated[SecretStr | None, Var(
        "C2C_REGISTRY_PASSWORD", "that user's password (an `EnvVar`; masked by `c2c config`)", SecretStr,
        secret=True)] = None
    insecure_registries: Annotated[tuple[str, ...], Var(
        "C2C_INSECURE_REGISTRIES", "comma-separated `host:port` of registries read over plain HTTP",
        parse_list)] = ()
    internal_registries: Annotated[tuple[str, ...], Var(
        "C2C_INTERNAL_REGISTRIES", "comma-separated registry hosts or `host/repository` prefixes CI builds for "
        "(`registry.example.com`, `docker.io/acme`); images elsewhere are `external`. Unset (and no policy file): the "
        "registries `ci_builds` ever pushed to (on Docker Hub, GHCR, Quay: that organisation only); no build recorded "
        "yet: every image is internal", parse_list)] = ()
    image_policy_file: Annotated[str | None, Var(
        "C2C_IMAGE_POLICY_FILE", "a YAML file adding `internal:` (a list of the same prefixes) and "
        "`advise_digest_pinning:`, and the provenance trust policy: `trusted_keys:`, `trusted_builders:`, "
        "`require_provenance:` (see [Signed build provenance](#signed-build-provenance))")] = None
    advise_digest_pinning: Annotated[bool, Var(
        "C2C_ADVISE_DIGEST_PINNING", "`true` turns on the `not_pinned` advice", parse_bool)] = False

    # Delivery metrics (DORA)
    production_clusters: Annotated[tuple[str, ...], Var(
        "C2C_PRODUCTION_CLUSTERS", "which clusters count as production for `delivery_metrics` (comma-separated shell "
        "patterns, `prod-*`); unset: all", parse_list)] = ()
    production_namespaces: Annotated[tuple[str, ...], Var(
        "C2C_PRODUCTION_NAMESPACES", "which namespaces count as production (the same patterns; one with a slash names "
        "the cluster too, `shared/team-a`); unset: all", parse_list)] = ()
    delivery_config_file: Annotated[str | None, Var(
        "C2C_DELIVERY_CONFIG_FILE", "a YAML file with `production_clusters:`, `production_namespaces:`, "
        "`failure_window:`, `recovery_horizon:`, `fix_branches:`, `fix_messages:`; the environment wins where both "
        "set a value")] = None
    dora_failure_window: Annotated[str | None, Var(
        "C2C_DORA_FAILURE_WINDOW", "how long after a deployment a rollback, fix release or failed/degraded sync still "
        "fails it (unset: the file's, else `1d`)", _duration_text)] = None
    dora_recovery_horizon: Annotated[str | None, Var(
        "C2C_DORA_RECOVERY_HORIZON", "how far back a restoring deployment looks for the failure it ends (unset: the "
        "file's, else `30d`)", _duration_text)] = None
    dora_fix_branches: Annotated[str | None, Var(
        "C2C_DORA_FIX_BRANCHES", "a fix release's build branch, a regular expression (unset: the file's, else "
        "`^(hotfix\\|fix)([/_-]\\|$)`)", _regex)] = None
    dora_fix_messages: Annotated[str | None, Var(
        "C2C_DORA_FIX_MESSAGES", "or its commit message (unset: the file's, else `^Revert \"`)", _regex)] = None
    delivery_history_start: Annotated[date, Var(
        "C2C_DELIVERY_HISTORY_START", "first day of `delivery_metrics`' daily partitions (`YYYY-MM-DD`; days before a "
        "cluster's first scan produce nothing for it)", parse_day)] = date(2020, 1, 1)

    # Observability
    grafana_url: Annotated[str | None, Var(
        "C2C_GRAFANA_URL", "the Grafana with c2c's dashboards: materializations link to them", _url)] = None
    metrics_address: Annotated[str, Var("C2C_METRICS_ADDRESS", "`c2c metrics serve`: listen address")] = "0.0.0.0"
    metrics_port: Annotated[int, Var("C2C_METRICS_PORT", "`c2c metrics serve`: listen port", _port)] = 9464
    metrics_refresh_seconds: Annotated[float, Var(
        "C2C_METRICS_REFRESH_SECONDS", "`c2c metrics serve`: how often it reads the store",
        _positive_seconds)] = 30.0
    metrics_dora_days: Annotated[int, Var(
        "C2C_METRICS_DORA_DAYS", "`c2c metrics serve`: the window of its `c2c_dora_*` gauges (as `c2c dora --since "
        "30d`)", _whole(1, "days"))] = 30
    freshness_ci_builds: Annotated[str | None, _freshness("ci_builds")] = None
    freshness_argocd_sync_events: Annotated[str | None, _freshness("argocd_sync_events")] = None
    freshness_deployment_snapshots: Annotated[str | None, _freshness("deployment_snapshots")] = None
    freshness_traceability_records: Annotated[str | None, _freshness("traceability_records")] = None
    freshness_delivery_metrics: Annotated[str | None, _freshness("delivery_metrics")] = None

    # Where each value came from: the variable's name when the environment set it; else a default.
    _from_env: frozenset[str] = PrivateAttr(default=frozenset())

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """The settings ``environ`` gives; unset or blank variables take the default. Every bad value
        is reported at once, each as ``VARIABLE='value': what is allowed``."""
        values: dict[str, Any] = {}
        errors: list[str] = []
        for name, var in VARS.items():
            text = environ.get(var.env)
            if text is None or not text.strip():
                continue
            try:
                values[name] = var.parse(text if var.secret else text.strip())
            except ValueError as exc:
                shown = "<secret>" if var.secret else text
                errors.append(f"{var.env}={shown!r}: {exc}")
        if errors:
            raise SettingsError("c2c configuration: " + "; ".join(errors))
        settings = cls(**values)
        settings._from_env = frozenset(values)
        return settings

    def source(self, name: str) -> str:
        """``env`` when the environment set this field's variable, else ``default``."""
        return "env" if name in self._from_env else "default"

    def shown(self, name: str) -> str:
        """The field's value as ``c2c config`` prints it: secrets masked, lists comma-joined."""
        value = getattr(self, name)
        if value is None:
            return ""
        if isinstance(value, SecretStr):
            return "********"
        if isinstance(value, tuple):
            return ",".join(value)
        return str(value).lower() if isinstance(value, bool) else str(value)

    def freshness(self, asset: str) -> str:
        """``asset``'s ``WARN/FAIL`` windows: its variable's, else its default."""
        return getattr(self, f"freshness_{asset}") or FRESHNESS_DEFAULTS[asset]

    @property
    def cluster_configured(self) -> bool:
        """Whether a cluster is named; the Kubernetes and Argo CD sensors and the scan schedule run by default only then."""
        return bool(self.kubeconfig or self.k8s_clusters_file or self.k8s_in_cluster)


#: Field name → its variable, in declaration order (the README's order).
VARS: dict[str, Var] = {
    name: next(meta for meta in field.metadata if isinstance(meta, Var))
    for name, field in Settings.model_fields.items()
}


@lru_cache(maxsize=8)
def _load(values: tuple[tuple[str, str | None], ...]) -> Settings:
    return Settings.from_env({env: text for env, text in values if text is not None})


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The process's settings, parsed once per set of c2c variables (``os.environ`` by default)."""
    environ = os.environ if environ is None else environ
    return _load(tuple((var.env, environ.get(var.env)) for var in VARS.values()))


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """(variable, shown value, source) for every setting: what ``c2c config`` prints."""
    return [(var.env, settings.shown(name), settings.source(name)) for name, var in VARS.items()]


def configuration_table() -> str:
    """The README's configuration table, generated from the fields' docs."""
    defaults = Settings()
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, var in VARS.items():
        default = defaults.shown(name)
        lines.append(f"| `{var.env}` | {f'`{default}`' if default else ''} | {var.doc} |")
    return "\n".join(lines) + "\n"


#: Every default: what a module-level definition carries until ``build_definitions`` applies the
#: process's settings (modules never read the environment when imported).
DEFAULTS = Settings()


TABLE_START, TABLE_END = "<!-- settings table: generated by `python -m c2c_dagster.settings README.md` -->", "<!-- end of settings table -->"


def with_table(readme: str) -> str:
    """``readme`` with the text between the table markers replaced by ``configuration_table()``."""
    start, end = readme.index(TABLE_START) + len(TABLE_START), readme.index(TABLE_END)
    return readme[:start] + "\n" + configuration_table() + readme[end:]


if __name__ == "__main__":
    import sys
    from pathlib import Path

    for path in map(Path, sys.argv[1:]):
        path.write_text(with_table(path.read_text()))
