"""Preview PNGs of the dashboards: each dashboard's panels drawn from what @grafana/data computed
for them (display.py) into an HTML page (grafana_display/render.cjs; uPlot for time series), and
that page photographed by headless Chromium from Debian (scripts/services/chromium.sh).

``scripts/dashboard-previews`` regenerates dashboards/previews/ on the test scenario; the test
suite renders into a temporary directory so the generator cannot rot.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from c2c_dagster_tests.observability.display import node_modules, run_node

PREVIEWS_ENV = "C2C_PREVIEWS_DIR"


def chromium() -> str:
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(binary).exists():
        raise RuntimeError("chromium is missing: run scripts/services/chromium.sh (install-all does)")
    return binary


def render(boards: Mapping[str, Mapping[str, Any]], displayed: Mapping[str, Mapping[str, Any]],
           out_dir: Path) -> list[Path]:
    """One ``<dashboard>.png`` per dashboard in ``displayed`` (file name -> panel title -> display)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {"outDir": str(out_dir), "uplotDir": str(node_modules() / "uplot"), "boards": [
        {"file": name.removesuffix(".json"), "title": boards[name]["title"],
         "panels": [{"title": p["title"], "type": p["type"], "gridPos": p["gridPos"], "display": displayed[name][p["title"]]}
                    for p in boards[name]["panels"] if p["title"] in displayed[name]]}
        for name in sorted(displayed)]}
    pages = run_node("render.cjs", payload)
    pngs = []
    for file, page in pages.items():
        png = out_dir / f"{file}.png"
        html = Path(page["html"])
        done = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1",
             f"--window-size=1600,{page['height']}", "--virtual-time-budget=5000", f"--screenshot={png}", html.as_uri()],
            capture_output=True, text=True, timeout=120, env={**os.environ, "TZ": "UTC"})  # the dashboards' zone
        assert done.returncode == 0 and png.exists(), f"chromium failed on {html}: {done.stderr[-2000:]}"
        html.unlink()  # the PNG is what a reviewer looks at; the page holds the scenario's data inline
        pngs.append(png)
    return pngs
