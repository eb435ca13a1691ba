"""Assembling a dashboard: layout, variables, links, and the export wrapper Grafana imports.

The JSON is Grafana's "export for sharing externally" shape: ``__inputs`` names every datasource
the dashboard needs (Grafana asks for them on import and fills the datasource variables'
defaults), ``__requires`` the plugins, then the dashboard with a fixed ``uid`` (links between
c2c dashboards use it) and the SDK's current ``schemaVersion``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm

from c2c_dashboards.sources import OPENSEARCH_PLUGIN, Source
from c2c_dashboards.variables import datasource

TAG = "c2c"
GRAFANA_VERSION = "11.0.0"  # the oldest Grafana these dashboards are written for (11.x and 12.x)
GRID_WIDTH = 24
# Grafana's own annotations and alerts, as every dashboard it saves carries them.
BUILT_IN_ANNOTATIONS = {
    "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard",
}
PANEL_NAMES = {"stat": "Stat", "timeseries": "Time series", "table": "Table", "bargauge": "Bar gauge",
               "piechart": "Pie chart"}


# What runs now is read from open versions and running records, whose time fields (last_seen,
# updated_at) move only when they change: an unchanged scan writes one scan watermark instead
# (kubernetes/history.py). A workload unchanged for days is still running, so a current-state
# panel looks back this far whatever the dashboard's range.
CURRENT_STATE_RANGE = "10y"
CURRENT_STATE_MARKERS = ("_exists_:current", "running:true")


def _current_state(target: dict[str, Any]) -> bool:
    """An OpenSearch target that selects what runs now (open versions, running records)."""
    query = target.get("query") or ""
    return target.get("datasource", {}).get("type") == OPENSEARCH_PLUGIN and any(m in query for m in CURRENT_STATE_MARKERS)


@dataclass(frozen=True)
class Cell:
    """A panel and its size on the 24-column grid."""

    panel: Any
    width: int
    height: int = 8


@dataclass
class Spec:
    """Everything a dashboard module declares; ``rows`` are laid out top to bottom."""

    uid: str
    slug: str
    title: str
    description: str
    sources: Sequence[Source]
    variables: Sequence[cogbuilder.Builder[dm.VariableModel]]
    rows: Sequence[Sequence[Cell]]
    time_from: str = "now-7d"
    tags: Sequence[str] = field(default_factory=tuple)
    refresh: str = "5m"


def _as_json(builder: Any) -> dict[str, Any]:
    return json.loads(json.dumps(builder.build(), cls=JSONEncoder))


def export(spec: Spec) -> dict[str, Any]:
    """The dashboard as Grafana imports it (and as the file provisioner loads it)."""
    board = (
        dashboard.Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags([TAG, *spec.tags])
        .time(spec.time_from, "now")
        .refresh(spec.refresh)
        .timezone("utc")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .editable()
        .link(dashboard.DashboardLink("c2c dashboards").type(dm.DashboardLinkType.DASHBOARDS).tags([TAG])
              .as_dropdown(True).include_vars(True).keep_time(True))
    )
    for source in spec.sources:
        board = board.with_variable(datasource(source))
    for variable in spec.variables:
        board = board.with_variable(variable)
    y, panel_id = 0, 0
    for row in spec.rows:
        if sum(cell.width for cell in row) > GRID_WIDTH:
            raise ValueError(f"{spec.uid}: a row is wider than {GRID_WIDTH} columns")
        x = 0
        for cell in row:
            panel_id += 1
            board = board.with_panel(cell.panel.id(panel_id).grid_pos(
                dm.GridPos(h=cell.height, w=cell.width, x=x, y=y)))
            x += cell.width
        y += max(cell.height for cell in row)
    body = _as_json(board)
    for panel in body["panels"]:
        # Every target of a c2c panel reads one datasource; saying so on the panel too is what
        # Grafana's own editor saves (and what it falls back to for a target without one).
        panel["datasource"] = panel["targets"][0]["datasource"]
        if all(_current_state(target) for target in panel["targets"]):
            panel["timeFrom"] = CURRENT_STATE_RANGE
    body["annotations"] = {"list": [BUILT_IN_ANNOTATIONS]}
    panel_types = sorted({panel["type"] for panel in body["panels"]})
    return {
        "__inputs": [
            {"name": source.input, "label": source.label, "description": source.description,
             "type": "datasource", "pluginId": source.plugin, "pluginName": source.plugin_name}
            for source in spec.sources
        ],
        "__elements": {},
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": GRAFANA_VERSION},
            *({"type": "datasource", "id": plugin, "name": name, "version": "1.0.0"}
              for plugin, name in sorted({(s.plugin, s.plugin_name) for s in spec.sources})),
            *({"type": "panel", "id": kind, "name": PANEL_NAMES[kind], "version": ""} for kind in panel_types),
        ],
        **body,
    }
