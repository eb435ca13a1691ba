"""c2c on a secured OpenSearch (the real security plugin 2.19.4.0: TLS, internal users, roles).

The node loads c2c's roles from k8s/opensearch/roles.yml, the file production applies. Proved
here, as test_rbac_and_faults proves it for Kubernetes: the writer role runs every store operation
the assets, sensors and `c2c store init` use; the reader role serves `c2c trace`, `c2c dora`, the
metrics exporter and the Grafana datasource's requests (replayed as the datasource sends them, no
Grafana runs here); with any one privilege of either role
taken away, the process fails with an error naming that privilege and the role that grants it
(the oracle: the plugin's own 403s); no c2c process needs the admin; TLS is verified by default
and an untrusted CA fails with an error that says which setting to fix.
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from c2c_dagster.observability.exporter import StoreCollector, read_state
from c2c_dagster.store import ALL_INDICES, OpenSearchStore, StoreError, StoreForbiddenError
from c2c_dagster.store.opensearch import READER_PRIVILEGES, forbidden, granting_roles
from c2c_dagster.store.resource import MetadataStoreResource
from c2c_dagster_tests.store.test_store_contract import DIGEST_A, build
from c2c_devstack.services.opensearch_secured import CertificateAuthority, c2c_roles

pytestmark = pytest.mark.opensearch
CI = "ci-build-metadata"
WRITER, READER = "c2c-writer", "c2c-reader"


def _store(node, user: str | None, **kwargs) -> OpenSearchStore:
    password = node.passwords.get(user) if user else None
    kwargs.setdefault("ca_certs", str(node.ca_path))
    return OpenSearchStore(node.url, username=user, password=password, number_of_replicas=0, **kwargs)


def _clean(node) -> None:
    """Remove c2c's indices (as the admin) so a writer must create them again."""
    for spec in ALL_INDICES:
        node.admin("DELETE", f"/{spec.name}", params={"ignore_unavailable": "true"})


def write_everything(store: OpenSearchStore) -> None:
    """What c2c's writers do to the store: templates and indices, bulk index, update, delete, reads."""
    store.ensure_indices()
    store.upsert(CI, [build(1), build(2, ts="2026-01-31T06:00:00Z")])
    store.upsert(CI, [{"build_id": "Node-JS/master-2", "build_status": "FAILURE"}], mode="merge")
    assert store.get(CI, "Node-JS/master-2")["build_status"] == "FAILURE"
    assert len(store.find(CI, "image_digest", DIGEST_A)) == 2
    assert store.delete_range(CI, datetime(2026, 1, 31, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC),
                              keep=["Node-JS/master-1"]) == 1
    assert store.count(CI) == 1


def read_everything(store: OpenSearchStore, node) -> None:
    """Every read of the store interface (`c2c trace`, `c2c dora`), the exporter's reading and the
    Grafana datasource's two requests, as ``store``'s user."""
    read_state(store, None, 30)
    grafana_requests(node, store.username)
    assert store.get(CI, "Node-JS/master-1")["build_number"] == 1
    assert [d["build_id"] for d in store.find(CI, "build_id", "Node-JS/master-", prefix=True)] == ["Node-JS/master-1"]
    assert store.distinct(CI, "image_digest") == [DIGEST_A]
    assert len(store.list_range(CI, datetime(2026, 1, 1, tzinfo=UTC))) == 1
    assert store.earliest(CI, "image_digest", DIGEST_A) is not None
    assert len(list(store.iter_all(CI))) == 1
    assert store.count(CI) == 1


def grafana_requests(node, user: str) -> None:
    """The OpenSearch datasource's calls: _msearch (every panel) and _mapping (field lists); a 403
    becomes the store's error naming the privilege, as c2c's own reads do."""
    header = {"search_type": "query_then_fetch", "ignore_unavailable": True, "index": CI}
    body = {"size": 0, "query": {"bool": {"filter": {"range": {"timestamp": {"gte": 0, "format": "epoch_millis"}}}}},
            "aggs": {"2": {"terms": {"field": "image_digest", "size": 10}}}}
    msearch = requests.post(f"{node.url}/_msearch", auth=node.auth(user), verify=str(node.ca_path), timeout=30,
                            data=f"{json.dumps(header)}\n{json.dumps(body)}\n",
                            headers={"Content-Type": "application/x-ndjson"})
    mapping = requests.get(f"{node.url}/{CI}/_mapping", auth=node.auth(user), verify=str(node.ca_path), timeout=30)
    for what, response in (("Grafana _msearch", msearch), ("Grafana _mapping", mapping)):
        if response.status_code == 403:
            raise forbidden(node.url, what, response.json())
        assert response.status_code == 200, response.text
    [answer] = msearch.json()["responses"]
    if answer.get("status") == 403:
        raise forbidden(node.url, "Grafana _msearch", answer["error"])
    assert answer["aggregations"]["2"]["buckets"][0]["key"] == DIGEST_A, answer
    assert "timestamp" in mapping.json()[CI]["mappings"]["properties"]


def _without(role: dict, privilege: str) -> dict:
    """``role`` with one of its cluster or index privileges removed."""
    return {
        "cluster_permissions": [p for p in role["cluster_permissions"] if p != privilege],
        "index_permissions": [{**perm, "allowed_actions": [a for a in perm["allowed_actions"] if a != privilege]}
                              for perm in role["index_permissions"]],
    }


def _privileges(role: dict) -> list[str]:
    return [*role["cluster_permissions"], *(a for perm in role["index_permissions"] for a in perm["allowed_actions"])]


def _user_with(node, role_body: dict) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    node.put_role(name, role_body)
    node.add_user(name, [name])
    return name


@pytest.fixture
def written(opensearch_secured):
    """c2c's indices freshly written by the writer: one build left."""
    _clean(opensearch_secured)
    with _store(opensearch_secured, WRITER) as store:
        write_everything(store)
    return opensearch_secured


def test_the_roles_file_names_exactly_c2cs_indices_and_the_store_knows_who_grants_what() -> None:
    roles = c2c_roles()
    assert set(roles) == {"c2c_writer", "c2c_reader"}
    for role in roles.values():
        for perm in role["index_permissions"]:
            assert sorted(perm["index_patterns"]) == sorted(spec.name for spec in ALL_INDICES)
    # The store's errors name the role that grants a missing privilege: the same answer as the file.
    assert sorted(READER_PRIVILEGES) == sorted(_privileges(roles["c2c_reader"]))
    for privilege in {*_privileges(roles["c2c_writer"]), *_privileges(roles["c2c_reader"])}:
        holders = tuple(sorted(name for name, role in roles.items() if privilege in _privileges(role)))
        assert granting_roles(privilege.rstrip("*")) == holders, privilege


def test_the_writer_role_does_the_writers_work_and_the_reader_role_the_readers(written) -> None:
    node = written
    with _store(node, READER) as reader:
        read_everything(reader, node)
    # Neither c2c user holds the admin's role (the plugin says which roles it resolved).
    for user in (WRITER, READER):
        info = requests.get(f"{node.url}/_plugins/_security/authinfo", auth=node.auth(user),
                            verify=str(node.ca_path), timeout=10).json()
        assert info["roles"] == [user.replace("-", "_")]


def test_the_reader_cannot_write_and_is_told_which_role_can(written) -> None:
    with _store(written, READER) as reader, pytest.raises(StoreForbiddenError) as failure:
        reader.upsert(CI, [build(9)])
    message = str(failure.value)
    assert failure.value.user == READER
    assert "indices:admin/index_template/put" in message and "c2c_writer" in message
    with _store(written, WRITER) as writer:
        assert writer.get(CI, "Node-JS/master-9") is None  # nothing was written


@pytest.mark.parametrize("privilege", _privileges(c2c_roles()["c2c_writer"]))
def test_every_writer_privilege_is_needed_and_its_absence_named(opensearch_secured, privilege: str) -> None:
    node = opensearch_secured
    _clean(node)
    user = _user_with(node, _without(c2c_roles()["c2c_writer"], privilege))
    with _store(node, user) as store, pytest.raises(StoreForbiddenError) as failure:
        write_everything(store)
    missing = failure.value.privilege or ""
    assert any(fnmatch.fnmatch(action.strip(), privilege) for action in missing.split(",")), (privilege, str(failure.value))
    assert privilege.rstrip("*") in str(failure.value) and "c2c_writer" in str(failure.value)
    assert user in str(failure.value)


@pytest.mark.parametrize("privilege", _privileges(c2c_roles()["c2c_reader"]))
def test_every_reader_privilege_is_needed_and_its_absence_named(written, privilege: str) -> None:
    user = _user_with(written, _without(c2c_roles()["c2c_reader"], privilege))
    with _store(written, user) as store, pytest.raises(StoreForbiddenError) as failure:
        read_everything(store, written)
    assert fnmatch.fnmatch(failure.value.privilege or "", privilege), str(failure.value)
    assert "c2c_reader" in str(failure.value)


def _c2c(node, user: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """A c2c command line as its own process, configured as production configures it."""
    environment = {
        **os.environ,
        "C2C_OPENSEARCH_URL": node.url,
        "C2C_OPENSEARCH_USER": user,
        "C2C_OPENSEARCH_PASSWORD": node.passwords[user],
        "C2C_OPENSEARCH_CA_CERTS": str(node.ca_path),
        **(env or {}),
    }
    return subprocess.run([sys.executable, "-m", "c2c_dagster.cli", *args], env=environment,
                          capture_output=True, text=True, timeout=120)


def test_c2c_trace_and_dora_run_as_the_reader(written) -> None:
    trace = _c2c(written, READER, "trace", "--build", "Node-JS/master-1", "--json")
    assert trace.returncode == 0, trace.stderr
    assert "Node-JS/master-1" in trace.stdout
    # No deliveries were written: dora answers "nothing matches" (1), not a refusal.
    dora = _c2c(written, READER, "dora", "--since", "2026-01-31", "--until", "2026-01-31")
    assert dora.returncode in (0, 1) and "nothing matches" in dora.stderr, dora.stderr
    assert "403" not in dora.stderr
    # The writer's own command needs the writer: as the reader it exits with the missing privilege.
    init = _c2c(written, READER, "store", "init")
    assert init.returncode != 0
    assert "indices:admin/index_template/put" in init.stderr and "c2c_writer" in init.stderr
    assert "Traceback" not in init.stderr
    assert _c2c(written, WRITER, "store", "init").returncode == 0


def test_the_exporter_reads_as_the_reader_and_says_what_is_missing(written, capsys) -> None:
    with _store(written, READER) as store:
        collector = StoreCollector(lambda: store, refresh_seconds=0)
        up = {m.name: m.samples[0].value for m in collector.collect() if m.samples}["c2c_store_up"]
    assert up == 1
    user = _user_with(written, {"cluster_permissions": [], "index_permissions": []})
    with _store(written, user) as store:
        collector = StoreCollector(lambda: store, refresh_seconds=0)
        up = {m.name: m.samples[0].value for m in collector.collect() if m.samples}["c2c_store_up"]
    assert up == 0
    assert "indices:data/read/search" in capsys.readouterr().out


def test_tls_is_verified_by_default_and_a_wrong_ca_fails_clearly(written, tmp_path: Path) -> None:
    # No CA bundle: the system's trust store does not know the session's CA.
    with _store(written, READER, ca_certs=None) as store, pytest.raises(StoreError) as failure:
        store.get(CI, "Node-JS/master-1")
    assert "C2C_OPENSEARCH_CA_CERTS" in str(failure.value) and "TLS" in str(failure.value)
    # Another CA than the one that signed the node.
    other = tmp_path / "other-ca.pem"
    other.write_bytes(CertificateAuthority.create("not-the-node-ca").pem())
    with _store(written, READER, ca_certs=str(other)) as store, pytest.raises(StoreError) as failure:
        store.get(CI, "Node-JS/master-1")
    assert "C2C_OPENSEARCH_CA_CERTS" in str(failure.value)
    # The settings' default is verification on; the resource's too.
    assert MetadataStoreResource(opensearch_url=written.url).opensearch_verify_certs is True
    trace = _c2c(written, READER, "trace", "--build", "Node-JS/master-1", env={"C2C_OPENSEARCH_CA_CERTS": str(other)})
    assert trace.returncode == 3 and "C2C_OPENSEARCH_CA_CERTS" in trace.stderr


def test_a_wrong_password_is_named(written) -> None:
    with OpenSearchStore(written.url, username=READER, password="wrong", ca_certs=str(written.ca_path)) as store:
        with pytest.raises(StoreError, match="C2C_OPENSEARCH_PASSWORD"):
            store.get(CI, "Node-JS/master-1")
