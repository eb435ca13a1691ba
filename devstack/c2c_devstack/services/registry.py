"""The real OCI registry (Debian's docker-registry) on loopback, and Buildah to build and push to it.

Images are built ``FROM scratch`` (no base image to pull on a closed network) with the
``org.opencontainers.image.revision`` label, pushed with ``--digestfile``, and read back through
the OCI distribution API, so every digest a test uses is one a real registry computed.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import requests

from c2c_devstack.services import REPO_ROOT, ManagedProcess, free_port, wait_until

MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)

ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) \S+ "[^"]*" "(?P<agent>[^"]*)"')


@dataclass
class RegistryService:
    """A running registry plus a Buildah with its own storage under the test's work dir."""

    host: str  # "127.0.0.1:PORT", as it appears in image references
    workdir: Path
    process: ManagedProcess

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def buildah_argv(self) -> list[str]:
        """buildah on this service's private storage (vfs: works without overlay mounts)."""
        return [
            "buildah",
            "--storage-driver", "vfs",
            "--root", str(self.workdir / "buildah-root"),
            "--runroot", str(self.workdir / "buildah-run"),
        ]

    def buildah(self, *args: str, timeout: float = 300) -> str:
        """Run buildah on this service's private storage; its stdout, or an error with its output."""
        cmd = [*self.buildah_argv(), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def build_and_push(
        self,
        repository: str,
        tag: str,
        *,
        files: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
        digest_file: Path | None = None,
    ) -> str:
        """Build a small image, push it as ``repository:tag``, return the digest Buildah reported."""
        context = self.workdir / "contexts" / f"{repository.replace('/', '_')}-{tag}"
        context.mkdir(parents=True, exist_ok=True)
        files = files or {"app.txt": f"{repository}:{tag}\n"}
        for name, content in files.items():
            (context / name).write_text(content)
        containerfile = "FROM scratch\n" + "".join(f"COPY {name} /{name}\n" for name in files)
        (context / "Containerfile").write_text(containerfile)
        reference = f"{self.host}/{repository}:{tag}"
        label_args = [arg for key, value in (labels or {}).items() for arg in ("--label", f"{key}={value}")]
        self.buildah("bud", "--isolation", "chroot", *label_args, "-t", reference, "-f",
                     str(context / "Containerfile"), str(context))
        digest_file = digest_file or context / "digest"
        self.buildah("push", "--tls-verify=false", "--digestfile", str(digest_file), reference)
        return digest_file.read_text().strip()

    def push_blob(self, repository: str, body: bytes) -> str:
        """Upload ``body`` as a blob of ``repository`` (a monolithic upload: POST, then PUT with the
        digest) and return its digest; for hand-made manifests Buildah would not write."""
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        start = requests.post(f"{self.url}/v2/{repository}/blobs/uploads/", timeout=10)
        start.raise_for_status()
        location = start.headers["Location"]
        location = location if location.startswith("http") else self.url + location
        put = requests.put(location, params={"digest": digest}, data=body,
                           headers={"Content-Type": "application/octet-stream"}, timeout=10)
        put.raise_for_status()
        return digest

    def _manifest(self, method: str, repository: str, reference: str) -> requests.Response:
        response = requests.request(
            method,
            f"{self.url}/v2/{repository}/manifests/{reference}",
            headers={"Accept": MANIFEST_ACCEPT},
            timeout=10,
        )
        response.raise_for_status()
        return response

    def manifest_digest(self, repository: str, reference: str) -> str:
        """The digest the registry serves for a tag or digest (``Docker-Content-Digest``)."""
        return self._manifest("HEAD", repository, reference).headers["Docker-Content-Digest"]

    def image_config(self, repository: str, reference: str) -> dict:
        """The image config blob (labels live under ``config.Labels``)."""
        config_digest = self._manifest("GET", repository, reference).json()["config"]["digest"]
        blob = requests.get(f"{self.url}/v2/{repository}/blobs/{config_digest}", timeout=10)
        blob.raise_for_status()
        return json.loads(blob.content)

    def access_log(self, user_agent: str) -> list[str]:
        """The requests the registry itself logged from one client (its access log, combined
        format: ``"HEAD /v2/<repo>/manifests/<tag> HTTP/1.1" 200 ...``), as ``METHOD path status``:
        what a client's requests cost, counted by the server, not by the client."""
        lines = []
        for line in self.process.log_path.read_text(errors="replace").splitlines():
            match = ACCESS_LINE.search(line)
            if match and match.group("agent") == user_agent:
                lines.append(f"{match.group('method')} {match.group('path')} {match.group('status')}")
        return lines

    def stop(self) -> None:
        self.process.stop()


def start(workdir: Path) -> RegistryService:
    subprocess.run([str(REPO_ROOT / "scripts" / "services" / "registry.sh")], check=True)
    port = free_port()
    config = workdir / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {workdir / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    process = ManagedProcess.spawn(
        "docker-registry", ["docker-registry", "serve", str(config)], log_path=workdir / "registry.log"
    )
    service = RegistryService(host=f"127.0.0.1:{port}", workdir=workdir, process=process)
    wait_until(
        lambda: requests.get(f"{service.url}/v2/", timeout=2).status_code == 200,
        what=f"OCI registry on {service.host}",
        timeout=30,
        process=process,
    )
    return service
