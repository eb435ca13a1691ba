"""What the Dagster UI shows beside a ``ci_builds`` materialization: the builds just ingested,
unsuccessful or digest-less first, and a link to the Jenkins builds dashboard. Pure."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from c2c_dagster.dagster_ui import JENKINS_BUILDS, PREVIEW_ROWS, dashboard_link, short_digest, table
from c2c_dagster.documents.builds import BuildDocument


def builds_preview(builds: Sequence[BuildDocument]) -> dict[str, dg.MetadataValue]:
    """For ``ci_builds``: the builds just ingested, unsuccessful or digest-less first."""
    ordered = sorted(builds, key=lambda b: (b.build_status == "SUCCESS" and not b.digest_missing, b.timestamp or ""))
    return {
        "builds": table(
            [("build_id", "string"), ("build_status", "string"), ("image_tag", "string"), ("digest", "string"),
             ("digest_missing", "bool")],
            ({"build_id": b.build_id, "build_status": b.build_status or "", "image_tag": b.image_tag or "",
              "digest": short_digest(b.image_digest), "digest_missing": bool(b.digest_missing)}
             for b in ordered[:PREVIEW_ROWS])),
        **dashboard_link("dashboard", JENKINS_BUILDS),
    }
