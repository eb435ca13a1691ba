"""The previews the assets attach to their materializations: the tables hold what needs attention,
and the dashboard links (with C2C_GRAFANA_URL set) name dashboards that exist, with their variables.
(The real assets' previews on a real scenario are checked in test_dashboard_queries.py.)"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from c2c_dagster import dagster_ui as ui
from c2c_dagster.documents.builds import BuildDocument
from c2c_dagster.documents.deployments import PodContainer, PodVersion, WorkloadVersion
from c2c_dagster.documents.traceability import ReleaseEvent, TraceabilityRecord
from c2c_dagster.jenkins.preview import builds_preview
from c2c_dagster.kubernetes.preview import snapshot_preview
from c2c_dagster.traceability.preview import traceability_preview
from c2c_dagster_tests.observability.test_dashboards import BOARDS

RECORDS = TraceabilityRecord.from_documents([
    {"namespace": "shop", "workload_name": "web", "container_name": "app", "image_digest": "sha256:" + "a" * 64,
     "build_id": "web-1", "flags": []},
    {"namespace": "shop", "workload_name": "tool", "container_name": "app", "image_digest": "sha256:" + "b" * 64,
     "build_id": None, "flags": ["untraceable", "not_pinned"]},
    {"namespace": "ops", "workload_name": "cron", "container_name": "job", "image_digest": "sha256:" + "c" * 64,
     "build_id": "cron-3", "flags": ["not_pinned"]},
])
EVENTS = ReleaseEvent.from_documents([
    {"at": "2026-03-01T10:00:00Z", "namespace": "shop", "workload_name": "web", "from_build_id": "web-1",
     "to_build_id": "web-2", "rollback": False},
    {"at": "2026-03-02T10:00:00Z", "namespace": "shop", "workload_name": "web", "from_build_id": "web-2",
     "to_build_id": "web-1", "rollback": True},
])


def rows(value) -> list[dict]:
    return [record.data for record in value.value.records]


def test_the_traceability_preview_lists_what_needs_attention(monkeypatch) -> None:
    monkeypatch.delenv(ui.GRAFANA_URL_ENV, raising=False)
    preview = traceability_preview("prod", RECORDS, EVENTS)
    # not_pinned alone (advice) is not a reason to look (nearly every tag-deployed image has it).
    assert [(r["workload"], r["flags"], r["digest"]) for r in rows(preview["flagged_records"])] == [
        ("tool", "untraceable, not_pinned", "sha256:bbbbbbbbbbbb")]
    assert rows(preview["per_namespace"]) == [
        {"namespace": "ops", "running_images": 1, "traced_to_a_build": 1, "untraceable": 0},
        {"namespace": "shop", "running_images": 2, "traced_to_a_build": 1, "untraceable": 1}]
    assert [(r["to_build_id"], r["rollback"]) for r in rows(preview["newest_releases"])] == [("web-1", True), ("web-2", False)]
    assert "dashboard" not in preview  # no Grafana configured, no link


@pytest.mark.parametrize("uid", [ui.OVERVIEW, ui.POD_HEALTH, ui.JENKINS_BUILDS, ui.RELEASE_HISTORY, ui.DELIVERY])
def test_every_linked_dashboard_exists(uid: str) -> None:
    assert uid in {board["uid"] for board in BOARDS.values()}


def test_links_open_the_dashboard_on_the_cluster(monkeypatch) -> None:
    monkeypatch.setenv(ui.GRAFANA_URL_ENV, "https://grafana.example.com/")
    preview = traceability_preview("prod-eu", RECORDS, EVENTS)
    url = urlsplit(preview["dashboard"].value)
    assert (url.scheme, url.netloc, url.path) == ("https", "grafana.example.com", f"/d/{ui.OVERVIEW}")
    target = next(board for board in BOARDS.values() if board["uid"] == ui.OVERVIEW)
    variables = {v["name"] for v in target["templating"]["list"]}
    assert dict(parse_qsl(url.query)) == {"var-cluster": "prod-eu"} and "cluster" in variables
    assert builds_preview([])["dashboard"].value == f"https://grafana.example.com/d/{ui.JENKINS_BUILDS}"


def test_the_snapshot_and_builds_previews() -> None:
    pods = [PodVersion(namespace="shop", ready=True, containers=[PodContainer(restartCount=2)]),
            PodVersion(namespace="shop", ready=False, containers=[PodContainer(restartCount=0), PodContainer(restartCount=1)])]
    workloads = [WorkloadVersion(namespace="shop"), WorkloadVersion(namespace="ops")]
    assert rows(snapshot_preview("prod", pods, workloads)["per_namespace"]) == [
        {"namespace": "ops", "workloads": 1, "pods": 0, "not_ready": 0, "restarts": 0},
        {"namespace": "shop", "workloads": 1, "pods": 2, "not_ready": 1, "restarts": 3}]
    builds = [BuildDocument(build_id="a-1", build_status="SUCCESS", image_tag="v1", image_digest="sha256:" + "1" * 64,
                            timestamp="2026-03-01T10:00:00Z"),
              BuildDocument(build_id="a-2", build_status="FAILURE", digest_missing=True, timestamp="2026-03-02T10:00:00Z")]
    assert [r["build_id"] for r in rows(builds_preview(builds)["builds"])] == ["a-2", "a-1"]
