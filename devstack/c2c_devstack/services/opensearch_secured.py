"""A real OpenSearch node with the security plugin: TLS, internal users and c2c's two roles.

The same 2.19.4 server as ``opensearch.start`` with the security plugin that
``scripts/services/opensearch.sh`` unpacks beside it (Maven Central's
``org.opensearch.plugin:opensearch-security:2.19.4.0``), linked into this node's ``plugins/``.
Nothing of the plugin's demo configuration is used: a CA and a node certificate are made here
for the session (``cryptography``), and the plugin's own first-start initialisation
(``plugins.security.allow_default_init_securityindex``) loads ``config/opensearch-security/*.yml``
written here - users with bcrypt hashes, and as roles the very file production applies,
``k8s/opensearch/roles.yml`` - so no ``securityadmin.sh`` run is needed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from c2c_devstack.services import REPO_ROOT
from c2c_devstack.services.opensearch import OpenSearchService, install_dir, start

PLUGIN = "opensearch-security"
ROLES_FILE = REPO_ROOT / "k8s" / "opensearch" / "roles.yml"
NODE_DN = "CN=c2c-test-node,O=c2c-test"
# The admin exists to set up and inspect the tests' node; no c2c process is given it.
ADMIN = "admin"
# c2c's users, as production maps them (k8s/README.md): role name -> user name.
C2C_USERS = {"c2c_writer": "c2c-writer", "c2c_reader": "c2c-reader"}


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA certificate (PEM) and its key, able to sign server certificates."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, common_name: str) -> "CertificateAuthority":
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = dt.datetime.now(dt.timezone.utc)
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue_node(self) -> tuple[bytes, bytes]:
        """(certificate PEM, PKCS#8 key PEM) for the node: server and client use (the transport
        layer authenticates nodes to each other), valid for 127.0.0.1 and localhost."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "c2c-test"),
                             x509.NameAttribute(NameOID.COMMON_NAME, "c2c-test-node")])
        cert = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(self.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return cert.public_bytes(serialization.Encoding.PEM), key_pem


@dataclass
class SecuredOpenSearch:
    """A running secured node: ``url`` is https, ``ca_path`` the CA bundle that verifies it,
    ``passwords`` every internal user's password (``admin`` and c2c's users)."""

    service: OpenSearchService
    ca_path: Path
    passwords: dict[str, str] = field(repr=False)

    @property
    def url(self) -> str:
        return self.service.url

    def auth(self, user: str) -> tuple[str, str]:
        return (user, self.passwords[user])

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        """One request as the admin (test set-up and inspection only), TLS verified."""
        return requests.request(method, f"{self.url}{path}", auth=self.auth(ADMIN),
                                verify=str(self.ca_path), timeout=30, **kwargs)

    def add_user(self, user: str, roles: list[str], password: str | None = None) -> str:
        """A new internal user holding exactly ``roles`` (through the plugin's REST API); its password."""
        password = password or "Pw-" + secrets.token_urlsafe(18)
        response = self.admin("PUT", f"/_plugins/_security/api/internalusers/{user}",
                              json={"password": password, "opendistro_security_roles": roles})
        response.raise_for_status()
        self.passwords[user] = password
        return password

    def put_role(self, name: str, body: dict) -> None:
        self.admin("PUT", f"/_plugins/_security/api/roles/{name}", json=body).raise_for_status()

    def stop(self) -> None:
        self.service.stop()


def c2c_roles() -> dict:
    """c2c's roles as production applies them (``k8s/opensearch/roles.yml``)."""
    return yaml.safe_load(ROLES_FILE.read_text())


def _hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()


def _meta(kind: str) -> dict:
    return {"_meta": {"type": kind, "config_version": 2}}


def _security_config(passwords: dict[str, str]) -> dict[str, dict]:
    """The plugin's configuration files: basic authentication against its internal users only."""
    users = {ADMIN: {"hash": _hash(passwords[ADMIN]), "reserved": True, "description": "test set-up only"}}
    users |= {user: {"hash": _hash(passwords[user]), "description": f"c2c, role {role}"}
              for role, user in C2C_USERS.items()}
    mapping = {"all_access": {"reserved": False, "users": [ADMIN]}}
    mapping |= {role: {"users": [user]} for role, user in C2C_USERS.items()}
    return {
        "config.yml": _meta("config") | {"config": {"dynamic": {
            "http": {"anonymous_auth_enabled": False},
            "authc": {"basic_internal_auth_domain": {
                "http_enabled": True, "transport_enabled": True, "order": 0,
                "http_authenticator": {"type": "basic", "challenge": True},
                "authentication_backend": {"type": "intern"},
            }},
        }}},
        "internal_users.yml": _meta("internalusers") | users,
        "roles.yml": _meta("roles") | c2c_roles(),
        "roles_mapping.yml": _meta("rolesmapping") | mapping,
        "action_groups.yml": _meta("actiongroups"),
        "tenants.yml": _meta("tenants"),
        "nodes_dn.yml": _meta("nodesdn"),
        "allowlist.yml": _meta("allowlist") | {"config": {"enabled": False}},
        "audit.yml": _meta("audit") | {"config": {"enabled": False}},
    }


def _link_plugin(node_home: Path) -> None:
    """Link the installed plugin into ``node_home/plugins``, without the jars the node's own
    classpath already has: the distribution loads Netty as a module in a loader of its own, this
    node has it on the classpath, and the plugin loader refuses a class found twice (jar hell)."""
    source = install_dir() / "plugins" / PLUGIN
    on_classpath = {_artifact(jar.name) for jar in (install_dir() / "lib").glob("*.jar")}
    target = node_home / "plugins" / PLUGIN
    target.mkdir(parents=True)
    for item in source.iterdir():
        if item.suffix == ".jar" and _artifact(item.name) in on_classpath:
            continue
        (target / item.name).symlink_to(item)


def _artifact(jar: str) -> str:
    """``netty-codec-4.1.125.Final.jar`` -> ``netty-codec``: the artifact without its version."""
    parts = jar.removesuffix(".jar").split("-")
    for i, part in enumerate(parts):
        if part[:1].isdigit():
            return "-".join(parts[:i])
    return "-".join(parts)


def start_secured(workdir: Path) -> SecuredOpenSearch:
    """Start a secured single node under ``workdir``; c2c's users hold c2c's roles."""
    workdir.mkdir(parents=True, exist_ok=True)
    ca = CertificateAuthority.create("c2c-test-ca")
    ca_path = workdir / "ca.pem"
    ca_path.write_bytes(ca.pem())
    cert_pem, key_pem = ca.issue_node()
    passwords = {user: "Pw-" + secrets.token_urlsafe(18) for user in [ADMIN, *C2C_USERS.values()]}

    def prepare(node_home: Path) -> None:
        config = node_home / "config"
        (config / PLUGIN).mkdir(parents=True)
        (config / "root-ca.pem").write_bytes(ca.pem())
        (config / "node.pem").write_bytes(cert_pem)
        (config / "node-key.pem").write_bytes(key_pem)
        for name, body in _security_config(passwords).items():
            (config / PLUGIN / name).write_text(yaml.safe_dump(body, sort_keys=False))
        _link_plugin(node_home)

    tls = {
        f"plugins.security.ssl.{layer}.{key}": value
        for layer in ("transport", "http")
        for key, value in (("pemcert_filepath", "node.pem"), ("pemkey_filepath", "node-key.pem"),
                           ("pemtrustedcas_filepath", "root-ca.pem"))
    }
    settings = tls | {
        "plugins.security.ssl.http.enabled": "true",
        "plugins.security.ssl.transport.enforce_hostname_verification": "false",
        "plugins.security.nodes_dn": NODE_DN,
        # Loads config/opensearch-security/*.yml into the security index at first start.
        "plugins.security.allow_default_init_securityindex": "true",
        "plugins.security.restapi.roles_enabled": "all_access",
        "plugins.security.audit.type": "noop",
    }

    def healthy(url: str) -> bool:
        response = requests.get(f"{url}/_cluster/health", auth=(ADMIN, passwords[ADMIN]),
                                verify=str(ca_path), params={"wait_for_status": "yellow", "timeout": "1s"},
                                timeout=5)
        return response.status_code == 200

    service = start(workdir, scheme="https", settings=[f"{k}={v}" for k, v in settings.items()],
                    health=healthy, prepare=prepare)
    try:
        service.version = requests.get(service.url, auth=(ADMIN, passwords[ADMIN]), verify=str(ca_path),
                                       timeout=5).json()["version"]["number"]
    except BaseException:
        service.stop()
        raise
    node = SecuredOpenSearch(service=service, ca_path=ca_path, passwords=passwords)
    return node
