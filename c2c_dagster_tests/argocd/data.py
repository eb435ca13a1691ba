"""Hand-written Argo CD Application objects for the pure tests of events and cursor (test_events,
test_cursor, test_sync_event_store): valid per the real CRD, status shaped as the controller writes it.

Why hand-written there, when the real controller runs in test_syncs.py: pure functions are tested
on cases the controller cannot be made to produce on demand here — history from Argo CD versions
without ``deployStartedAt``, an ``Error`` before any syncResult, the sub-second window in which
the history entry is written but the operation not yet marked Succeeded, years-old timestamps.
``test_syncs.py::test_the_status_the_pure_tests_write_has_the_fields_the_controller_writes``
checks these builders against a real sync's status.
"""

from __future__ import annotations

from typing import Any

REPO = "https://github.com/example/gitops-config.git"
IN_CLUSTER = "https://kubernetes.default.svc"


def application(name: str, namespace: str = "argocd", *, dest_namespace: str = "guestbook",
                server: str = IN_CLUSTER, sources: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An Application as a user creates it (spec only)."""
    spec: dict[str, Any] = {
        "project": "default",
        "destination": {"server": server, "namespace": dest_namespace},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
    }
    if sources:
        spec["sources"] = sources
    else:
        spec["source"] = {"repoURL": REPO, "path": f"apps/{name}", "targetRevision": "main"}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def history_entry(history_id: int, revision: str, *, started: str, deployed: str,
                  initiated_by: dict[str, Any] | None = None, path: str = "apps/guestbook") -> dict[str, Any]:
    return {
        "id": history_id,
        "revision": revision,
        "deployStartedAt": started,
        "deployedAt": deployed,
        "source": {"repoURL": REPO, "path": path, "targetRevision": "main"},
        "initiatedBy": initiated_by or {"automated": True},
    }


def synced(kind: str, name: str, namespace: str, group: str = "apps", status: str = "Synced",
           **extra: Any) -> dict[str, Any]:
    return {"group": group, "version": "v1", "kind": kind, "namespace": namespace, "name": name,
            "status": status, "message": f"{kind.lower()}.{group or 'core'}/{name} configured",
            "syncPhase": "Sync", **extra}


def operation_state(phase: str, revision: str, *, started: str, finished: str | None,
                    resources: list[dict[str, Any]] | None = None,
                    initiated_by: dict[str, Any] | None = None, message: str = "") -> dict[str, Any]:
    state: dict[str, Any] = {
        "operation": {
            "sync": {"revision": revision, "prune": True},
            "initiatedBy": initiated_by or {"automated": True},
            "retry": {"limit": 5},
        },
        "phase": phase,
        "message": message or ("successfully synced (all tasks run)" if phase == "Succeeded"
                               else "one or more objects failed to apply"),
        "startedAt": started,
    }
    if finished:
        state["finishedAt"] = finished
    if resources is not None:
        state["syncResult"] = {
            "revision": revision,
            "source": {"repoURL": REPO, "path": "apps/guestbook", "targetRevision": "main"},
            "resources": resources,
        }
    return state


def status(*, history: list[dict[str, Any]], operation: dict[str, Any] | None,
           sync_status: str = "Synced", health: str = "Healthy",
           images: list[str] | None = None, revision: str | None = None) -> dict[str, Any]:
    """``status`` as Argo CD's application controller writes it."""
    value: dict[str, Any] = {
        "sync": {"status": sync_status, "revision": revision or (history[-1].get("revision", "") if history else ""),
                 "comparedTo": {"source": {"repoURL": REPO, "path": "apps/guestbook", "targetRevision": "main"},
                                "destination": {"server": IN_CLUSTER, "namespace": "guestbook"}}},
        "health": {"status": health},
        "history": history,
        "summary": {"images": images or []},
        "sourceType": "Directory",
        "reconciledAt": "2026-01-31T10:06:00Z",
    }
    if operation is not None:
        value["operationState"] = operation
    return value
