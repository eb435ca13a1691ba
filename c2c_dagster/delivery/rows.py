"""The delivery-metrics row: its scopes and its id, one definition for the writer and the readers.

A row holds one scope's figures for one UTC day. The scopes: ``cluster_app`` (one app in one
cluster), ``cluster`` (every app of a cluster), ``app`` (one app across production clusters) and
``all``; ``ALL`` ("*") stands in for "every cluster" or "every app". The id,
``<scope>/<cluster>/<app>/<day>``, is deterministic: a re-run or a backfill overwrites.
"""

from __future__ import annotations

ALL = "*"
SCOPES: dict[str, tuple[bool, bool]] = {
    # scope: (keeps the cluster, keeps the app); what it does not keep is ALL
    "cluster_app": (True, True),
    "cluster": (True, False),
    "app": (False, True),
    "all": (False, False),
}


def scope_of(cluster: str | None, app: str | None) -> str:
    """The scope that answers for one cluster or all (None), one app or all (None)."""
    return next(name for name, keeps in SCOPES.items() if keeps == (cluster is not None, app is not None))


def row_id(scope: str, cluster: str, app: str, day: str) -> str:
    return f"{scope}/{cluster}/{app}/{day}"
