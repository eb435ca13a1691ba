"""Session fixtures that start the real services c2c's tests talk to (one place, shared).

Every service is installed by ``scripts/services/*.sh`` (run by ``scripts/test``) and started
here once per test session on loopback ports. A test that needs a service asks for its fixture;
nothing is faked silently: if a service cannot start, its fixture fails with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def opensearch_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator["object"]:
    """A real OpenSearch 2.19 single node built from Maven Central jars."""
    from c2c_dagster_tests.services import opensearch

    service = opensearch.start(tmp_path_factory.mktemp("opensearch"))
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def k8s_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator["object"]:
    """A real Kubernetes control plane (etcd, apiserver, controller manager, scheduler) with kwok nodes."""
    from c2c_dagster_tests.services import kubernetes

    cluster = kubernetes.start(tmp_path_factory.mktemp("k8s"))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator["object"]:
    """Debian's docker-registry (the CNCF distribution registry) on loopback, plus Buildah to feed it."""
    from c2c_dagster_tests.services import registry

    service = registry.start(tmp_path_factory.mktemp("registry"))
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def dagster_home(tmp_path_factory: pytest.TempPathFactory):
    """A real, persistent Dagster instance directory for the session (SQLite storage)."""
    from c2c_dagster_tests.services.dagster import make_dagster_home

    return make_dagster_home(tmp_path_factory.mktemp("dagster_home"))


@pytest.fixture(scope="session")
def dagster_webserver(tmp_path_factory: pytest.TempPathFactory, dagster_home) -> Iterator["object"]:
    """dagster-webserver serving workspace.yaml on the session's instance, embedded store."""
    from c2c_dagster_tests.services.dagster import start_webserver

    workdir = tmp_path_factory.mktemp("webserver")
    server = start_webserver(workdir, dagster_home, env={"C2C_STORE_PATH": str(workdir / "store.sqlite")})
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def jenkins_emulator() -> Iterator["object"]:
    """The Jenkins *emulator* (Jenkins cannot be installed here), empty, per test."""
    from c2c_dagster_tests.emulators.jenkins import JenkinsEmulator

    emulator = JenkinsEmulator().start()
    try:
        yield emulator
    finally:
        emulator.stop()
