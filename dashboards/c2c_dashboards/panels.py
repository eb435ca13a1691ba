"""Panel helpers on grafana-foundation-sdk: every c2c panel has a description, a unit and, where a
value can be good or bad, thresholds; tables keep the columns that matter and link onwards."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from grafana_foundation_sdk.builders import bargauge, common, dashboard, piechart, stat, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from c2c_dashboards.queries import OpenSearch

Target = cogbuilder.Builder[cogvariants.Dataquery]

# Threshold steps as (value, colour); the first step's value is None (the base).
GOOD_WHEN_ZERO = ((None, "green"), (1, "red"))
WARN_WHEN_ANY = ((None, "green"), (1, "orange"))
NEUTRAL = ((None, "blue"),)


def thresholds(steps: Iterable[tuple[float | None, str]]) -> dashboard.ThresholdsConfig:
    return dashboard.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps(
        [dm.Threshold(value=value, color=color) for value, color in steps])


def link(title: str, url: str) -> dict[str, Any]:
    """A data link (field config ``links``); ``url`` may use ``${__value.raw}``,
    ``${__data.fields.<name>}`` and ``${__url_time_range}``."""
    return {"title": title, "url": url}


def dashboard_url(uid: str, slug: str, **variables: str) -> str:
    """A link to another c2c dashboard that keeps the time range and sets its variables."""
    query = "&".join(f"var-{name}={value}" for name, value in variables.items())
    return f"/d/{uid}/{slug}?{query}{'&' if query else ''}${{__url_time_range}}"


def _links_override(field_links: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[Any]:
    return [
        dashboard.DashboardFieldConfigSourceOverrides()
        .matcher(dm.MatcherConfig(id_val="byName", options=name))
        .properties([dm.DynamicConfigValue(id_val="links", value=list(links))])
        for name, links in field_links.items()
    ]


def _common(panel: Any, title: str, description: str, targets: Sequence[Target], unit: str | None,
            steps: Iterable[tuple[float | None, str]] | None) -> Any:
    panel = panel.title(title).description(description)
    for target in targets:
        panel = panel.with_target(target)
    if unit:
        panel = panel.unit(unit)
    if steps is not None:
        panel = panel.thresholds(thresholds(steps))
    return panel


def stat_panel(title: str, description: str, target: Target, *, unit: str = "none",
               steps: Iterable[tuple[float | None, str]] = NEUTRAL, calc: str = "lastNotNull",
               links: Sequence[Mapping[str, Any]] = ()) -> stat.Panel:
    """One number. ``calc`` reduces the series the way Grafana shows it: ``sum`` totals the
    buckets of a date histogram (a count over the time range), ``lastNotNull`` takes the newest."""
    panel = _common(stat.Panel(), title, description, [target], unit, steps)
    panel = panel.reduce_options(common.ReduceDataOptions().calcs([calc]).values(False))
    panel = panel.color_mode(cm.BigValueColorMode.BACKGROUND).graph_mode(cm.BigValueGraphMode.NONE)
    if links:
        panel = panel.links([dashboard.DashboardLink(item["title"]).url(item["url"]) for item in links])
    return panel


def count_stat(title: str, description: str, target: Target, *,
               steps: Iterable[tuple[float | None, str]] = NEUTRAL) -> stat.Panel:
    """A count over the dashboard's time range: the sum of a per-interval count (``queries.counted``)."""
    return stat_panel(title, description, target, steps=steps, calc="sum")


def timeseries_panel(title: str, description: str, targets: Sequence[Target], *, unit: str = "none",
                     bars: bool = False, stacked: bool = False,
                     steps: Iterable[tuple[float | None, str]] | None = None) -> timeseries.Panel:
    panel = _common(timeseries.Panel(), title, description, targets, unit, steps)
    if bars:
        panel = panel.draw_style(cm.GraphDrawStyle.BARS).fill_opacity(80)
    if stacked:
        panel = panel.stacking(common.StackingConfig().mode(cm.StackingMode.NORMAL))
    return panel.legend(common.VizLegendOptions().display_mode(cm.LegendDisplayMode.TABLE)
                        .placement(cm.LegendPlacement.BOTTOM).show_legend(True).calcs(["sum", "lastNotNull"]))


def bar_gauge_panel(title: str, description: str, target: Target, *, unit: str = "none",
                    steps: Iterable[tuple[float | None, str]] = NEUTRAL, calc: str = "lastNotNull") -> bargauge.Panel:
    """Values by category: a bar per term or per series. The OpenSearch datasource returns a terms
    aggregation as one table frame, a row per term: the bar gauge shows every row (``values:
    true``); reducing it instead would give one bar, the last row's. Prometheus returns a frame per
    series, each reduced by ``calc``."""
    all_values = isinstance(target, OpenSearch)
    panel = _common(bargauge.Panel(), title, description, [target], unit, steps)
    return (panel.orientation(cm.VizOrientation.HORIZONTAL).display_mode(cm.BarGaugeDisplayMode.BASIC)
            .reduce_options(common.ReduceDataOptions().calcs([calc]).values(all_values)))


def pie_panel(title: str, description: str, target: Target, *, unit: str = "none") -> piechart.Panel:
    panel = _common(piechart.Panel(), title, description, [target], unit, None)
    return panel.reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))


def table_panel(title: str, description: str, target: Target, *, columns: Sequence[str],
                links: Mapping[str, Sequence[Mapping[str, Any]]] | None = None, unit: str = "none",
                units: Mapping[str, str] | None = None,
                steps: Iterable[tuple[float | None, str]] | None = None) -> table.Panel:
    """A table showing ``columns`` in that order (other fields of the result are dropped);
    ``units`` sets a column's unit where it differs from the table's."""
    panel = _common(table.Panel(), title, description, [target], unit, steps)
    panel = panel.with_transformation(dm.DataTransformerConfig(
        id_val="filterFieldsByName", options={"include": {"names": list(columns)}}))
    panel = panel.with_transformation(dm.DataTransformerConfig(
        id_val="organize", options={"indexByName": {name: i for i, name in enumerate(columns)}}))
    panel = panel.filterable(True)
    overrides = _links_override(links or {}) + [
        dashboard.DashboardFieldConfigSourceOverrides()
        .matcher(dm.MatcherConfig(id_val="byName", options=name))
        .properties([dm.DynamicConfigValue(id_val="unit", value=column_unit)])
        for name, column_unit in (units or {}).items()
    ]
    return panel.overrides(overrides) if overrides else panel
