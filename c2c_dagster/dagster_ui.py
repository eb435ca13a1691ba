"""What the Dagster UI shows beside a materialization, the parts every asset's preview shares:
small metadata tables and a link to the matching Grafana dashboard, so the lineage view leads
straight there. Each asset's own preview lives beside it (``jenkins/preview.py``,
``kubernetes/preview.py``, ``traceability/preview.py``, ``delivery/preview.py``).

The link is there when ``C2C_GRAFANA_URL`` names the Grafana that has c2c's dashboards
(``dashboards/``, fixed uids); Grafana finds a dashboard by uid alone (``/d/<uid>``) and sets its
variables from ``var-<name>`` parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import dagster as dg

from c2c_dagster.settings import load_settings

GRAFANA_URL_ENV = "C2C_GRAFANA_URL"
# The dashboards' uids (dashboards/c2c_dashboards/links.py; a test checks they exist).
OVERVIEW = "c2c-overview"
POD_HEALTH = "c2c-pod-health"
JENKINS_BUILDS = "c2c-jenkins-builds"
RELEASE_HISTORY = "c2c-release-history"
DELIVERY = "c2c-delivery-performance"
PREVIEW_ROWS = 20  # a preview, not the data: the dashboard, `c2c trace` and `c2c dora` have the rest


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


def table(columns: Sequence[tuple[str, str]], rows: Iterable[Mapping[str, Any]]) -> dg.MetadataValue:
    """A metadata table of ``rows`` with ``columns`` (name, Dagster column type) in that order."""
    names = [name for name, _ in columns]
    return dg.MetadataValue.table(
        records=[dg.TableRecord({name: row.get(name) for name in names}) for row in rows],
        schema=dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in columns]),
    )


def short_digest(digest: Any) -> str:
    # sha256:0123456789ab: enough to tell digests apart in a preview; c2c trace --digest takes it.
    return str(digest or "")[:19]
