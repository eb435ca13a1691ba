"""What the Dagster UI shows beside each materialization: small tables of what needs attention and
a link to the matching Grafana dashboard, so the lineage view leads straight there.

Pure over the documents an asset just wrote. The link is there when ``C2C_GRAFANA_URL`` names the
Grafana that has c2c's dashboards (``dashboards/``, fixed uids); Grafana finds a dashboard by uid
alone (``/d/<uid>``) and sets its variables from ``var-<name>`` parameters.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import dagster as dg

from c2c_dagster.documents.builds import BuildDocument
from c2c_dagster.documents.deployments import PodVersion, WorkloadVersion
from c2c_dagster.documents.traceability import ReleaseEvent, TraceabilityRecord
from c2c_dagster.settings import load_settings

GRAFANA_URL_ENV = "C2C_GRAFANA_URL"
# The dashboards' uids (dashboards/c2c_dashboards/links.py; a test checks they exist).
OVERVIEW = "c2c-overview"
POD_HEALTH = "c2c-pod-health"
JENKINS_BUILDS = "c2c-jenkins-builds"
RELEASE_HISTORY = "c2c-release-history"
DELIVERY = "c2c-delivery-performance"
PREVIEW_ROWS = 20  # a preview, not the data: the dashboard and `c2c trace` have the rest
# Flags that advise rather than warn (a tag in the spec instead of a digest): not "needs attention".
ADVICE_FLAGS = frozenset({"not_pinned"})


def dashboard_url(uid: str, **variables: str) -> str | None:
    """``<C2C_GRAFANA_URL>/d/<uid>?var-...``, or None when no Grafana is configured."""
    base = (load_settings().grafana_url or "").rstrip("/")
    if not base:
        return None
    query = urlencode({f"var-{name}": value for name, value in variables.items()})
    return f"{base}/d/{uid}" + (f"?{query}" if query else "")


def dashboard_link(key: str, uid: str, **variables: str) -> dict[str, dg.MetadataValue]:
    """``{key: <url>}`` metadata linking to a dashboard; empty when no Grafana is configured."""
    url = dashboard_url(uid, **variables)
    return {key: dg.MetadataValue.url(url)} if url else {}


def _table(columns: Sequence[tuple[str, str]], rows: Iterable[Mapping[str, Any]]) -> dg.MetadataValue:
    names = [name for name, _ in columns]
    return dg.MetadataValue.table(
        records=[dg.TableRecord({name: row.get(name) for name in names}) for row in rows],
        schema=dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in columns]),
    )


def _short(digest: Any) -> str:
    # sha256:0123456789ab: enough to tell digests apart in a preview; c2c trace --digest takes it.
    return str(digest or "")[:19]


def traceability_preview(cluster: str, records: Sequence[TraceabilityRecord],
                         events: Sequence[ReleaseEvent]) -> dict[str, dg.MetadataValue]:
    """For ``traceability_records``: flagged running images, counts per namespace, newest releases."""
    attention = sorted((r for r in records if set(r.flags) - ADVICE_FLAGS),
                       key=lambda r: (r.namespace or "", r.workload_name or "", r.container_name or ""))
    per_namespace: dict[str, Counter[str]] = defaultdict(Counter)
    for record in records:
        counts = per_namespace[record.namespace or ""]
        counts["running_images"] += 1
        counts["traced_to_a_build"] += bool(record.build_id)
        counts["untraceable"] += "untraceable" in record.flags
    newest = sorted(events, key=lambda e: e.at or "", reverse=True)[:PREVIEW_ROWS]
    return {
        "flagged_records": _table(
            [("namespace", "string"), ("workload", "string"), ("container", "string"), ("digest", "string"),
             ("build_id", "string"), ("flags", "string")],
            ({"namespace": r.namespace, "workload": r.workload_name, "container": r.container_name,
              "digest": _short(r.image_digest), "build_id": r.build_id or "",
              "flags": ", ".join(r.flags)} for r in attention[:PREVIEW_ROWS])),
        "per_namespace": _table(
            [("namespace", "string"), ("running_images", "int"), ("traced_to_a_build", "int"), ("untraceable", "int")],
            ({"namespace": ns, **counts} for ns, counts in sorted(per_namespace.items()))),
        "newest_releases": _table(
            [("at", "string"), ("namespace", "string"), ("workload", "string"), ("from_build_id", "string"),
             ("to_build_id", "string"), ("rollback", "bool")],
            ({"at": e.at, "namespace": e.namespace, "workload": e.workload_name,
              "from_build_id": e.from_build_id or "", "to_build_id": e.to_build_id or "",
              "rollback": bool(e.rollback)} for e in newest)),
        **dashboard_link("dashboard", OVERVIEW, cluster=cluster),
        **dashboard_link("release_history", RELEASE_HISTORY, cluster=cluster),
    }


def snapshot_preview(cluster: str, pods: Sequence[PodVersion],
                     workloads: Sequence[WorkloadVersion]) -> dict[str, dg.MetadataValue]:
    """For ``deployment_snapshots``: what the snapshot saw, per namespace."""
    per_namespace: dict[str, Counter[str]] = defaultdict(Counter)
    for workload in workloads:
        per_namespace[workload.namespace or ""]["workloads"] += 1
    for pod in pods:
        counts = per_namespace[pod.namespace or ""]
        counts["pods"] += 1
        counts["not_ready"] += not pod.ready
        counts["restarts"] += sum(c.restartCount or 0 for c in pod.containers)
    return {
        "per_namespace": _table(
            [("namespace", "string"), ("workloads", "int"), ("pods", "int"), ("not_ready", "int"), ("restarts", "int")],
            ({"namespace": ns, "workloads": c["workloads"], "pods": c["pods"], "not_ready": c["not_ready"],
              "restarts": c["restarts"]} for ns, c in sorted(per_namespace.items()))),
        **dashboard_link("dashboard", POD_HEALTH, cluster=cluster),
    }


def builds_preview(builds: Sequence[BuildDocument]) -> dict[str, dg.MetadataValue]:
    """For ``ci_builds``: the builds just ingested, unsuccessful or digest-less first."""
    ordered = sorted(builds, key=lambda b: (b.build_status == "SUCCESS" and not b.digest_missing, b.timestamp or ""))
    return {
        "builds": _table(
            [("build_id", "string"), ("build_status", "string"), ("image_tag", "string"), ("digest", "string"),
             ("digest_missing", "bool")],
            ({"build_id": b.build_id, "build_status": b.build_status or "", "image_tag": b.image_tag or "",
              "digest": _short(b.image_digest), "digest_missing": bool(b.digest_missing)}
             for b in ordered[:PREVIEW_ROWS])),
        **dashboard_link("dashboard", JENKINS_BUILDS),
    }
