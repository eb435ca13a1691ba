"""Run one container of a pod spec from the real API server the way a kubelet would, where no
kubelet runs (kwok only fakes pod status): the container's image from the test registry, its
command resolved against the image's entrypoint, its environment with every ``valueFrom`` and
``envFrom`` read from the API server (Secrets, ConfigMaps, the downward API's namespace), Secret
and ConfigMap volumes projected as files, emptyDirs as empty writable directories, and the pod's
``runAsUser``. What it cannot do: a network namespace of its own (the host's is used, so loopback
services are reachable), resource limits, a read-only root filesystem.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from c2c_devstack.services.image import ContainerRun, run_in_image
from c2c_devstack.services.registry import RegistryService


class UnsupportedPodSpec(ValueError):
    """The pod spec uses something this runner does not emulate; the message names it."""


@dataclass
class ResolvedContainer:
    argv: list[str]
    env: dict[str, str]
    # mount path -> {name: content}, or -> content for a subPath mount of one key
    files: dict[str, dict[str, str] | str] = field(default_factory=dict)
    empty_dirs: list[str] = field(default_factory=list)
    user: str | None = None


def _secret(core: Any, namespace: str, name: str) -> dict[str, str]:
    data = core.read_namespaced_secret(name, namespace).data or {}
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def _config_map(core: Any, namespace: str, name: str) -> dict[str, str]:
    return dict(core.read_namespaced_config_map(name, namespace).data or {})


def resolve(api: Any, namespace: str, pod_spec: dict, image_config: dict, container_name: str | None = None) -> ResolvedContainer:
    """``pod_spec`` as the API server returns it (camelCase JSON); ``image_config`` the OCI image
    config's ``config`` section (Entrypoint, Cmd)."""
    from kubernetes import client

    core = client.CoreV1Api(api)
    containers = pod_spec["containers"]
    container = next(c for c in containers if container_name in (None, c["name"]))

    # Kubernetes' rule: command replaces the entrypoint (and drops Cmd); args replace Cmd.
    entrypoint = container.get("command") or image_config.get("Entrypoint") or []
    if container.get("command"):
        arguments = container.get("args") or []
    else:
        arguments = container.get("args") or image_config.get("Cmd") or []
    argv = [*entrypoint, *arguments]

    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "secretRef" in source:
            values = _secret(core, namespace, source["secretRef"]["name"])
        elif "configMapRef" in source:
            values = _config_map(core, namespace, source["configMapRef"]["name"])
        else:
            raise UnsupportedPodSpec(f"envFrom {source}")
        env.update({prefix + key: value for key, value in values.items()})
    for var in container.get("env") or []:
        if "value" in var:
            env[var["name"]] = var["value"]
        elif "valueFrom" not in var:
            env[var["name"]] = ""
        elif "secretKeyRef" in (ref := var["valueFrom"]):
            env[var["name"]] = _secret(core, namespace, ref["secretKeyRef"]["name"])[ref["secretKeyRef"]["key"]]
        elif "configMapKeyRef" in ref:
            env[var["name"]] = _config_map(core, namespace, ref["configMapKeyRef"]["name"])[ref["configMapKeyRef"]["key"]]
        elif ref.get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
            env[var["name"]] = namespace
        else:
            raise UnsupportedPodSpec(f"env {var['name']}: valueFrom {ref}")

    volumes = {v["name"]: v for v in pod_spec.get("volumes") or []}
    resolved = ResolvedContainer(argv=argv, env=env)
    for mount in container.get("volumeMounts") or []:
        volume = volumes[mount["name"]]
        if "emptyDir" in volume:
            resolved.empty_dirs.append(mount["mountPath"])
            continue
        if "secret" in volume:
            source = volume["secret"]
            try:
                content = _secret(core, namespace, source["secretName"])
            except client.exceptions.ApiException as exc:
                if exc.status == 404 and source.get("optional"):
                    continue
                raise
        elif "configMap" in volume:
            content = _config_map(core, namespace, volume["configMap"]["name"])
        else:
            raise UnsupportedPodSpec(f"volume {volume}")
        # A subPath mount puts that one key's file at the mount path.
        resolved.files[mount["mountPath"]] = content[mount["subPath"]] if mount.get("subPath") else content

    context = {**(pod_spec.get("securityContext") or {}), **(container.get("securityContext") or {})}
    if "runAsUser" in context:
        resolved.user = f"{context['runAsUser']}:{context.get('runAsGroup', context['runAsUser'])}"
    return resolved


def run(registry: RegistryService, image: str, resolved: ResolvedContainer, *, log_path: Path,
        workdir: Path, replace_args: dict[str, str] | None = None) -> ContainerRun:
    """Start the resolved container; ``replace_args`` swaps single arguments (e.g. a port the
    host's shared network already uses), nothing else of the command changes."""
    argv = [(replace_args or {}).get(arg, arg) for arg in resolved.argv]
    empty = {}
    for index, path in enumerate(resolved.empty_dirs):
        directory = workdir / f"empty-{index}"
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o1777)  # an emptyDir is writable by the pod's user
        empty[path] = directory
    return run_in_image(registry, image, argv, env=resolved.env, files=resolved.files, user=resolved.user,
                        rw_dirs=empty, log_path=log_path, workdir=workdir)
