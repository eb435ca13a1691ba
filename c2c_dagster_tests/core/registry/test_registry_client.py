"""RegistryClient and ``c2c-build-metadata --resolve-digest`` against real registries: the digest
recorded is the one the registry serves (single image and multi-arch index with its platforms), the
config label is readable, errors name registry and status, and both auth schemes work for real —
Bearer tokens from a token server this module runs (RS256 JWTs with an x5c chain the registry
trusts) and Basic against an htpasswd registry."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from c2c_core.images import parse_reference
from c2c_core.pipeline.schema import schema_errors
from c2c_core.registry import (
    ManifestNotFoundError,
    RegistryAuthError,
    RegistryClient,
    RegistryUnavailableError,
)
from c2c_core.registry.client import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    INDEX_MEDIA_TYPES,
    MANIFEST_ACCEPT,
    OCI_MANIFEST,
)
from c2c_devstack.services import ManagedProcess, free_port, wait_until

pytestmark = pytest.mark.registry

SCRIPT = Path(sys.executable).parent / "c2c-build-metadata"
REVISION_LABEL = "org.opencontainers.image.revision"
USER, PASSWORD = "ci-bot", "s3cret-Pa55"


# -- helpers ---------------------------------------------------------------------------------------


def git_repo(path: Path) -> tuple[Path, dict[str, str], str]:
    """A real one-commit repository; returns (path, clean env, HEAD)."""
    path.mkdir(parents=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(path.parent),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Ann Lee",
        "GIT_AUTHOR_EMAIL": "ann@example.com",
        "GIT_COMMITTER_NAME": "Ann Lee",
        "GIT_COMMITTER_EMAIL": "ann@example.com",
    }
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "Update index.js"]):
        subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, env=env, check=True, capture_output=True, text=True)
    return path, env, head.stdout.strip()


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def jenkins(env: dict[str, str], job: str, number: int) -> dict[str, str]:
    return {**env, "JOB_NAME": job, "BUILD_NUMBER": str(number), "GIT_BRANCH": "origin/main"}


def raw_manifest(base_url: str, repository: str, reference: str, headers: dict[str, str] | None = None):
    """The registry's own answer, read without RegistryClient: the ground truth the tests compare to."""
    response = requests.get(
        f"{base_url}/v2/{repository}/manifests/{reference}",
        headers={"Accept": MANIFEST_ACCEPT, **(headers or {})},
        timeout=10,
    )
    response.raise_for_status()
    return response


# -- single images and indexes on the session registry ---------------------------------------------


def test_resolve_returns_the_digest_the_registry_serves(oci_registry) -> None:
    revision = "3606e8f26e051e93d8784ae87879c77845029b33"
    pushed = oci_registry.build_and_push("c2c/client", "single-1", labels={REVISION_LABEL: revision})
    client = RegistryClient(insecure=True)
    resolved = client.resolve(f"{oci_registry.host}/c2c/client:single-1")
    assert resolved.digest == pushed == oci_registry.manifest_digest("c2c/client", "single-1")
    assert resolved.media_type in (OCI_MANIFEST, DOCKER_MANIFEST)
    assert resolved.platform_digests == () and not resolved.is_index
    # Pinned by digest resolves to itself; the config label is what c2c reads the commit from.
    assert client.resolve(f"{oci_registry.host}/c2c/client@{pushed}").digest == pushed
    config = client.image_config(f"{oci_registry.host}/c2c/client:single-1")
    assert config["config"]["Labels"][REVISION_LABEL] == revision
    assert config == oci_registry.image_config("c2c/client", pushed)


def test_errors_name_the_registry_the_request_and_the_status(oci_registry) -> None:
    oci_registry.build_and_push("c2c/errors", "exists")
    client = RegistryClient(insecure=True)
    with pytest.raises(ManifestNotFoundError) as caught:
        client.resolve(f"{oci_registry.host}/c2c/errors:missing-tag")
    expected = f"registry {oci_registry.host} answered 404 Not Found to manifest c2c/errors:missing-tag"
    assert str(caught.value) == expected
    with pytest.raises(ManifestNotFoundError, match=r"404 Not Found to manifest c2c/no-such-repo:latest \(.*UNKNOWN"):
        client.image_config(f"{oci_registry.host}/c2c/no-such-repo")  # GET: the registry's error code is kept
    closed = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(RegistryUnavailableError, match=rf"registry {closed} unreachable .* after 1 retries"):
        RegistryClient(insecure=True, retries=1, backoff=0.1).resolve(f"{closed}/c2c/app:1")
    assert time.monotonic() - started < 10


class _FlakyRegistry(ThreadingHTTPServer):
    """Answers 503 ``failures`` times, then a fixed manifest: the one thing a healthy registry won't do on cue."""

    body = b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}'

    def __init__(self, failures: int) -> None:
        super().__init__(("127.0.0.1", 0), _FlakyHandler)
        self.failures, self.seen = failures, 0


class _FlakyHandler(BaseHTTPRequestHandler):
    server: _FlakyRegistry

    def log_message(self, format: str, *args) -> None:  # noqa: A002, ANN002
        pass

    def do_HEAD(self) -> None:  # noqa: N802
        self.server.seen += 1
        if self.server.seen <= self.server.failures:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", OCI_MANIFEST)
        self.send_header("Docker-Content-Digest", "sha256:" + hashlib.sha256(self.server.body).hexdigest())
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()


@pytest.mark.parametrize(("failures", "succeeds"), [(2, True), (5, False)])
def test_5xx_is_retried_then_reported(failures: int, succeeds: bool) -> None:
    server = _FlakyRegistry(failures)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host = f"127.0.0.1:{server.server_address[1]}"
        client = RegistryClient(insecure=True, retries=2, backoff=0.05)
        if succeeds:
            assert client.resolve(f"{host}/c2c/app:1").digest == "sha256:" + hashlib.sha256(server.body).hexdigest()
            assert server.seen == 3
        else:
            with pytest.raises(RegistryUnavailableError, match=rf"registry {host} answered 503 .* after 2 retries"):
                client.resolve(f"{host}/c2c/app:1")
            assert server.seen == 3
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_cli_resolve_digest_records_exactly_the_registry_digest(oci_registry, tmp_path: Path) -> None:
    """The pipeline end to end: print the tag, build and push with it, write metadata from the registry."""
    repo, env, head = git_repo(tmp_path / "app")
    env = jenkins(env, "Node-JS/main", 68)
    tag = cli(["--print-tag"], env, cwd=repo).stdout.strip()
    assert tag == f"node-js-main-68-{head[:7]}"
    pushed = oci_registry.build_and_push("c2c/node-js", tag, labels={REVISION_LABEL: head})

    image = f"{oci_registry.host}/c2c/node-js"
    done = cli(["--image", image, "--resolve-digest", "--insecure-registry", "--output", "build-metadata.json"],
               env, cwd=repo)
    assert done.returncode == 0, done.stderr
    doc = json.loads((repo / "build-metadata.json").read_text())
    assert schema_errors(doc) == []
    served = oci_registry.manifest_digest("c2c/node-js", tag)
    assert doc["image_digest"] == served == pushed
    assert (doc["image_name"], doc["image_tag"], doc["source_commit"]) == (image, tag, head)
    assert doc["platform_digests"] == []
    # The loop closes: the image behind the recorded digest carries the recorded commit.
    config = RegistryClient(insecure=True).image_config(f"{image}@{doc['image_digest']}")
    assert config["config"]["Labels"][REVISION_LABEL] == doc["source_commit"]


@dataclass
class MultiArch:
    repository: str
    tag: str
    index_digest: str  # what `buildah manifest push --digestfile` reported
    platforms: dict[str, str] = field(default_factory=dict)  # "linux/amd64" -> digest, from the registry's index


@pytest.fixture(scope="module")
def multi_arch(oci_registry) -> MultiArch:
    """An index of two FROM-scratch images, marked linux/amd64 and linux/arm64, pushed with --all."""
    repository, tag = "c2c/multi", "multi-7-3606e8f"
    for arch in ("amd64", "arm64"):
        oci_registry.build_and_push(repository, f"{tag}-{arch}", files={"arch.txt": f"{arch}\n"},
                                    labels={"c2c.test.arch": arch})
    list_name = f"c2c-multi-list-{uuid.uuid4().hex[:8]}"
    oci_registry.buildah("manifest", "create", list_name)
    for arch in ("amd64", "arm64"):
        oci_registry.buildah("manifest", "add", "--os", "linux", "--arch", arch, list_name,
                             f"containers-storage:{oci_registry.host}/{repository}:{tag}-{arch}")
    digest_file = oci_registry.workdir / f"{list_name}.digest"
    oci_registry.buildah("manifest", "push", "--all", "--tls-verify=false", "--digestfile", str(digest_file),
                         list_name, f"docker://{oci_registry.host}/{repository}:{tag}")
    # The same list once more as a Docker manifest list (v2s2), the other index media type.
    oci_registry.buildah("manifest", "push", "--all", "--format", "v2s2", "--tls-verify=false", list_name,
                         f"docker://{oci_registry.host}/{repository}:{tag}-docker")
    index = raw_manifest(oci_registry.url, repository, tag).json()
    platforms = {f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"] for m in index["manifests"]}
    return MultiArch(repository, tag, digest_file.read_text().strip(), platforms)


def test_multi_arch_index_digest_and_both_platform_digests(oci_registry, multi_arch: MultiArch) -> None:
    assert set(multi_arch.platforms) == {"linux/amd64", "linux/arm64"}
    assert len(set(multi_arch.platforms.values())) == 2
    resolved = RegistryClient(insecure=True).resolve(f"{oci_registry.host}/{multi_arch.repository}:{multi_arch.tag}")
    assert resolved.is_index and resolved.media_type in INDEX_MEDIA_TYPES
    served = oci_registry.manifest_digest(multi_arch.repository, multi_arch.tag)
    assert resolved.digest == multi_arch.index_digest == served
    assert {p.platform: p.digest for p in resolved.platform_digests} == multi_arch.platforms
    for digest in multi_arch.platforms.values():  # each platform manifest is really there
        assert oci_registry.manifest_digest(multi_arch.repository, digest) == digest


def test_docker_manifest_list_resolves_like_an_oci_index(oci_registry, multi_arch: MultiArch) -> None:
    tag = f"{multi_arch.tag}-docker"
    served = raw_manifest(oci_registry.url, multi_arch.repository, tag)
    assert served.headers["Content-Type"] == DOCKER_LIST
    resolved = RegistryClient(insecure=True).resolve(f"{oci_registry.host}/{multi_arch.repository}:{tag}")
    assert (resolved.digest, resolved.media_type) == (served.headers["Docker-Content-Digest"], DOCKER_LIST)
    assert {p.platform: p.digest for p in resolved.platform_digests} == {
        f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"] for m in served.json()["manifests"]
    }


def test_image_config_of_an_index_reads_linux_amd64(oci_registry, multi_arch: MultiArch) -> None:
    client = RegistryClient(insecure=True)
    reference = f"{oci_registry.host}/{multi_arch.repository}:{multi_arch.tag}"
    assert client.image_config(reference)["config"]["Labels"]["c2c.test.arch"] == "amd64"
    assert client.image_config(reference, platform="linux/arm64")["config"]["Labels"]["c2c.test.arch"] == "arm64"


def test_cli_records_index_and_platform_digests(oci_registry, multi_arch: MultiArch, tmp_path: Path) -> None:
    repo, env, _ = git_repo(tmp_path / "app")
    out = tmp_path / "build-metadata.json"
    done = cli(["--image", f"{oci_registry.host}/{multi_arch.repository}", "--tag", multi_arch.tag,
                "--resolve-digest", "--insecure-registry", "--output", str(out)], jenkins(env, "multi", 7), cwd=repo)
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert schema_errors(doc) == []
    assert doc["image_digest"] == multi_arch.index_digest
    assert sorted(doc["platform_digests"], key=lambda p: p["platform"]) == [
        {"platform": "linux/amd64", "digest": multi_arch.platforms["linux/amd64"]},
        {"platform": "linux/arm64", "digest": multi_arch.platforms["linux/arm64"]},
    ]


# -- Bearer token auth: a second registry trusting a token server run here ----------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _certificate(cn: str, key, issuer: x509.Name, signer, *, ca: bool) -> x509.Certificate:  # noqa: ANN001
    now = datetime.now(UTC)
    usage = dict.fromkeys(
        ["digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
         "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"], False)
    usage.update({"key_cert_sign": True, "crl_sign": True} if ca else {"digital_signature": True})
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(**usage), critical=True)
        .sign(signer, hashes.SHA256())
    )


class TokenIssuer:
    """A CA the registry trusts (``rootcertbundle``) and a leaf key signing RS256 tokens with ``x5c``."""

    def __init__(self, name: str, service: str) -> None:
        self.name, self.service = name, service
        ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "c2c test token CA")])
        self.ca_cert = _certificate("c2c test token CA", ca_key, ca_name, ca_key, ca=True)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.cert = _certificate("c2c test token signer", self.key, ca_name, ca_key, ca=False)

    def root_pem(self) -> bytes:
        return self.ca_cert.public_bytes(serialization.Encoding.PEM)

    def token(self, subject: str, access: list[dict]) -> str:
        now = int(time.time())
        header = {
            "typ": "JWT",
            "alg": "RS256",
            "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()],
        }
        claims = {"iss": self.name, "sub": subject, "aud": self.service, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"


class TokenServer(ThreadingHTTPServer):
    """The realm: checks Basic credentials, grants the requested actions on repositories the user may use."""

    def __init__(self, issuer: TokenIssuer, users: dict[str, str], allowed_prefix: str) -> None:
        super().__init__(("127.0.0.1", 0), _TokenHandler)
        self.issuer, self.users, self.allowed_prefix = issuer, users, allowed_prefix
        self.requests: list[dict] = []  # what clients asked for, for the tests to check

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/token"


class _TokenHandler(BaseHTTPRequestHandler):
    server: TokenServer

    def log_message(self, format: str, *args) -> None:  # noqa: A002, ANN002 - quiet test output
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        user = None
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            name, _, password = base64.b64decode(header[6:]).decode().partition(":")
            user = name if self.server.users.get(name) == password else ""
        self.server.requests.append({"path": url.path, "user": user, "service": query.get("service", [None])[0],
                                     "scope": query.get("scope", [])})
        if url.path != "/token" or not user:  # private registry: no anonymous tokens, wrong password is 401
            self._answer(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})
            return
        access = []
        for scope in query.get("scope", []):
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind == "repository" and name.startswith(self.server.allowed_prefix):
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        token = self.server.issuer.token(user, access)
        self._answer(200, {"token": token, "access_token": token, "expires_in": 300,
                           "issued_at": datetime.now(UTC).isoformat()})


@dataclass
class AuthRegistry:
    host: str
    process: ManagedProcess
    token_server: TokenServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}"


def start_auth_registry(workdir: Path, auth_yaml: str) -> AuthRegistry:
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: info\n"
        f"storage:\n  filesystem:\n    rootdirectory: {workdir / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        f"auth:\n{auth_yaml}"
    )
    process = ManagedProcess.spawn("docker-registry", ["docker-registry", "serve", str(config)],
                                   log_path=workdir / "registry.log")
    registry = AuthRegistry(host=f"127.0.0.1:{port}", process=process)
    try:
        wait_until(lambda: requests.get(f"{registry.url}/v2/", timeout=2).status_code == 401,
                   what=f"auth registry on {registry.host}", timeout=30, process=process)
    except BaseException:
        process.stop()
        raise
    return registry


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    """A real distribution registry with ``auth: token``, trusting this module's token server."""
    workdir = tmp_path_factory.mktemp("token-registry")
    issuer = TokenIssuer(name="c2c-test-token-issuer", service="c2c-test-registry")
    (workdir / "root.pem").write_bytes(issuer.root_pem())
    server = TokenServer(issuer, {USER: PASSWORD}, allowed_prefix="c2c/private")
    thread = threading.Thread(target=server.serve_forever, name="token-server", daemon=True)
    thread.start()
    registry = None
    try:
        registry = start_auth_registry(
            workdir,
            f"  token:\n    realm: {server.realm}\n    service: {issuer.service}\n"
            f"    issuer: {issuer.name}\n    rootcertbundle: {workdir / 'root.pem'}\n",
        )
        registry.token_server = server
        yield registry
    finally:
        if registry is not None:
            registry.process.stop()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def push_to(oci_registry, registry: AuthRegistry, repository: str, tag: str, credentials: str) -> str:
    """Build a small image with the session's Buildah and push it, authenticated, to ``registry``."""
    local_tag = f"src-{uuid.uuid4().hex[:8]}"
    oci_registry.build_and_push("c2c/auth-source", local_tag, files={"app.txt": f"{repository}:{tag}\n"},
                                labels={REVISION_LABEL: "1" * 40})
    digest_file = oci_registry.workdir / f"{local_tag}.auth-digest"
    oci_registry.buildah("push", "--tls-verify=false", "--creds", credentials, "--digestfile", str(digest_file),
                         f"{oci_registry.host}/c2c/auth-source:{local_tag}",
                         f"docker://{registry.host}/{repository}:{tag}")
    return digest_file.read_text().strip()


def test_bearer_token_flow_against_a_token_auth_registry(oci_registry, token_registry: AuthRegistry) -> None:
    pushed = push_to(oci_registry, token_registry, "c2c/private/app", "v1", f"{USER}:{PASSWORD}")
    server = token_registry.token_server
    assert server is not None
    # The registry's own answer, with a token fetched by hand: ground truth independent of the client.
    scope = {"service": "c2c-test-registry", "scope": "repository:c2c/private/app:pull"}
    token = requests.get(server.realm, params=scope, auth=(USER, PASSWORD), timeout=10).json()["token"]
    served = raw_manifest(token_registry.url, "c2c/private/app", "v1", {"Authorization": f"Bearer {token}"})
    assert served.headers["Docker-Content-Digest"] == pushed

    server.requests.clear()
    client = RegistryClient(username=USER, password=PASSWORD, insecure=True)
    reference = f"{token_registry.host}/c2c/private/app:v1"
    assert client.resolve(reference).digest == pushed
    assert client.image_config(reference)["config"]["Labels"][REVISION_LABEL] == "1" * 40
    # One token for the repository, asked with the registry's service and a pull scope, then reused.
    assert server.requests == [
        {"path": "/token", "user": USER, "service": "c2c-test-registry", "scope": ["repository:c2c/private/app:pull"]}
    ]


def test_bearer_refusals_name_the_registry_and_the_status(oci_registry, token_registry: AuthRegistry) -> None:
    push_to(oci_registry, token_registry, "c2c/private/refused", "v1", f"{USER}:{PASSWORD}")
    reference = f"{token_registry.host}/c2c/private/refused:v1"
    with pytest.raises(RegistryAuthError, match=r"refused anonymous access \(401\)") as caught:
        RegistryClient(insecure=True).resolve(reference)
    assert f"registry {token_registry.host}" in str(caught.value)
    with pytest.raises(RegistryAuthError, match=rf"refused the credentials of '{USER}' \(401\)"):
        RegistryClient(username=USER, password="wrong", insecure=True).resolve(reference)
    # Valid credentials, but the token grants nothing on this repository: the registry says 401 again.
    with pytest.raises(RegistryAuthError, match=rf"registry {token_registry.host} answered 401 .*lack pull access"):
        RegistryClient(username=USER, password=PASSWORD, insecure=True).resolve(f"{token_registry.host}/c2c/other:v1")


def test_cli_resolves_through_token_auth_with_credentials_from_the_environment(
    oci_registry, token_registry: AuthRegistry, tmp_path: Path
) -> None:
    repo, env, head = git_repo(tmp_path / "app")
    env = jenkins(env, "private-app", 3)
    tag = cli(["--print-tag"], env, cwd=repo).stdout.strip()
    pushed = push_to(oci_registry, token_registry, "c2c/private/cli", tag, f"{USER}:{PASSWORD}")
    image = f"{token_registry.host}/c2c/private/cli"
    args = ["--image", image, "--resolve-digest", "--insecure-registry", "--output", "m.json"]

    done = cli(args, env, cwd=repo)  # no credentials: the registry's refusal is the reason given
    assert done.returncode == 3
    assert f"--resolve-digest {image}:{tag}: token service" in done.stderr and "anonymous access (401)" in done.stderr

    done = cli(args, {**env, "C2C_REGISTRY_USER": USER, "C2C_REGISTRY_PASSWORD": PASSWORD}, cwd=repo)
    assert done.returncode == 0, done.stderr
    doc = json.loads((repo / "m.json").read_text())
    assert doc["image_digest"] == pushed and doc["source_commit"] == head
    assert PASSWORD not in (repo / "m.json").read_text()


# -- Basic auth: a registry with htpasswd ------------------------------------------------------------


def _bcrypt(password: str) -> str:
    """A bcrypt hash via the C library's crypt(3) (libxcrypt has $2b$); skip where Python lacks it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt  # removed in Python 3.13
        except ImportError:
            pytest.skip("no crypt module (Python 3.13+): cannot make an htpasswd bcrypt hash without a new dependency")
        if crypt.METHOD_BLOWFISH not in crypt.methods:
            pytest.skip("the C library's crypt(3) has no bcrypt")
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))


@pytest.fixture(scope="module")
def htpasswd_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    workdir = tmp_path_factory.mktemp("htpasswd-registry")
    (workdir / "htpasswd").write_text(f"{USER}:{_bcrypt(PASSWORD)}\n")
    registry = start_auth_registry(
        workdir, f"  htpasswd:\n    realm: c2c-test-basic\n    path: {workdir / 'htpasswd'}\n"
    )
    try:
        yield registry
    finally:
        registry.process.stop()


def test_basic_auth_against_an_htpasswd_registry(oci_registry, htpasswd_registry: AuthRegistry) -> None:
    pushed = push_to(oci_registry, htpasswd_registry, "c2c/basic", "v1", f"{USER}:{PASSWORD}")
    served = requests.head(f"{htpasswd_registry.url}/v2/c2c/basic/manifests/v1", auth=(USER, PASSWORD),
                           headers={"Accept": MANIFEST_ACCEPT}, timeout=10)
    assert served.headers["Docker-Content-Digest"] == pushed
    reference = parse_reference(f"{htpasswd_registry.host}/c2c/basic:v1")
    client = RegistryClient(username=USER, password=PASSWORD, insecure=True)
    assert client.resolve(reference).digest == pushed
    assert client.image_config(reference)["config"]["Labels"][REVISION_LABEL] == "1" * 40
    with pytest.raises(RegistryAuthError, match=rf"registry {htpasswd_registry.host} answered 401 .*needs a username"):
        RegistryClient(insecure=True).resolve(reference)
    with pytest.raises(RegistryAuthError, match=r"answered 401 Unauthorized .*as 'ci-bot'.*refused"):
        RegistryClient(username=USER, password="wrong", insecure=True).resolve(reference)
