"""grafana_requests' model of Grafana where it follows Grafana's code closely enough to check
without services: "All" over a variable query that found nothing is ``__empty__`` in Lucene
(grafana/scenes formatRegistry), an ``auto`` date histogram interval becomes the plugin's
``$__interval`` text (tsdb.CalculateInterval), never the word ``auto``."""

from __future__ import annotations

from c2c_devstack import grafana_requests as g


def test_all_over_no_options_is_empty_in_lucene() -> None:
    selection = g.Selection({"app": {"name": "app", "includeAll": True, "multi": True}})
    selection.choose("app", None, [])
    assert selection.interpolate("app:$app", "lucene") == "app:__empty__"
    selection.choose("app", None, ["web", "api"])
    assert selection.interpolate("app:$app", "lucene") == 'app:("web" OR "api")'


def test_an_auto_interval_is_sent_as_the_plugins_interval() -> None:
    day = g.TimeRange(0, 86_400_000)
    agg = {"id": "2", "type": "date_histogram", "field": "at", "settings": {"interval": "auto"}}
    body = g.opensearch_body({"metrics": [{"id": "1", "type": "count"}], "bucketAggs": [agg]}, "", "at", day)
    # a day / 1500 = 57.6 s, rounded by roundInterval to 1 minute
    assert body["aggs"]["2"]["date_histogram"]["interval"] == "1m"
    assert g.auto_interval(g.TimeRange(0, 3_600_000)) == "5s"  # never under the 5 s minimum
    assert g.auto_interval(g.TimeRange(0, 30 * 86_400_000)) == "30m"
