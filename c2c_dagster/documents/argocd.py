"""The argocd-sync-events document: one finished sync of one Argo CD Application.

Written by ``argocd_sync_sensor`` (the ``argocd_sync_events`` asset), read by
``traceability_records`` for the config revision and declared images behind what runs. Field
names follow Argo CD's CRD where they carry its values (``history_id``, ``phase``, ``health``).
"""

from __future__ import annotations

from dataclasses import dataclass

from c2c_dagster.documents.base import Document, boolean, date, integer, keyword, long, nested, stored, text


@dataclass(slots=True)
class SyncedResource(Document):
    """One resource of a sync's ``syncResult``: what was applied, pruned or refused."""

    omit_none = True

    group: str | None = keyword(keep_none=True)
    kind: str | None = keyword(keep_none=True)
    namespace: str | None = keyword(keep_none=True)
    name: str | None = keyword(keep_none=True)
    status: str | None = keyword(keep_none=True)  # Synced, Pruned, SyncFailed, ...
    # Hooks (e.g. c2c's own PostSync Job) are listed with their hook type; they are not part of
    # the deployed state, and the snapshot scope leaves them out.
    hook_type: str | None = keyword()
    message: str | None = stored()


@dataclass(slots=True)
class SyncEventDocument(Document):
    """A finished sync: the config-repo revision it deployed, who started it, how it ended."""

    omit_none = True

    event_id: str = keyword(lookup=True, default="")  # <argocd cluster>/<app ns>/<app>/<uid>/<history id or finishedAt>
    # Where the Application object lives (the event id's cluster) vs. where it deploys to
    # (``cluster``, absent when the destination is not a configured cluster).
    argocd_cluster: str | None = keyword(lookup=True)
    cluster: str | None = keyword(lookup=True)
    app: str | None = keyword(lookup=True)
    app_namespace: str | None = keyword()
    app_uid: str | None = keyword()
    project: str | None = keyword()
    destination_server: str | None = keyword()
    destination_name: str | None = keyword()
    destination_namespace: str | None = keyword(lookup=True)
    # One value for a single-source app, several for a multi-source one: a lookup by one commit
    # or repository finds either kind of app.
    repo_url: str | list[str] | None = keyword(lookup=True)
    source_paths: list[str] = keyword(factory=list)  # one per source, aligned with revisions
    revision: str | list[str] | None = keyword(lookup=True)
    revisions: list[str] = keyword(factory=list)
    history_id: int | None = long()
    phase: str | None = keyword(lookup=True)
    sync_status: str | None = keyword()
    health: str | None = keyword()
    initiated_by: str | None = keyword()
    automated: bool | None = boolean()
    images: list[str] | None = keyword(lookup=True)  # what the sync applied; only for the latest operation
    resources: list[SyncedResource] = nested(SyncedResource, many=True)
    message: str | None = text()
    retry_count: int | None = integer()
    started_at: str | None = date()
    finished_at: str | None = date()  # the index's time field
    deployed_at: str | None = date()
    recorded_at: str | None = date()
    # The post-sync snapshot: the sensor's run key, or the run a PostSync hook launched.
    snapshot_run_key: str | None = keyword()
    snapshot_run_id: str | None = keyword()
    ingest_problems: list[str] | None = text()

    @property
    def app_name(self) -> str:
        """``<app-namespace>/<app-name>``: how snapshots and the PostSync hook name an app."""
        return f"{self.app_namespace}/{self.app}"
