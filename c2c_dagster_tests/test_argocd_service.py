"""The test Argo CD is the real one, installed as Argo CD installs itself: the built binary reports
v3.6.1, its CRDs are the module's (the Application CRD the cluster already serves is the same file,
not installed twice), its config objects and AppProject ``default`` are in place, and the
controller, the repo server and Redis answer. (What it does is shown in argocd/test_syncs.py.)"""

from __future__ import annotations

import json
import subprocess

import pytest
import requests
import yaml

from c2c_devstack.services import REPO_ROOT
from c2c_devstack.services.argocd import APPLICATION_NAMESPACES, NAMESPACE, ArgoCD, _install, _redis_ping

pytestmark = [pytest.mark.kubernetes, pytest.mark.argocd]


def test_the_binary_is_argo_cd_3_6_1_built_from_the_pinned_module(tmp_path) -> None:
    install = _install()
    pinned = (REPO_ROOT / "services" / "argocd" / "go.mod").read_text()
    assert "github.com/argoproj/argo-cd/v3 v3.6.1" in pinned and install.name == "argocd-3.6.1"
    version = subprocess.run([str(install / "bin" / "argocd"), "version", "--client", "--short"],
                             env={"ARGOCD_BINARY_NAME": "argocd", "HOME": str(tmp_path)}, capture_output=True, text=True, check=True)
    assert version.stdout.startswith("argocd: v3.6.1")


def test_crds_config_and_default_project_are_installed_once(argocd: ArgoCD) -> None:
    from kubernetes import client

    crds = _install() / "crds"
    with argocd.cluster.api_client() as api:
        extensions = client.ApiextensionsV1Api(api)
        for name, crd in (("applications.argoproj.io", "application-crd.yaml"),
                          ("appprojects.argoproj.io", "appproject-crd.yaml")):
            served = json.loads(extensions.read_custom_resource_definition(name, _preload_content=False).data)
            assert served["spec"]["versions"] == yaml.safe_load((crds / crd).read_text())["spec"]["versions"]
        # The cluster's own copy (shared/argocd) is byte for byte the module's: one CRD, one truth.
        assert (REPO_ROOT.parent / "shared" / "argocd" / "application-crd.yaml").read_bytes() == (
            crds / "application-crd.yaml").read_bytes()

        core = client.CoreV1Api(api)
        cm = core.read_namespaced_config_map("argocd-cm", NAMESPACE).data
        # Argo CD's own defaults (resource exclusions ...) plus the tests' reconciliation tuning.
        assert "resource.exclusions" in cm and cm["timeout.reconciliation"] == "20s"
        assert core.read_namespaced_config_map("argocd-cmd-params-cm", NAMESPACE).data == {
            "application.namespaces": APPLICATION_NAMESPACES}
        core.read_namespaced_config_map("argocd-rbac-cm", NAMESPACE)
        assert "server.secretkey" in core.read_namespaced_secret("argocd-secret", NAMESPACE).data
        project = client.CustomObjectsApi(api).get_namespaced_custom_object(
            "argoproj.io", "v1alpha1", NAMESPACE, "appprojects", "default")
    assert project["spec"]["sourceNamespaces"] == [APPLICATION_NAMESPACES]
    assert project["spec"]["destinations"] == [{"server": "*", "namespace": "*"}]


def test_controller_repo_server_and_redis_answer(argocd: ArgoCD) -> None:
    assert requests.get(f"{argocd.controller_metrics}/healthz", timeout=5).ok
    metrics = requests.get(f"{argocd.controller_metrics}/metrics", timeout=5).text
    assert 'argocd_info{version="v3.6.1' in metrics
    assert _redis_ping(int(argocd.redis.rsplit(":", 1)[1]))
    assert all(p.popen.poll() is None for p in argocd.processes.processes)
