"""A small OCI distribution API client: the digest a registry serves for a tag, and an image's config.

Speaks what Docker Hub, the CNCF distribution registry, Harbor, GHCR and ECR all speak: manifests
by tag or digest with the four manifest media types, anonymous or Basic or Bearer-token auth
(RFC 6750 challenge, token fetched from the realm with Basic credentials), retried on connection
errors and 5xx. Every digest returned is one the registry served and the body verifies against.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from c2c_core.images import ImageReference, is_digest, parse_reference

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])

#: The platform ``image_config`` reads from a multi-arch index when there is one.
DEFAULT_PLATFORM = "linux/amd64"


class RegistryError(Exception):
    """A registry request failed; the message names the registry, the request and the status."""


class RegistryAuthError(RegistryError):
    """401/403: missing or refused credentials, or no pull access to the repository."""


class ManifestNotFoundError(RegistryError):
    """404: the repository, tag or digest does not exist in the registry."""


class RegistryUnavailableError(RegistryError):
    """The registry could not be reached, or kept answering 5xx, after the retries."""


@dataclass(frozen=True)
class PlatformDigest:
    """One platform's manifest inside a multi-arch index."""

    platform: str  # "linux/amd64", "linux/arm64/v8"
    digest: str
    media_type: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"platform": self.platform, "digest": self.digest}


@dataclass(frozen=True)
class ResolvedImage:
    """What a tag points at: the manifest (or index) digest and, for an index, each platform's."""

    digest: str
    media_type: str
    platform_digests: tuple[PlatformDigest, ...] = ()

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES


@dataclass(frozen=True)
class Manifest:
    body: bytes
    media_type: str
    digest: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


def parse_challenge(header: str | None) -> tuple[str, dict[str, str]] | None:
    """``WWW-Authenticate: Bearer realm="…",service="…",scope="…"`` as ``("bearer", {...})``.

    Quoted values may contain commas (``scope="repository:a/b:pull,push"``), so this tokenises
    rather than splitting on ``,``. Only the first challenge in the header is read.
    """
    if not header:
        return None
    match = re.match(r"\s*([A-Za-z][A-Za-z0-9_-]*)(.*)$", header, re.S)
    if not match:
        return None
    scheme, rest = match.group(1).lower(), match.group(2)
    params: dict[str, str] = {}
    for param in re.finditer(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?', rest):
        key = param.group(1).lower()
        value = param.group(2) if param.group(2) is not None else param.group(3)
        params.setdefault(key, re.sub(r"\\(.)", r"\1", value))
    return scheme, params


def platform_manifests(index: dict[str, Any]) -> tuple[PlatformDigest, ...]:
    """The runnable platform manifests of an index, skipping BuildKit's attestation entries."""
    found: list[PlatformDigest] = []
    for entry in index.get("manifests") or []:
        annotations = entry.get("annotations") or {}
        platform = entry.get("platform") or {}
        # BuildKit stores provenance/SBOM as an "unknown/unknown" manifest: not an image to run.
        if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
            continue
        os_name, arch = platform.get("os"), platform.get("architecture")
        if not os_name or not arch or os_name == "unknown":
            continue
        name = f"{os_name}/{arch}" + (f"/{platform['variant']}" if platform.get("variant") else "")
        found.append(PlatformDigest(platform=name, digest=entry["digest"], media_type=entry.get("mediaType", "")))
    return tuple(found)


def sha256_digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _error_detail(response: requests.Response) -> str:
    """The registry's ``{"errors": [{"code", "message"}]}`` body as text, when there is one."""
    try:
        errors = response.json().get("errors") or []
        text = "; ".join(f"{e.get('code', '')}: {e.get('message', '')}".strip(": ") for e in errors)
    except (ValueError, AttributeError):
        text = ""
    return f" ({text})" if text else ""


@dataclass
class RegistryClient:
    """Reads manifests and config blobs; one retrying session, tokens cached per repository."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    insecure: bool = False  # plain http, for a local or in-cluster registry
    timeout: tuple[float, float] = (5.0, 30.0)  # (connect, read) seconds
    retries: int = 2
    backoff: float = 0.5
    _tokens: dict[tuple[str, str], str] = field(default_factory=dict, init=False, repr=False)
    #: Requests sent to registries and token services (retries by urllib3 aside): what a scan costs.
    requests_sent: int = field(default=0, init=False)
    _basic_registries: set[str] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        self.session = requests.Session()
        retry = Retry(
            total=self.retries,
            connect=self.retries,
            read=self.retries,
            status=self.retries,
            status_forcelist=(500, 502, 503, 504),
            allowed_methods=frozenset({"GET", "HEAD"}),
            backoff_factor=self.backoff,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = "c2c-registry-client"

    # -- public API ---------------------------------------------------------------------------

    def resolve(self, reference: ImageReference | str) -> ResolvedImage:
        """The digest the registry serves for ``reference`` now, with platform digests for an index."""
        ref = parse_reference(reference) if isinstance(reference, str) else reference
        head = self.head(ref)
        if head.media_type not in INDEX_MEDIA_TYPES:
            return head
        return self.platforms(ref, head.digest)

    def head(self, reference: ImageReference | str) -> ResolvedImage:
        """What ``reference`` points at, from one HEAD: digest and media type, no platform digests
        (``platforms`` reads them for an index). A registry that sends no ``Docker-Content-Digest``
        costs a GET of the manifest instead."""
        ref = parse_reference(reference) if isinstance(reference, str) else reference
        what = f"manifest {ref.repository}:{ref.manifest_reference}"
        # HEAD first: it is what Docker Hub does not count against pull limits, and it is enough
        # for a single-platform image whose registry sends Docker-Content-Digest.
        head = self._request("HEAD", ref, f"manifests/{ref.manifest_reference}", what, {"Accept": MANIFEST_ACCEPT})
        digest = head.headers.get("Docker-Content-Digest", "")
        media_type = _media_type(head.headers.get("Content-Type"))
        if is_digest(digest) and media_type:
            return ResolvedImage(digest=digest, media_type=media_type)
        return self.platforms(ref, digest if is_digest(digest) else ref.manifest_reference)

    def platforms(self, reference: ImageReference | str, manifest_reference: str) -> ResolvedImage:
        """The manifest at ``manifest_reference`` (a digest, or a tag) of ``reference``'s repository,
        with each platform's digest when it is an index (one GET)."""
        ref = parse_reference(reference) if isinstance(reference, str) else reference
        # By digest when we have it, so a tag moved between the HEAD and this GET cannot mix answers.
        manifest = self._manifest(ref, manifest_reference)
        platforms = platform_manifests(manifest.json()) if manifest.media_type in INDEX_MEDIA_TYPES else ()
        return ResolvedImage(digest=manifest.digest, media_type=manifest.media_type, platform_digests=platforms)

    def image_config(self, reference: ImageReference | str, platform: str = DEFAULT_PLATFORM) -> dict[str, Any]:
        """The image config blob (labels under ``config.Labels``); for an index, ``platform`` or the first."""
        ref = parse_reference(reference) if isinstance(reference, str) else reference
        manifest = self._manifest(ref, ref.manifest_reference)
        if manifest.media_type in INDEX_MEDIA_TYPES:
            platforms = platform_manifests(manifest.json())
            if not platforms:
                raise RegistryError(f"registry {ref.registry}: index {ref} lists no platform images")
            chosen = next((p for p in platforms if p.platform == platform), platforms[0])
            manifest = self._manifest(ref, chosen.digest)
        config = manifest.json().get("config") or {}
        config_digest = config.get("digest", "")
        if not is_digest(config_digest):
            raise RegistryError(f"registry {ref.registry}: manifest {manifest.digest} of {ref} has no sha256 config")
        blob = self._request("GET", ref, f"blobs/{config_digest}", f"config blob {config_digest} of {ref.repository}")
        if sha256_digest(blob.content) != config_digest:
            raise RegistryError(f"registry {ref.registry}: config blob of {ref} does not match {config_digest}")
        return json.loads(blob.content)

    def manifest(self, reference: ImageReference | str) -> Manifest:
        """The manifest (or index) ``reference`` names, its digest checked against its bytes."""
        ref = parse_reference(reference) if isinstance(reference, str) else reference
        return self._manifest(ref, ref.manifest_reference)

    def blob(self, reference: ImageReference | str, digest: str) -> bytes:
        """A blob of ``reference``'s repository, refused unless its bytes hash to ``digest``."""
        ref = parse_reference(reference) if isinstance(reference, str) else reference
        if not is_digest(digest):
            raise RegistryError(f"registry {ref.registry}: blob {digest!r} is not a sha256 digest")
        response = self._request("GET", ref, f"blobs/{digest}", f"blob {digest} of {ref.repository}")
        if sha256_digest(response.content) != digest:
            raise RegistryError(f"registry {ref.registry}: blob of {ref.repository} does not match {digest}")
        return response.content

    # -- internals ----------------------------------------------------------------------------

    def _manifest(self, ref: ImageReference, reference: str) -> Manifest:
        what = f"manifest {ref.repository}:{reference}"
        response = self._request("GET", ref, f"manifests/{reference}", what, {"Accept": MANIFEST_ACCEPT})
        body = response.content
        computed = sha256_digest(body)
        served = response.headers.get("Docker-Content-Digest", "")
        # The registry's digest is authoritative, but it must describe the bytes we got:
        # a proxy rewriting the manifest would otherwise give us a digest that is not the image's.
        for claimed in (served, reference):
            if claimed.startswith("sha256:") and claimed != computed:
                raise RegistryError(
                    f"registry {ref.registry}: {what} body hashes to {computed}, not {claimed}; "
                    "refusing an unverifiable digest"
                )
        media_type = _media_type(response.headers.get("Content-Type"))
        if media_type not in (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST):
            try:
                media_type = json.loads(body).get("mediaType") or media_type
            except ValueError as exc:
                raise RegistryError(f"registry {ref.registry}: {what} is not JSON") from exc
        return Manifest(body=body, media_type=media_type, digest=served or computed)

    def _base(self, ref: ImageReference) -> str:
        return f"{'http' if self.insecure else 'https'}://{ref.registry}/v2/{ref.repository}"

    def _request(
        self, method: str, ref: ImageReference, path: str, what: str, headers: dict[str, str] | None = None
    ) -> requests.Response:
        url = f"{self._base(ref)}/{path}"
        headers = dict(headers or {})
        response = self._send(method, url, {**headers, **self._auth_headers(ref)}, ref, what)
        if response.status_code == 401:
            self._authenticate(ref, response, what)
            response = self._send(method, url, {**headers, **self._auth_headers(ref)}, ref, what)
            if response.status_code == 401:
                who = repr(self.username) if self.username is not None else "anonymous"
                raise RegistryAuthError(
                    f"registry {ref.registry} answered 401 Unauthorized to {what} after authenticating as "
                    f"{who}{_error_detail(response)}: the credentials were refused or lack pull access "
                    f"to {ref.repository}"
                )
        self._raise_for_status(response, ref, what)
        return response

    def _send(
        self, method: str, url: str, headers: dict[str, str], ref: ImageReference, what: str
    ) -> requests.Response:
        self.requests_sent += 1
        try:
            return self.session.request(method, url, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RegistryUnavailableError(
                f"registry {ref.registry} unreachable for {what} ({url}) after {self.retries} retries: {exc}"
            ) from exc

    def _auth_headers(self, ref: ImageReference) -> dict[str, str]:
        token = self._tokens.get((ref.registry, ref.repository))
        if token:
            return {"Authorization": f"Bearer {token}"}
        if ref.registry in self._basic_registries and self.username is not None:
            raw = f"{self.username}:{self.password or ''}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        return {}

    def _authenticate(self, ref: ImageReference, response: requests.Response, what: str) -> None:
        """Answer a 401's challenge: remember Basic, or fetch a Bearer token from the realm."""
        header = response.headers.get("WWW-Authenticate")
        challenge = parse_challenge(header)
        if challenge is None:
            raise RegistryAuthError(
                f"registry {ref.registry} answered 401 Unauthorized to {what} without an auth challenge"
            )
        scheme, params = challenge
        if scheme == "basic":
            if self.username is None:
                raise RegistryAuthError(
                    f"registry {ref.registry} answered 401 Unauthorized to {what}: it needs a username and "
                    "password (Basic auth) and none was given"
                )
            if ref.registry in self._basic_registries:
                raise RegistryAuthError(
                    f"registry {ref.registry} answered 401 Unauthorized to {what}: it refused the Basic "
                    f"credentials of {self.username!r}"
                )
            self._basic_registries.add(ref.registry)
            return
        if scheme != "bearer" or not params.get("realm"):
            raise RegistryAuthError(
                f"registry {ref.registry} answered 401 to {what} with an unsupported challenge {header!r}"
            )
        self._tokens[(ref.registry, ref.repository)] = self._fetch_token(ref, params, what)

    def _fetch_token(self, ref: ImageReference, params: dict[str, str], what: str) -> str:
        realm = params["realm"]
        query = {"scope": params.get("scope") or f"repository:{ref.repository}:pull"}
        if params.get("service"):
            query["service"] = params["service"]
        auth = (self.username, self.password or "") if self.username is not None else None
        self.requests_sent += 1
        try:
            response = self.session.get(realm, params=query, auth=auth, timeout=self.timeout)
        except requests.RequestException as exc:
            raise RegistryUnavailableError(
                f"token service {realm} for registry {ref.registry} unreachable after {self.retries} retries: {exc}"
            ) from exc
        if response.status_code in (401, 403):
            who = f"the credentials of {self.username!r}" if auth else "anonymous access"
            raise RegistryAuthError(
                f"token service {realm} for registry {ref.registry} refused {who} ({response.status_code}) "
                f"for {what}"
            )
        if response.status_code != 200:
            raise RegistryError(
                f"token service {realm} for registry {ref.registry} answered {response.status_code} for {what}"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise RegistryError(f"token service {realm} for registry {ref.registry} did not answer JSON") from exc
        # Docker's spec says "token"; OAuth2-style servers answer "access_token".
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryError(f"token service {realm} for registry {ref.registry} answered without a token")
        return token

    def _raise_for_status(self, response: requests.Response, ref: ImageReference, what: str) -> None:
        status = response.status_code
        if status < 400:
            return
        detail = _error_detail(response)
        if status == 401:
            raise RegistryAuthError(f"registry {ref.registry} answered 401 Unauthorized to {what}{detail}")
        if status == 403:
            raise RegistryAuthError(f"registry {ref.registry} answered 403 Forbidden to {what}{detail}")
        if status == 404:
            raise ManifestNotFoundError(f"registry {ref.registry} answered 404 Not Found to {what}{detail}")
        if status >= 500:
            raise RegistryUnavailableError(
                f"registry {ref.registry} answered {status} to {what}{detail} after {self.retries} retries"
            )
        raise RegistryError(f"registry {ref.registry} answered {status} to {what}{detail}")


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip()
