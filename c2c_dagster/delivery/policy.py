"""What counts for delivery performance: production, the change-failure window, what a fix release is.

Pure rules, tested directly; ``DeliveryPolicyResource`` reads the settings, the same ones whether
a day is computed by automation or by a backfill.

* **Production** is every cluster and namespace unless configured: ``C2C_PRODUCTION_CLUSTERS`` and
  ``C2C_PRODUCTION_NAMESPACES`` (comma-separated shell-style patterns, ``prod-*``), or the
  ``production_clusters:`` / ``production_namespaces:`` lists of the YAML file
  ``C2C_DELIVERY_CONFIG_FILE`` (the environment wins where both say something). A namespace pattern
  with a slash names a cluster too (``shared/prod-*``). A release counts when its cluster matches a
  cluster pattern (or none is given) and its namespace a namespace pattern (or none is given).
* **Failure window** (``C2C_DORA_FAILURE_WINDOW``, default ``1d``): how long after a release a
  rollback, a failed or degraded sync of its app, or a fix release still marks it failed.
* **Recovery horizon** (``C2C_DORA_RECOVERY_HORIZON``, default ``30d``): how far back a run looks for
  the failed release a restoring release ends; a failure left longer is not measured.
* **Fix release**: a release whose build ran on a branch matching ``C2C_DORA_FIX_BRANCHES`` (a
  regular expression, default ``^(hotfix|fix)([/_-]|$)``) or took a commit whose message matches
  ``C2C_DORA_FIX_MESSAGES`` (default ``^Revert "``, what ``git revert`` writes). Ordinary commits
  that fix bugs (``fix: ...``) do not make a release a fix release: that would mark nearly every
  release before it failed.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any


from c2c_dagster.settings_file import read_settings_file
from c2c_dagster.freshness import FreshnessSettingError, parse_duration
from c2c_dagster.settings import Settings, load_settings

CLUSTERS_ENV = "C2C_PRODUCTION_CLUSTERS"
NAMESPACES_ENV = "C2C_PRODUCTION_NAMESPACES"
CONFIG_FILE_ENV = "C2C_DELIVERY_CONFIG_FILE"
FAILURE_WINDOW_ENV = "C2C_DORA_FAILURE_WINDOW"
RECOVERY_HORIZON_ENV = "C2C_DORA_RECOVERY_HORIZON"
FIX_BRANCHES_ENV = "C2C_DORA_FIX_BRANCHES"
FIX_MESSAGES_ENV = "C2C_DORA_FIX_MESSAGES"

DEFAULT_FAILURE_WINDOW = "1d"
DEFAULT_RECOVERY_HORIZON = "30d"
DEFAULT_FIX_BRANCHES = r"^(hotfix|fix)([/_-]|$)"
DEFAULT_FIX_MESSAGES = r'^Revert "'
# Argo CD finishes a sync once its resources are applied and healthy, which can be after the new
# pods started; a sync finishing this soon after the release still belongs to it
# (traceability/releases.py uses the same tolerance to name the sync behind a release).
SYNC_TOLERANCE = timedelta(minutes=15)

FILE_KEYS = ("production_clusters", "production_namespaces", "failure_window", "recovery_horizon",
             "fix_branches", "fix_messages")


class DeliveryPolicyError(ValueError):
    """A delivery setting c2c cannot use; the message names the setting and what is expected."""


@dataclass(frozen=True)
class ProductionScope:
    """Cluster and namespace patterns; empty means every cluster (namespace) is production."""

    clusters: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()

    def covers_cluster(self, cluster: str) -> bool:
        return not self.clusters or any(fnmatch.fnmatchcase(cluster, p) for p in self.clusters)

    def covers(self, cluster: str, namespace: str) -> bool:
        if not self.covers_cluster(cluster):
            return False
        if not self.namespaces:
            return True
        qualified = f"{cluster}/{namespace}"
        return any(fnmatch.fnmatchcase(qualified if "/" in p else namespace, p) for p in self.namespaces)

    def describe(self) -> str:
        clusters = ", ".join(self.clusters) or "every cluster"
        namespaces = ", ".join(self.namespaces) or "every namespace"
        return f"{clusters}; {namespaces}"


@dataclass(frozen=True)
class DeliveryPolicy:
    production: ProductionScope = field(default_factory=ProductionScope)
    failure_window: timedelta = timedelta(days=1)
    recovery_horizon: timedelta = timedelta(days=30)
    fix_branches: str = DEFAULT_FIX_BRANCHES
    fix_messages: str = DEFAULT_FIX_MESSAGES
    sync_tolerance: timedelta = SYNC_TOLERANCE

    def __post_init__(self) -> None:
        for name in ("fix_branches", "fix_messages"):
            try:
                re.compile(getattr(self, name))
            except re.error as exc:
                raise DeliveryPolicyError(f"{name} {getattr(self, name)!r} is not a regular expression: {exc}") from None
        if self.failure_window <= timedelta(0) or self.recovery_horizon <= timedelta(0):
            raise DeliveryPolicyError("the failure window and the recovery horizon must be longer than zero")

    def is_fix(self, branch: str | None, messages: Iterable[str]) -> bool:
        """A fix release's build: a fix branch, or a commit ``git revert`` wrote (module docstring)."""
        if branch and re.search(self.fix_branches, branch):
            return True
        pattern = re.compile(self.fix_messages, re.MULTILINE)
        return any(pattern.search(message or "") for message in messages)


def _patterns(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def _string_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return _patterns(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise DeliveryPolicyError(f"{where}: want a list of patterns (or one comma-separated string)")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The YAML file's settings, by the keys of ``FILE_KEYS``; a bad file names the key or the reason."""
    file = Path(path).expanduser()  # how the messages below name it
    raw = read_settings_file(path, env=CONFIG_FILE_ENV, keys=FILE_KEYS, error=DeliveryPolicyError)
    settings: dict[str, Any] = {}
    for key in ("production_clusters", "production_namespaces"):
        if key in raw:
            settings[key] = _string_list(raw[key], f"{file}: {key}")
    for key in ("failure_window", "recovery_horizon", "fix_branches", "fix_messages"):
        if raw.get(key) is not None:
            settings[key] = str(raw[key])
    return settings


def _duration(text: str, where: str) -> timedelta:
    try:
        return parse_duration(text, where)
    except FreshnessSettingError as exc:
        raise DeliveryPolicyError(str(exc)) from None


def build_policy(
    *,
    production_clusters: Iterable[str] = (),
    production_namespaces: Iterable[str] = (),
    failure_window: str = DEFAULT_FAILURE_WINDOW,
    recovery_horizon: str = DEFAULT_RECOVERY_HORIZON,
    fix_branches: str = DEFAULT_FIX_BRANCHES,
    fix_messages: str = DEFAULT_FIX_MESSAGES,
) -> DeliveryPolicy:
    return DeliveryPolicy(
        production=ProductionScope(tuple(production_clusters), tuple(production_namespaces)),
        failure_window=_duration(failure_window, FAILURE_WINDOW_ENV),
        recovery_horizon=_duration(recovery_horizon, RECOVERY_HORIZON_ENV),
        fix_branches=fix_branches,
        fix_messages=fix_messages,
    )


def policy_settings(settings: Settings) -> dict[str, Any]:
    """The resource's settings: the YAML file's, overridden by whatever the environment sets."""
    values: dict[str, Any] = read_config_file(settings.delivery_config_file) if settings.delivery_config_file else {}
    for key in ("production_clusters", "production_namespaces"):
        if getattr(settings, key):
            values[key] = list(getattr(settings, key))
    for key in ("failure_window", "recovery_horizon", "fix_branches", "fix_messages"):
        if getattr(settings, f"dora_{key}") is not None:
            values[key] = getattr(settings, f"dora_{key}")
    build_policy(**values)  # a bad value fails here, naming the key, not in a run
    return values


def env_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """``policy_settings`` of the settings ``environ`` gives."""
    return policy_settings(load_settings(environ))
