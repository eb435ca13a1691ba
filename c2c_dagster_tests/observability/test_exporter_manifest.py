"""The exporter's Kubernetes manifest is accepted by the real API server (server-side dry run), its
command is one the c2c CLI accepts, and its Service is what the shipped scrape configuration
targets."""

from __future__ import annotations

import uuid

import pytest
import yaml

from c2c_dagster.cli import build_parser
from c2c_devstack.services import REPO_ROOT

METRICS_DIR = REPO_ROOT / "k8s" / "base" / "metrics"
OBJECTS = list(yaml.safe_load_all((METRICS_DIR / "exporter.yaml").read_text()))


def by_kind(kind: str) -> dict:
    [obj] = [o for o in OBJECTS if o["kind"] == kind]
    return obj


def test_the_container_runs_a_command_the_cli_accepts() -> None:
    [container] = by_kind("Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["args"][0] == "c2c"
    args = build_parser().parse_args(container["args"][1:])
    assert (args.command, args.metrics_command, args.port) == ("metrics", "serve", 9464)
    probe_port = container["readinessProbe"]["httpGet"]["port"]
    assert probe_port in {p["name"] for p in container["ports"]}


def test_the_scrape_configuration_targets_the_service() -> None:
    service = by_kind("Service")
    config = yaml.safe_load((METRICS_DIR / "prometheus" / "prometheus.yml").read_text())
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "c2c"]
    # k8s/base's kustomization puts everything in namespace c2c.
    assert job["static_configs"][0]["targets"] == [f"{service['metadata']['name']}.c2c.svc:{service['spec']['ports'][0]['port']}"]
    assert job["honor_labels"] is True


@pytest.mark.kubernetes
def test_the_api_server_accepts_every_object(k8s_cluster) -> None:
    from kubernetes import client

    namespace = f"metrics-{uuid.uuid4().hex[:8]}"
    with k8s_cluster.api_client() as api:
        core, apps, net = client.CoreV1Api(api), client.AppsV1Api(api), client.NetworkingV1Api(api)
        core.create_namespace({"metadata": {"name": namespace}})
        try:
            create = {
                "Deployment": apps.create_namespaced_deployment,
                "Service": core.create_namespaced_service,
                "NetworkPolicy": net.create_namespaced_network_policy,
            }
            for obj in OBJECTS:
                accepted = create[obj["kind"]](namespace, obj, dry_run="All")
                assert accepted.metadata.name == obj["metadata"]["name"]
            assert sorted(o["kind"] for o in OBJECTS) == ["Deployment", "NetworkPolicy", "Service"]
        finally:
            core.delete_namespace(namespace)
