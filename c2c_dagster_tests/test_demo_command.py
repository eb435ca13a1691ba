"""The README's main command, whole: scripts/demo builds, deploys (by hand and through the real Argo
CD) and serves the platform, releases through its GitOps repo, Dagster's daemon traces it (sensors,
schedule, automation), and it prints the c2c trace answers and the UI."""

from __future__ import annotations

import subprocess

from c2c_devstack.services import REPO_ROOT, free_port
from c2c_devstack.services.dagster import environ_without_store


def test_scripts_demo_traces_the_demo_platform_end_to_end(tmp_path) -> None:
    port = free_port()
    env = {**environ_without_store(), "C2C_UI_PORT": str(port), "C2C_DEMO_HOME": str(tmp_path / "demo"),
           "C2C_DEMO_EXIT_WHEN_READY": "1"}
    done = subprocess.run([str(REPO_ROOT / "scripts" / "demo")], capture_output=True, text=True, env=env,
                          timeout=900, cwd=REPO_ROOT)
    out = done.stdout
    assert done.returncode == 0, out[-4000:] + done.stderr[-4000:]
    web = out.split("$ c2c trace --workload demo/shop/web", 1)[1].split("$ c2c trace", 1)[0]
    assert "Deployment/web  container web" in web
    assert "matched by image_digest: exact" in web and "build     shop/web/main-3 SUCCESS" in web
    # The release is a commit to the demo's GitOps repo, synced by the real Argo CD.
    release = subprocess.run(["git", "-C", str(tmp_path / "demo" / "shop-gitops"), "rev-parse", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert f"config commit {release[:12]}, synced by Argo CD" in out
    assert f"config revision {release}" in web
    assert "Checkout flow  Grace Hopper <grace@example.com>" in web
    # CI's images carry provenance c2c-build-metadata wrote and the real cosign signed.
    assert any(line.startswith("  provenance verified (builder ") for line in web.splitlines())
    commit = out.split("$ c2c trace --commit", 1)[1].split("$ c2c trace", 1)[0]
    assert "Deployment/worker" in commit and "shop/web/main-2" in commit and "Fix cart totals" in commit
    legacy = out.split("$ c2c trace --workload shop/legacy", 1)[1]
    # Hand-pushed to the registry CI pushes to: internal, so untraceable; its tag never moved.
    assert "  flags     untraceable" in legacy.splitlines()
    assert "  provenance unsigned" in legacy.splitlines()
    assert f"Dagster UI: http://127.0.0.1:{port}" in out
