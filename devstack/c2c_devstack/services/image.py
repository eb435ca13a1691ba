"""c2c's code-location image, built with Buildah from the repository's Containerfile and pushed to
the test registry, and a way to run a command in it as a kubelet would.

There is no Docker Hub here, so the base is not python:3.11-slim-bookworm (the Containerfile's
default) but a minimal Debian 12 root filesystem with Debian's python3 3.11, made with debootstrap
by ``scripts/services/debian-base.sh``, pushed to the test registry and named by its digest as
``BASE_IMAGE``. Everything else is the production build: ``scripts/image-context``, then
``buildah bud`` of the Containerfile.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import requests

from c2c_devstack.services import REPO_ROOT, ManagedProcess
from c2c_devstack.services.registry import MANIFEST_ACCEPT, RegistryService

BASE_SCRIPT = REPO_ROOT / "scripts" / "services" / "debian-base.sh"
BASE_REPOSITORY = "c2c-base/debian-python"
IMAGE_REPOSITORY = "c2c/code-location"


@dataclass(frozen=True)
class PushedImage:
    """An image in the test registry: ``reference`` names it by digest."""

    reference: str  # host/repository@sha256:...
    tag_reference: str  # host/repository:tag
    digest: str
    compressed_bytes: int  # config + layers as the registry stores them: what a pull transfers

    @property
    def compressed_mib(self) -> float:
        return self.compressed_bytes / 2**20


def _pushed(registry: RegistryService, repository: str, tag: str, digest: str) -> PushedImage:
    manifest = requests.get(f"{registry.url}/v2/{repository}/manifests/{digest}",
                            headers={"Accept": MANIFEST_ACCEPT}, timeout=10)
    manifest.raise_for_status()
    body = manifest.json()
    size = body["config"]["size"] + sum(layer["size"] for layer in body["layers"])
    return PushedImage(reference=f"{registry.host}/{repository}@{digest}",
                       tag_reference=f"{registry.host}/{repository}:{tag}", digest=digest, compressed_bytes=size)


def push_debian_base(registry: RegistryService) -> PushedImage:
    """The debootstrapped Debian 12 + python3 root filesystem, as an image in the test registry."""
    done = subprocess.run(["bash", str(BASE_SCRIPT)], check=True, stdout=subprocess.PIPE, text=True)
    tarball = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)["debian-base"]
    container = registry.buildah("from", "scratch").strip()
    try:
        # ADD of a tarball unpacks it: the root filesystem becomes the image's single layer.
        registry.buildah("add", container, tarball, "/")
        registry.buildah("config", "--cmd", '["python3"]', "--env",
                         "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", container)
        tag_reference = f"{registry.host}/{BASE_REPOSITORY}:bookworm"
        registry.buildah("commit", "--quiet", container, tag_reference)
    finally:
        registry.buildah("rm", container)
    digest_file = registry.workdir / "base.digest"
    registry.buildah("push", "--tls-verify=false", "--digestfile", str(digest_file), tag_reference)
    return _pushed(registry, BASE_REPOSITORY, "bookworm", digest_file.read_text().strip())


def build_code_location_image(registry: RegistryService, workdir: Path, *, tag: str = "test") -> PushedImage:
    """``scripts/image-context`` + ``buildah bud`` of the Containerfile on the Debian base, pushed."""
    base = push_debian_base(registry)
    context = workdir / "image-context"
    subprocess.run([str(REPO_ROOT / "scripts" / "image-context"), str(context)], check=True,
                   stdout=subprocess.DEVNULL)
    tag_reference = f"{registry.host}/{IMAGE_REPOSITORY}:{tag}"
    registry.buildah("bud", "--isolation", "chroot", "--tls-verify=false", "--build-arg",
                     f"BASE_IMAGE={base.reference}", "-f", str(REPO_ROOT / "Containerfile"),
                     "-t", tag_reference, str(context), timeout=900)
    digest_file = workdir / "image.digest"
    registry.buildah("push", "--tls-verify=false", "--digestfile", str(digest_file), tag_reference)
    return _pushed(registry, IMAGE_REPOSITORY, tag, digest_file.read_text().strip())


def image_config(registry: RegistryService, image: PushedImage) -> dict:
    """The OCI image config (``config.User``, ``config.Cmd``, ``config.Env`` ...) as the registry serves it."""
    repository = image.reference.split("/", 1)[1].split("@")[0]
    return registry.image_config(repository, image.digest)


@dataclass
class ContainerRun:
    """A command running in a container of the image (Buildah, chroot isolation, host network)."""

    container: str
    process: ManagedProcess
    registry: RegistryService

    def stop(self) -> None:
        self.process.stop()
        self.registry.buildah("rm", self.container)


def run_once(registry: RegistryService, image: str, command: list[str], *, timeout: float = 300) -> str:
    """Run ``command`` to completion in a throw-away container of ``image``; its output."""
    container = registry.buildah("from", "--quiet", "--tls-verify=false", image).strip()
    try:
        return registry.buildah("run", "--isolation", "chroot", container, "--", *command, timeout=timeout)
    finally:
        registry.buildah("rm", container)


def run_in_image(registry: RegistryService, image: str, command: list[str], *, env: dict[str, str],
                 files: dict[str, dict[str, str] | str] | None = None, user: str | None = None,
                 rw_dirs: dict[str, Path] | None = None, log_path: Path, workdir: Path) -> ContainerRun:
    """Start ``command`` in a fresh container of ``image`` as a kubelet would: the image's root
    filesystem, user and working directory, exactly these environment variables, each ``files``
    entry bind-mounted read-only (mount path -> {file name: content}, as Secret and ConfigMap
    volumes project them, or -> content for a subPath mount of one file), and ``rw_dirs`` (mount
    path -> host directory) read-write. The network is the host's: services on 127.0.0.1 are
    reachable.
    """
    container = registry.buildah("from", "--quiet", "--tls-verify=false", image).strip()
    mounts: list[tuple[str, Path, str]] = []
    for index, (mount_path, content) in enumerate(sorted((files or {}).items())):
        source = workdir / f"volume-{index}"
        if isinstance(content, str):
            source.parent.mkdir(parents=True, exist_ok=True)
            source.write_text(content)
        else:
            source.mkdir(parents=True, exist_ok=True)
            for name, text in content.items():
                (source / name).write_text(text)
        mounts.append((mount_path, source, "ro"))
    mounts += [(mount_path, source, "rw") for mount_path, source in (rw_dirs or {}).items()]
    volumes: list[str] = []
    # Parents before what is mounted inside them (a file into an emptyDir), as a runtime orders them.
    for mount_path, source, mode in sorted(mounts, key=lambda m: m[0].rstrip("/").count("/")):
        volumes += ["--volume", f"{source}:{mount_path}:{mode}"]
    user_args = ["--user", user] if user else []
    env_args = [arg for key, value in sorted(env.items()) for arg in ("--env", f"{key}={value}")]
    argv = [*registry.buildah_argv(), "run", "--isolation", "chroot", *user_args, *env_args, *volumes,
            container, "--", *command]
    process = ManagedProcess.spawn("container", argv, log_path=log_path)
    return ContainerRun(container=container, process=process, registry=registry)
