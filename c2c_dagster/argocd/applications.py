"""Argo CD's Application objects as c2c reads them, defined once: where the API serves them, the
two ways they are listed (``APPLICATIONS``, slim, for a snapshot's join; ``APPLICATIONS_WHOLE``, for
the sync sensor's events), and which Application manages a Kubernetes object (``ArgoApps``). Pure:
the pager that lists them is ``cluster/pager.py``'s (see ``argocd/listing.py``, ``kubernetes/collect.py``)."""

from __future__ import annotations

from typing import Any

from c2c_dagster.cluster.pager import ResourceType

GROUP, VERSION, PLURAL, KIND = "argoproj.io", "v1alpha1", "applications", "Application"
TRACKING_ID_ANNOTATION = "argocd.argoproj.io/tracking-id"
INSTANCE_LABEL = "app.kubernetes.io/instance"

Slim = dict[str, Any]


def slim_application(item: dict[str, Any]) -> Slim:
    """What a snapshot needs of an Application: its name, destination and managed resources."""
    meta = item.get("metadata") or {}
    spec = item.get("spec") or {}
    destination = spec.get("destination") or {}
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "destination": {"server": destination.get("server"), "name": destination.get("name"),
                        "namespace": destination.get("namespace")},
        # The resources Argo CD manages for the app: maps workloads that carry no tracking label.
        "resources": [
            {"group": r.get("group") or "", "kind": r.get("kind"), "namespace": r.get("namespace"),
             "name": r.get("name")}
            for r in (item.get("status") or {}).get("resources") or []
        ],
    }


# Slim: a snapshot reads them for which app manages a workload. Optional (a cluster without Argo CD
# does not serve the CRD); listed cluster-wide even for a namespace-scoped snapshot, since they
# live in Argo CD's namespace, not the workloads'.
APPLICATIONS = ResourceType(PLURAL, KIND, GROUP, VERSION, True, slim_application, optional=True, cluster_wide=True)
# Whole objects: sync events read status.history and status.operationState, which the
# snapshot's slim form drops.
APPLICATIONS_WHOLE = ResourceType(PLURAL, KIND, GROUP, VERSION, True, lambda item: item, optional=True,
                                  cluster_wide=True)


class ArgoApps:
    """Which Argo CD Application manages an object: tracking annotation, then label, then the
    Application's own ``status.resources``; named ``namespace/name`` when the app is known.

    ``applications`` are slim Applications (``slim_application``), or None when they could not
    be read: then an instance label is trusted as Argo CD's default tracking.
    """

    def __init__(self, applications: list[Slim] | None):
        self.listed = applications is not None
        self.by_name: dict[str, list[str]] = {}
        self.by_resource: dict[tuple[str, str, str], str] = {}
        for app in applications or []:
            full = f"{app['namespace']}/{app['name']}"
            self.by_name.setdefault(app["name"], []).append(full)
            for res in app["resources"]:
                self.by_resource[(res["kind"], res.get("namespace") or "", res["name"])] = full

    def _resolve(self, name: str) -> str:
        # Argo CD's apps-in-any-namespace writes "<namespace>_<name>" into tracking values.
        if "_" in name and self.listed:
            ns, _, short = name.partition("_")
            if f"{ns}/{short}" in self.by_name.get(short, []):
                return f"{ns}/{short}"
        candidates = self.by_name.get(name, [])
        return candidates[0] if len(candidates) == 1 else name

    def app_for(self, kind: str, namespace: str | None, name: str | None, obj: Slim) -> str | None:
        tracking = (obj.get("annotations") or {}).get(TRACKING_ID_ANNOTATION)
        if tracking and ":" in tracking:
            return self._resolve(tracking.split(":", 1)[0])
        instance = (obj.get("labels") or {}).get(INSTANCE_LABEL)
        # Helm sets the same label with no Argo CD around: trust it when an Application of that
        # name exists, or when Applications could not be read (then it is Argo CD's default).
        if instance and (not self.listed or instance in self.by_name or "_" in instance):
            return self._resolve(instance)
        return self.by_resource.get((kind, namespace or "", name or ""))
