"""The code-location image: built by Buildah from the Containerfile, pushed to the real registry,
small, non-root, holding only the runtime dependencies, and serving the code location over gRPC."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from c2c_devstack.services import free_port, wait_until
from c2c_devstack.services.dagster import venv_bin
from c2c_devstack.services.image import image_config, run_in_image, run_once

pytestmark = pytest.mark.registry

# What a node pulls (config + gzip layers): Debian 12 + python3 ~45 MiB, the locked runtime
# dependencies and c2c ~130 MiB. A new heavy dependency should be a decision, not an accident.
MAX_COMPRESSED_MIB = 200


def test_the_image_is_pushed_and_stays_small(code_location_image) -> None:
    print(f"\ncode-location image {code_location_image.reference}: "
          f"{code_location_image.compressed_mib:.1f} MiB compressed (limit {MAX_COMPRESSED_MIB} MiB)")
    assert code_location_image.digest.startswith("sha256:")
    assert code_location_image.compressed_mib < MAX_COMPRESSED_MIB


def test_the_image_runs_as_a_non_root_user_and_serves_the_code_location(oci_registry, code_location_image) -> None:
    config = image_config(oci_registry, code_location_image)["config"]
    assert config["User"] == "10001:10001"
    assert config["Cmd"][:3] == ["dagster", "code-server", "start"]
    assert "--module-name" in config["Cmd"] and "c2c_dagster.definitions" in config["Cmd"]
    assert "DAGSTER_HOME=/opt/dagster/dagster_home" in config["Env"]
    assert run_once(oci_registry, code_location_image.reference, ["id", "-u"]).strip() == "10001"


def test_only_runtime_dependencies_are_in_the_image(oci_registry, code_location_image) -> None:
    probe = (
        "import importlib.util as u\n"
        "for m in ('c2c_dagster', 'dagster', 'dagster_k8s', 'dagster_postgres', 'dagster_webserver', 'kubernetes',"
        " 'opensearchpy', 'pandas', 'c2c_devstack', 'c2c_dagster_tests', 'pytest', 'pytest_timeout'):\n"
        "    print(m, u.find_spec(m) is not None)\n"
    )
    found = dict(line.split() for line in run_once(oci_registry, code_location_image.reference,
                                                  ["python3", "-c", probe]).splitlines())
    assert {m for m, present in found.items() if present == "True"} == {
        "c2c_dagster", "dagster", "dagster_k8s", "dagster_postgres", "dagster_webserver", "kubernetes",
        "opensearchpy", "pandas"}


def test_the_image_serves_grpc(oci_registry, code_location_image, tmp_path: Path) -> None:
    # The image's own command, on a free port (the container shares the host's network here).
    port = free_port()
    cmd = image_config(oci_registry, code_location_image)["config"]["Cmd"]
    cmd = [*cmd[: cmd.index("--host")], "--host", "127.0.0.1", "--port", str(port),
           *cmd[cmd.index("--port") + 2:]]
    server = run_in_image(oci_registry, code_location_image.reference, cmd, env={},
                          log_path=tmp_path / "code-server.log", workdir=tmp_path)
    try:
        wait_until(
            lambda: subprocess.run([venv_bin("dagster"), "api", "grpc-health-check", "-p", str(port)],
                                   capture_output=True, timeout=30).returncode == 0,
            what=f"the image's code server on port {port}", timeout=180, interval=2, process=server.process)
    finally:
        server.stop()
