"""The Argo CD sensor's cursor: per cluster and Application, which syncs were already handled.

Pure functions, tested directly. Per app it keeps the history ids still in ``status.history``
(ids only grow, so one that fell off Argo CD's 10-entry cap never returns and is dropped), the
last finished operation (a failed sync or a self-heal adds no history entry), and the
app's uid: an app deleted and created again under the same name restarts its ids at 0 and is a
new app, with nothing of the old one's cursor.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from c2c_dagster.argocd.events import SyncEvent


@dataclass
class AppCursor:
    history_ids: set[int] = field(default_factory=set)
    # ``operation_key`` of the last finished operation handled (a cursor written before keys were
    # kept holds its plain finishedAt, which ``_handled`` still recognises).
    last_operation: str | None = None
    uid: str | None = None


@dataclass
class ArgoCursor:
    # cluster name -> "<app-namespace>/<app-name>" -> what was handled. A cluster is present
    # once its Applications were listed; its first listing is a baseline (see ``is_known``).
    clusters: dict[str, dict[str, AppCursor]] = field(default_factory=dict)

    def is_known(self, cluster: str) -> bool:
        return cluster in self.clusters

    @classmethod
    def loads(cls, text: str | None) -> "ArgoCursor":
        if not text:
            return cls()
        raw = json.loads(text)
        return cls(
            clusters={
                cluster: {
                    key: AppCursor(set(entry.get("h", [])), entry.get("f"), entry.get("u"))
                    for key, entry in apps.items()
                }
                for cluster, apps in raw.get("clusters", {}).items()
            }
        )

    def dumps(self) -> str:
        # Short keys: a cluster with hundreds of apps keeps its cursor to a few tens of kB.
        return json.dumps(
            {
                "clusters": {
                    cluster: {
                        key: {
                            "h": sorted(app.history_ids),
                            **({"f": app.last_operation} if app.last_operation else {}),
                            **({"u": app.uid} if app.uid else {}),
                        }
                        for key, app in sorted(apps.items())
                    }
                    for cluster, apps in sorted(self.clusters.items())
                }
            },
            separators=(",", ":"),
        )


def _handled(event: SyncEvent, last_operation: str | None) -> bool:
    if last_operation is not None and "#" not in last_operation:  # an older cursor: finishedAt only
        return event.finished_at == last_operation
    return event.operation_key == last_operation


def advance_app(
    seen: AppCursor | None, events: Sequence[SyncEvent], uid: str | None = None
) -> tuple[list[SyncEvent], AppCursor]:
    """The events of one Application not handled yet, and the app's cursor once they are.

    An event is new when its history id is unseen, or when it is the current operation and that
    operation (``operation_key``: its finishedAt and what it was) was not seen before. The second rule also catches the moment between Argo CD
    writing the history entry and marking the operation Succeeded: the entry is recorded first
    without resources, then again (same id, upsert) with them once the operation has finished.
    ``uid`` is the app's ``metadata.uid``: another uid than the cursor's is a re-created app, all
    of whose events are new. A cursor entry without a uid (written before uids were kept) is
    taken to be the same app, so an upgrade records nothing twice.
    """
    if seen is not None and seen.uid and uid and seen.uid != uid:
        seen = None
    seen = seen or AppCursor()
    new = [
        event
        for event in events
        if (event.history_id is not None and event.history_id not in seen.history_ids)
        or (event.is_current_operation and not _handled(event, seen.last_operation))
    ]
    current = next((event.operation_key for event in events if event.is_current_operation), None)
    return new, AppCursor(
        history_ids={event.history_id for event in events if event.history_id is not None},
        last_operation=current or seen.last_operation,
        uid=uid or seen.uid,
    )


def snapshot_event(new: Sequence[SyncEvent], operation_phase: str | None) -> SyncEvent | None:
    """Which new event, if any, gets a post-sync snapshot: at most one per app and tick.

    A snapshot shows the cluster as it is now, so only the latest sync can be shown: that is
    the current operation when it is new. While an operation is still running, none (its end
    will be a new event). An app without any ``operationState`` falls back to its newest new
    history entry.
    """
    current = [event for event in new if event.is_current_operation]
    if current:
        return current[-1]
    if operation_phase is None and new:
        return max((e for e in new if e.history_id is not None), key=lambda e: e.history_id or 0, default=None)
    return None
