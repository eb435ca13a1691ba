"""Session fixtures that start the real services c2c's tests talk to (one place, shared).

Every service is installed by ``scripts/services/*.sh`` (run by ``scripts/test``) and started
here once per test session on loopback ports. A test that needs a service asks for its fixture;
nothing is faked silently: if a service cannot start, its fixture fails with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def _running(service: Any) -> Iterator[Any]:
    """Yield a started service to the test session and stop it afterwards, whatever happened."""
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def opensearch_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real OpenSearch 2.19 single node built from Maven Central jars."""
    from c2c_devstack.services import opensearch

    yield from _running(opensearch.start(tmp_path_factory.mktemp("opensearch")))


@pytest.fixture(scope="session")
def opensearch_secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The same node with the security plugin: TLS from a session CA, c2c's users and roles
    (k8s/opensearch/roles.yml); an admin for set-up and inspection only."""
    from c2c_devstack.services.opensearch_secured import start_secured

    yield from _running(start_secured(tmp_path_factory.mktemp("opensearch-secured")))


@pytest.fixture(scope="session")
def k8s_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real Kubernetes control plane (etcd, apiserver, controller manager, scheduler) with kwok nodes."""
    from c2c_devstack.services import kubernetes

    yield from _running(kubernetes.start(tmp_path_factory.mktemp("k8s")))


@pytest.fixture(scope="session")
def argocd(k8s_cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The real Argo CD on the session's cluster: application controller, repo server, Redis.

    One per session (about 450 MiB); tests keep apart by namespace (``argocd.create_namespace()``).
    """
    from c2c_devstack.services import argocd

    yield from _running(argocd.start(tmp_path_factory.mktemp("argocd"), k8s_cluster))


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Debian's docker-registry (the CNCF distribution registry) on loopback, plus Buildah to feed it."""
    from c2c_devstack.services import registry

    yield from _running(registry.start(tmp_path_factory.mktemp("registry")))


@pytest.fixture(scope="session")
def prometheus_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real Prometheus (Debian's package) with an empty configuration: a test ``configure``s
    its scrape jobs and rule files (a reload), so the session shares one."""
    from c2c_devstack.services import prometheus

    yield from _running(prometheus.start(tmp_path_factory.mktemp("prometheus")))


@pytest.fixture(scope="session")
def dagster_home(tmp_path_factory: pytest.TempPathFactory):
    """A real, persistent Dagster instance directory for the session (SQLite storage)."""
    from c2c_devstack.services.dagster import make_dagster_home

    return make_dagster_home(tmp_path_factory.mktemp("dagster_home"))


@pytest.fixture(scope="session")
def dagster_webserver(tmp_path_factory: pytest.TempPathFactory, dagster_home) -> Iterator[Any]:
    """dagster-webserver serving workspace.yaml on the session's instance, embedded store."""
    from c2c_devstack.services.dagster import start_webserver

    workdir = tmp_path_factory.mktemp("webserver")
    yield from _running(start_webserver(workdir, dagster_home, env={"C2C_STORE_PATH": str(workdir / "store.sqlite")}))


@pytest.fixture(params=["embedded", "opensearch"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh store, once per backend: the embedded SQLite store and the real OpenSearch node
    (a new index prefix per test keeps tests apart on the one session-wide node)."""
    from c2c_dagster.store import EmbeddedStore, MetadataStore, OpenSearchStore

    if request.param == "embedded":
        backend: MetadataStore = EmbeddedStore(tmp_path / "store.sqlite")
    else:
        service = request.getfixturevalue("opensearch_service")
        backend = OpenSearchStore(service.url, index_prefix=f"t{uuid.uuid4().hex[:8]}-", number_of_replicas=0)
    backend.ensure_indices()
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture
def store_resource(store: Any) -> Any:
    """The Dagster resource over the ``store`` fixture's backend, for assets and sensors under test."""
    from c2c_dagster.store import MetadataStoreResource, OpenSearchStore

    if isinstance(store, OpenSearchStore):
        return MetadataStoreResource(opensearch_url=store.url, index_prefix=store.index_prefix, opensearch_replicas=0)
    return MetadataStoreResource(embedded_path=str(store.path))


@pytest.fixture
def jenkins_emulator() -> Iterator[Any]:
    """The Jenkins *emulator* (Jenkins cannot be installed here), empty, per test."""
    from c2c_devstack.emulators.jenkins import JenkinsEmulator

    yield from _running(JenkinsEmulator().start())


@pytest.fixture(scope="session")
def code_location_image(oci_registry, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """c2c's image from the repository's Containerfile (Buildah, on a debootstrapped Debian 12 base:
    no Docker Hub here), pushed to the session's registry."""
    from c2c_devstack.services.image import build_code_location_image

    return build_code_location_image(oci_registry, tmp_path_factory.mktemp("image"))


@pytest.fixture(scope="session")
def postgresql(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Debian's PostgreSQL 15, a cluster of its own (initdb) on a free loopback port."""
    from c2c_devstack.services import postgresql

    yield from _running(postgresql.start(tmp_path_factory.mktemp("postgresql")))


@pytest.fixture(scope="session")
def k8s_cluster_west(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A second, independent control plane (its own etcd, PKI and kwok node): c2c reading two clusters."""
    from c2c_devstack.services import kubernetes

    yield from _running(kubernetes.start(tmp_path_factory.mktemp("k8s-west"), nodes=1))
