"""What a dashboard's panels show, computed by Grafana's own ``@grafana/data`` in Node
(grafana_display/display.cjs) from the frames the datasources would return (frames.py), and the
comparison of that display with the scenario's truth (used by test_dashboard_queries.py).

The truth per panel is what the query proof holds the panel's results to (its ``expected``); where
that is the result itself (a table's documents, a time series' buckets), the display is compared
with those documents and buckets, which the query proof compares with the scenario's numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from c2c_core.timeutil import parse_time
from c2c_dagster_tests.observability import frames as fr
from c2c_devstack import grafana_requests as g

PACKAGE = Path(__file__).resolve().parent / "grafana_display"
DATE_ONLY = re.compile(r"^\d{4}-\d\d-\d\d$")
# Node runs in a timezone far from UTC, as a reviewer's browser might: the dashboards say "utc",
# and a panel that ignored that would show other days.
NODE_TZ = "America/Los_Angeles"


def node_modules() -> Path:
    """Where scripts/services/grafana-display.sh installed the lockfile's packages."""
    key = hashlib.sha256((PACKAGE / "package-lock.json").read_bytes()).hexdigest()[:12]
    path = Path(os.environ.get("C2C_CACHE", Path.home() / ".cache" / "c2c")) / f"grafana-display-{key}" / "node_modules"
    if not (path.parent / ".complete").exists():
        raise RuntimeError(f"{path} is missing: run scripts/services/grafana-display.sh (install-all does)")
    return path


def run_node(script: str, payload: Any) -> Any:
    done = subprocess.run(["node", str(PACKAGE / script)], input=json.dumps(payload), capture_output=True, text=True,
                          env={**os.environ, "NODE_PATH": str(node_modules()), "TZ": NODE_TZ}, timeout=120)
    assert done.returncode == 0, f"{script} failed: {done.stderr[-4000:]}"
    return json.loads(done.stdout)


def panel_frames(panel: Mapping[str, Any], results: Sequence[Any]) -> list[dict[str, Any]]:
    """Every target's frames, as the panel's datasources return them."""
    out: list[dict[str, Any]] = []
    prometheus: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for target, result in zip(panel["targets"], results, strict=True):
        if isinstance(result, g.OpenSearchResult):
            out += fr.opensearch_frames(target, result.response, result.time_field)
        else:  # one request for all the panel's queries, the expr as sent (variables interpolated)
            prometheus.append(({**target, "expr": result.query}, result.data))
    return out + (fr.prometheus_panel_frames(prometheus) if prometheus else [])


def display_board(board: Mapping[str, Any], results: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """Panel title -> what Grafana's display code makes of its frames."""
    panels = [{"key": p["title"], "panel": p, "frames": panel_frames(p, results[p["title"]])}
              for p in board["panels"] if p["title"] in results]
    return run_node("display.cjs", {"timeZone": board.get("timezone") or "browser", "panels": panels})


# -- the comparison -----------------------------------------------------------------------------------
def _same(shown: Any, want: Any) -> bool:
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        return isinstance(shown, (int, float)) and shown == pytest.approx(want, rel=1e-9, abs=1e-9)
    return shown == want


def _reduced_failures(panel: Mapping[str, Any], shown: Mapping[str, Any], results: Sequence[Any],
                      expected: Any) -> list[str]:
    bars = [(v["title"], v["numeric"]) for v in shown["values"]]
    if isinstance(expected, Mapping) and panel["type"] == "stat" and len(expected) == 1 == len(bars):
        [want] = expected.values()  # one number, whatever the query keyed it by
        return [] if _same(bars[0][1], want) else [f"shows {bars}, expected {want}"]
    if isinstance(expected, Mapping):
        failures = [] if len(bars) == len(expected) else [f"shows {len(bars)} values {bars}, expected {len(expected)}"]
        for key, want in expected.items():
            parts = [str(p) for p in (key if isinstance(key, tuple) else (key,))]
            exact = [b for b in bars if b[0] == str(key)]
            matching = exact or [b for b in bars if all(part in b[0] for part in parts)]
            if len(matching) != 1:
                failures.append(f"no single value titled for {key!r} among {bars}")
            elif not _same(matching[0][1], want):
                failures.append(f"{matching[0][0]!r} shows {matching[0][1]}, expected {want}")
        return failures
    if isinstance(expected, bool):  # the check was a condition on the value: the value it held to it
        expected = results[0].value
    if len(bars) != 1 or not _same(bars[0][1], expected):
        return [f"shows {bars}, expected one value {expected}"]
    return []


def _expected_series(target: Mapping[str, Any], result: Any) -> dict[str, dict[int, float]]:
    """Series name -> {epoch ms: value} of one query's (truth-checked) result."""
    series: dict[str, dict[int, float]] = {}
    if isinstance(result, g.OpenSearchResult):
        metrics = {m["id"]: m for m in target["metrics"]}
        for keys, values in result.rows:
            for metric_id, value in values.items():
                name = " ".join(str(k) for k in keys[:-1]) or metrics[metric_id]["type"]
                if len(metrics) > 1 and keys[:-1]:
                    name += f" {metric_id}"
                if value is not None:
                    series.setdefault(f"{name}#{metric_id}", {})[int(keys[-1])] = float(value)
    else:
        for labels, points in result.points:
            legend = target.get("legendFormat") or ""
            name = fr.series_display_name(result.query, legend, labels) if legend else str(labels)
            series[name] = {int(t * 1000): float(v) for t, v in points}
    return series


def _series_failures(panel: Mapping[str, Any], shown: Mapping[str, Any], results: Sequence[Any]) -> list[str]:
    expected = {}
    for target, result in zip(panel["targets"], results, strict=True):
        expected.update(_expected_series(target, result))
    drawn = [(s["name"], {int(t): float(v) for t, v in s["points"] if v is not None}) for s in shown["series"]]
    failures = []
    key = lambda points: sorted(points.items())  # noqa: E731
    if sorted(map(key, (p for _, p in drawn if p))) != sorted(map(key, (p for p in expected.values() if p))):
        failures.append(f"draws {drawn}, expected the series {expected}")
    names = [name for name, _ in drawn]
    if len(set(names)) != len(names):
        failures.append(f"two series share a name: {names}")
    for target, result in zip(panel["targets"], results, strict=True):
        if isinstance(result, g.OpenSearchResult):
            outer = {" ".join(str(k) for k in keys[:-1]) for keys, _ in result.rows if keys[:-1]}
            missing = [o for o in outer if not any(o in n for n in names)]
            if missing:
                failures.append(f"no series named for {missing}: {names}")
    for series in shown["series"]:
        points = [v for _, v in series["points"] if v is not None]
        if "sum" in series["legend"] and not _same(series["legend"]["sum"], sum(points)):
            failures.append(f"legend sum of {series['name']} is {series['legend']['sum']}, expected {sum(points)}")
    return failures


def _cell(value: Any, column_type: str) -> Any:
    """A document's value as the displayed table holds it."""
    if column_type == "time" and isinstance(value, str):
        parsed = fr._rfc3339_ms(value)  # what the plugin parsed (ms, truncated)
        return parsed if parsed is not None else round(parse_time(value).timestamp() * 1000)
    return value


def _canonical(value: Any) -> str:
    """A cell as comparable text: a number is a number whether JSON wrote 3 or 3.0."""
    def numbers(v: Any) -> Any:
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, (int, float)):
            return float(v)
        if isinstance(v, list):
            return [numbers(x) for x in v]
        return {k: numbers(x) for k, x in v.items()}
    return json.dumps(numbers(value), sort_keys=True)


def _table_failures(panel: Mapping[str, Any], shown: Mapping[str, Any], result: Any) -> list[str]:
    wanted = next((t["options"]["include"]["names"] for t in panel.get("transformations", [])
                   if t["id"] == "filterFieldsByName"), None)
    columns = [c["name"] for c in shown["columns"]]
    failures = []
    if wanted is not None and columns != list(wanted):
        failures.append(f"columns {columns}, expected {list(wanted)}")
    if isinstance(result, g.OpenSearchResult):
        rows = [dict(doc) for doc in result.documents]
    else:  # transformDFToTable writes "" where a series lacks a label
        names = {name for labels, _ in result.series for name in labels}
        rows = [{**dict.fromkeys(names, ""), **labels, "Value": value} for labels, value in result.series]
    if len(shown["rows"]) != len(rows):
        return [*failures, f"{len(shown['rows'])} rows, expected {len(rows)}"]
    for i, column in enumerate(shown["columns"]):
        if column["name"] not in (rows[0] if rows else {}):
            continue
        shown_values = sorted(_canonical(r[i]) for r in shown["raw"])
        truth = sorted(_canonical(_cell(r.get(column["name"]), column["type"])) for r in rows)
        if column["name"] == "Value":
            truth = sorted(_canonical(float(r["Value"])) for r in rows)
        if Counter(shown_values) != Counter(truth):
            failures.append(f"column {column['name']} holds {shown_values}, expected {truth}")
        if column["type"] == "time":
            for doc_row, shown_row in zip(sorted(rows, key=lambda r: str(r.get(column["name"]))),
                                          sorted(shown["rows"], key=lambda r: r[i]), strict=True):
                value = doc_row.get(column["name"])
                if isinstance(value, str) and DATE_ONLY.match(value):
                    want = value
                else:
                    want = datetime.fromtimestamp(_cell(value, "time") / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
                if not shown_row[i].startswith(want):  # Grafana may add milliseconds
                    failures.append(f"column {column['name']} shows {shown_row[i]!r} for {value!r}, expected {want!r}")
    return failures


def display_failures(panel: Mapping[str, Any], shown: Mapping[str, Any], results: Sequence[Any],
                     expected: Any) -> list[str]:
    """How what the panel shows differs from the truth ([] if it shows it)."""
    has_data = any((r.documents or r.rows) if isinstance(r, g.OpenSearchResult) else r.series for r in results)
    if not has_data:  # the truth is nothing: "No data" (or an empty table) is what shows it
        shows_nothing = shown["noData"] or (panel["type"] == "table" and not shown.get("rows"))
        return [] if shows_nothing else [f"shows {shown} where there is no data"]
    if shown["noData"]:
        return ["shows No data"]
    if panel["type"] in ("stat", "bargauge", "gauge", "piechart"):
        failures = _reduced_failures(panel, shown, results, expected)
    elif panel["type"] == "timeseries":
        failures = _series_failures(panel, shown, results)
    else:
        failures = _table_failures(panel, shown, results[0])
    return failures
