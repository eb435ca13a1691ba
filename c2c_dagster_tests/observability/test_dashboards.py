"""The committed dashboards are exactly what the generator writes, carry what an import into
Grafana 11/12 needs, query only fields c2c's indices map, and every drill-down link lands on an
existing dashboard and variable with fields the panel has. (That every query returns the right
numbers is proven against real OpenSearch and Prometheus in test_dashboard_queries.py.)"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml

from c2c_dagster.store.indices import INDICES_BY_NAME
from c2c_dashboards.__main__ import DASHBOARDS_DIR, datasources_provisioning, render, stale
from c2c_dashboards.sources import INDEX_SOURCES

# The seed's nine dashboards (sections 8.4-8.6), by name, and the tenth over DORA's four keys.
SEED_DASHBOARDS = {
    "Application Release History", "Jenkins Build Trace", "Deployments Over Time", "Deployment Impact & Regression",
    "Argo CD Deployment Monitoring", "Kubernetes Resource Utilization", "Pod Health & Runtime Status",
    "Code-To-Container Observability – Overview", "Code-To-Container Traceability",
}
DASHBOARD_TITLES = SEED_DASHBOARDS | {"Delivery Performance"}


def committed() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS_DIR.glob("*.json"))}


BOARDS = committed()
SOURCES = {source.var: source for source in INDEX_SOURCES}


def panels() -> list[tuple[str, dict[str, Any]]]:
    return [(name, panel) for name, board in BOARDS.items() for panel in board["panels"]]


def test_regenerating_the_dashboards_changes_nothing() -> None:
    assert stale(render()) == [], "run: .venv/bin/python -m c2c_dashboards"


def test_the_seed_dashboards_are_all_there_by_name() -> None:
    assert {board["title"] for board in BOARDS.values()} == DASHBOARD_TITLES
    uids = [board["uid"] for board in BOARDS.values()]
    assert len(set(uids)) == len(uids) and all(uid.startswith("c2c-") for uid in uids)


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_a_dashboard_imports_as_it_is(name: str) -> None:
    board = BOARDS[name]
    assert board["schemaVersion"] >= 39
    inputs = {item["name"]: item for item in board["__inputs"]}
    datasource_vars = {v["name"]: v for v in board["templating"]["list"] if v["type"] == "datasource"}
    # Every datasource variable defaults to an import input, and every input feeds one.
    assert {v["current"]["value"].strip("${}") for v in datasource_vars.values()} == set(inputs)
    names = {v["name"] for v in board["templating"]["list"]}
    # Builds belong to no cluster; every other dashboard is scoped by one.
    assert {"job", "build"} <= names if board["uid"] == "c2c-jenkins-builds" else "cluster" in names
    titles = [panel["title"] for panel in board["panels"]]
    assert len(set(titles)) == len(titles), f"{name}: two panels share a title"
    for panel in board["panels"]:
        assert panel["description"], f"{panel['title']}: no description"
        assert panel["fieldConfig"]["defaults"].get("unit") is not None, f"{panel['title']}: no unit"
        if panel["type"] == "stat":
            assert panel["fieldConfig"]["defaults"]["thresholds"]["steps"], panel["title"]
        for target in [*panel["targets"], panel["datasource"]]:
            ref = target.get("datasource", target)
            assert ref["uid"].strip("${}") in datasource_vars, f"{panel['title']}: {ref}"
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"]["uid"].strip("${}") in datasource_vars


def _fields_of_lucene(query: str) -> set[str]:
    return {m for m in re.findall(r"([A-Za-z_][\w.\-]*):", query)} - {"_exists_"}


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_opensearch_queries_use_fields_the_index_maps(name: str) -> None:
    board = BOARDS[name]
    queries: list[tuple[str, str, list[str]]] = []  # (datasource var, lucene, agg fields)
    for panel in board["panels"]:
        for target in panel["targets"]:
            if "bucketAggs" in target:
                fields = [a["field"] for a in [*target["bucketAggs"], *target["metrics"]] if a.get("field")]
                queries.append((target["datasource"]["uid"].strip("${}"), target["query"], fields))
                for agg in target["bucketAggs"]:
                    if agg["type"] == "filters":
                        queries += [(target["datasource"]["uid"].strip("${}"), f["query"], [])
                                    for f in agg["settings"]["filters"]]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query" and variable["query"].startswith("{"):
            find = json.loads(variable["query"])
            queries.append((variable["datasource"]["uid"].strip("${}"), find["query"], [find["field"]]))
    for var, query, fields in queries:
        spec = INDICES_BY_NAME[SOURCES[var].index]
        # _index: OpenSearch's metadata field, on every document (one terms bucket for the index)
        for field in _fields_of_lucene(query) | (set(fields) - {"_index"}) | {SOURCES[var].time_field}:
            assert field in spec.fields, f"{name}: {spec.name} maps no field {field!r} (query {query!r})"
        assert spec.fields[SOURCES[var].time_field]["type"] == "date"


def test_drill_down_links_land_on_a_dashboard_variable_and_a_field_the_panel_has() -> None:
    by_uid = {board["uid"]: board for board in BOARDS.values()}
    checked = 0
    for name, panel in panels():
        columns = next((t["options"]["include"]["names"] for t in panel.get("transformations", [])
                        if t["id"] == "filterFieldsByName"), [])
        links = [*panel.get("links", []),
                 *(link for o in panel["fieldConfig"]["overrides"] for p in o["properties"] if p["id"] == "links"
                   for link in p["value"])]
        for link in links:
            for field in re.findall(r"\$\{__data\.fields\.([\w.]+)\}", link["url"]):
                assert field in columns, f"{name} / {panel['title']}: link uses field {field} the table drops"
            if not link["url"].startswith("/d/"):
                continue
            url = urlsplit(link["url"])
            uid, slug = url.path.split("/")[2:4]
            target = by_uid[uid]
            assert f"{slug}.json" in BOARDS and BOARDS[f"{slug}.json"]["uid"] == uid
            variables = {v["name"] for v in target["templating"]["list"]}
            for key, _ in parse_qsl(url.query):
                if key.startswith("var-"):
                    assert key[4:] in variables, f"{link['url']}: {uid} has no variable {key[4:]}"
            checked += 1
    assert checked >= 10
    # The two drill-downs: overview -> a workload's traceability; workload -> build, commit, pods.
    overview = by_uid["c2c-overview"]
    assert any("/d/c2c-traceability/" in json.dumps(p) for p in overview["panels"])
    traceability = json.dumps(by_uid["c2c-traceability"]["panels"])
    assert all(f"/d/{uid}/" in traceability for uid in ("c2c-jenkins-builds", "c2c-pod-health"))
    assert "var-commit=" in traceability and "var-build=" in traceability


def test_the_provisioned_datasources_match_the_indices() -> None:
    written = yaml.safe_load((DASHBOARDS_DIR / "provisioning" / "datasources" / "c2c.yaml").read_text())
    assert written == datasources_provisioning()
    opensearch = {d["uid"]: d for d in written["datasources"] if d["type"] == "grafana-opensearch-datasource"}
    assert {d["jsonData"]["database"].removeprefix("${C2C_INDEX_PREFIX}") for d in opensearch.values()} == set(
        INDICES_BY_NAME)
    for source in INDEX_SOURCES:
        assert opensearch[source.uid]["jsonData"]["timeField"] == source.time_field
        assert re.search(source.regex.strip("/"), source.name)
    provider = yaml.safe_load((DASHBOARDS_DIR / "provisioning" / "dashboards" / "c2c.yaml").read_text())
    assert provider["providers"][0]["type"] == "file"


def test_current_state_panels_look_back_past_the_dashboard_range() -> None:
    # Open versions and running records keep the last_seen/updated_at of their last change (an
    # unchanged scan writes a scan watermark instead), so a panel of what runs now must not be
    # cut to the dashboard's range: a workload unchanged for a week still runs.
    from c2c_devstack.grafana_requests import TimeRange

    current = [(name, panel) for name, panel in panels()
               if any(m in (t.get("query") or "") for t in panel["targets"] for m in ("_exists_:current", "running:true"))]
    assert len(current) >= 6
    for name, panel in current:
        assert panel.get("timeFrom") == "10y", (name, panel["title"])
        board_range = TimeRange.of(BOARDS[name], now=1_800_000_000)
        looked_back = board_range.for_panel(panel)
        assert looked_back.to_ms == board_range.to_ms
        # Grafana's date math: ten calendar years (2027-01-15 08:00 UTC back to 2017-01-15 08:00 UTC)
        assert looked_back.from_ms == 1_484_467_200_000
    # Everything else follows the dashboard's range.
    others = [panel for name, panel in panels() if (name, panel) not in current]
    assert others and all("timeFrom" not in panel for panel in others)
