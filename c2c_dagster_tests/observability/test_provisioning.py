"""The Prometheus datasource in dashboards/provisioning/ fits the shipped scrape configuration:
its ``timeInterval`` is prometheus.yml's scrape interval (so the two cannot drift), no job of the
shipped prometheus.yml scrapes less often, and the ``$__rate_interval`` Grafana derives from it for
every panel that uses it holds at least four samples of a series scraped at that interval — shown by
the real promtool evaluating ``rate`` and ``count_over_time`` over those windows on 60 s samples,
beside the 60 s window Grafana's 15 s default would give, which ``rate`` answers with nothing."""

from __future__ import annotations

import yaml

from c2c_dagster_tests.observability.test_dashboards import BOARDS
from c2c_dashboards.__main__ import DASHBOARDS_DIR, PROMETHEUS_CONFIG
from c2c_devstack import grafana_requests as g
from c2c_devstack.services.prometheus import promtool

UNITS = {"s": 1, "m": 60, "h": 3600}
# Half a scrape after a sample: real scrapes do not line up with the ends of a query's window.
EVAL_TIME = "3630s"


def _seconds(duration: str) -> int:
    return int(duration[:-1]) * UNITS[duration[-1]]


def _time_interval() -> str:
    provisioned = yaml.safe_load((DASHBOARDS_DIR / "provisioning" / "datasources" / "c2c.yaml").read_text())
    [prometheus] = [d for d in provisioned["datasources"] if d["type"] == "prometheus"]
    return prometheus["jsonData"]["timeInterval"]


def test_the_datasource_time_interval_is_the_shipped_scrape_interval() -> None:
    shipped = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    interval = _time_interval()
    assert interval == shipped["global"]["scrape_interval"]
    for job in shipped["scrape_configs"]:
        assert _seconds(job.get("scrape_interval", interval)) <= _seconds(interval), job["job_name"]


def _rate_windows() -> set[int]:
    """The ``$__rate_interval`` (s) of every panel that uses it, over its dashboard's default range."""
    scrape_ms = _seconds(_time_interval()) * 1000
    windows = set()
    for board in BOARDS.values():
        time_range = g.TimeRange.of(board, now=1_800_000_000)
        for panel in board["panels"]:
            if any("$__rate_interval" in t.get("expr", "") for t in panel["targets"]):
                _, rate_ms = g.prometheus_intervals(panel, time_range.for_panel(panel), scrape_ms)
                windows.add(int(rate_ms // 1000))
    return windows


def test_rate_interval_windows_hold_four_samples(tmp_path) -> None:
    scrape = _seconds(_time_interval())
    windows = sorted(_rate_windows())
    assert windows and min(windows) >= 4 * scrape, windows
    cases = [{"expr": f"rate(c2c_scraped_total[{w}s]) > bool 0", "eval_time": EVAL_TIME,
              "exp_samples": [{"labels": "{job=\"c2c\"}", "value": 1}]} for w in windows]
    cases += [{"expr": f"count_over_time(c2c_scraped_total[{w}s]) >= bool 4", "eval_time": EVAL_TIME,
               "exp_samples": [{"labels": "{job=\"c2c\"}", "value": 1}]} for w in windows]
    # Grafana's default (15 s, no timeInterval) would make $__rate_interval 60 s: one sample, no rate.
    cases.append({"expr": f"rate(c2c_scraped_total[{4 * 15}s])", "eval_time": EVAL_TIME, "exp_samples": []})
    test = {"evaluation_interval": f"{scrape}s", "tests": [{
        "interval": f"{scrape}s",
        "input_series": [{"series": 'c2c_scraped_total{job="c2c"}', "values": f"0+{scrape}x120"}],
        "promql_expr_test": cases}]}
    path = tmp_path / "rate_interval.test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    done = promtool("test", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
