"""What the Dagster UI shows beside a ``traceability_records`` materialization: the flagged running
images, counts per namespace, the newest releases, and links to the overview and release history
dashboards on the cluster. Pure."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

import dagster as dg

from c2c_dagster.dagster_ui import OVERVIEW, PREVIEW_ROWS, RELEASE_HISTORY, dashboard_link, short_digest, table
from c2c_dagster.documents.traceability import ReleaseEvent, TraceabilityRecord

# Flags that advise rather than warn (a tag in the spec instead of a digest): not "needs attention".
ADVICE_FLAGS = frozenset({"not_pinned"})


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
        "flagged_records": table(
            [("namespace", "string"), ("workload", "string"), ("container", "string"), ("digest", "string"),
             ("build_id", "string"), ("flags", "string")],
            ({"namespace": r.namespace, "workload": r.workload_name, "container": r.container_name,
              "digest": short_digest(r.image_digest), "build_id": r.build_id or "",
              "flags": ", ".join(r.flags)} for r in attention[:PREVIEW_ROWS])),
        "per_namespace": table(
            [("namespace", "string"), ("running_images", "int"), ("traced_to_a_build", "int"), ("untraceable", "int")],
            ({"namespace": ns, **counts} for ns, counts in sorted(per_namespace.items()))),
        "newest_releases": table(
            [("at", "string"), ("namespace", "string"), ("workload", "string"), ("from_build_id", "string"),
             ("to_build_id", "string"), ("rollback", "bool")],
            ({"at": e.at, "namespace": e.namespace, "workload": e.workload_name,
              "from_build_id": e.from_build_id or "", "to_build_id": e.to_build_id or "",
              "rollback": bool(e.rollback)} for e in newest)),
        **dashboard_link("dashboard", OVERVIEW, cluster=cluster),
        **dashboard_link("release_history", RELEASE_HISTORY, cluster=cluster),
    }
