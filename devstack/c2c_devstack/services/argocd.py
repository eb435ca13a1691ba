"""The real Argo CD (v3.6.1) on a test cluster: application controller, repo server and Redis.

``scripts/services/argocd.sh`` builds Argo CD's multi-call binary from the Go module proxy; here
it runs twice, as ``argocd-repo-server`` (renders manifests from git) and as
``argocd-application-controller`` (compares, syncs, and writes each Application's ``status``:
history, operation state, health), both talking to a Redis of their own. argocd-server (the
API and UI), dex, notifications, the ApplicationSet and commit servers are not run: c2c reads
the Application objects the controller writes, and nothing here needs the API. What
argocd-server would do at first start (create AppProject ``default``, sign ``argocd-secret``)
the starter does.

Outside a pod the controller reaches its own cluster (``https://kubernetes.default.svc``)
through ``ARGOCD_FAKE_IN_CLUSTER`` and ``KUBECONFIG``: the cluster's admin kubeconfig, as Argo
CD's default install binds the controller to a ClusterRole allowing every verb on everything.
Applications live in ``argocd`` or in any namespace matching ``APPLICATION_NAMESPACES`` (Argo
CD's "apps in any namespace"), so tests sharing one controller each get their own.

Git repositories are local (``file://``); ``ConfigRepo`` makes one and commits to it.
``ArgoCD.refresh`` sets the ``argocd.argoproj.io/refresh`` annotation, which is what Argo CD's
own git webhook handler does on a push: the controller re-reads the repo at once instead of at
its next reconciliation.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from c2c_devstack.services import REPO_ROOT, ManagedProcess, ProcessGroup, free_port, wait_until

if TYPE_CHECKING:
    from c2c_devstack.services.kubernetes import KubernetesCluster

log = logging.getLogger(__name__)

INSTALL_SCRIPT = REPO_ROOT / "scripts" / "services" / "argocd.sh"
GROUP, VERSION = "argoproj.io", "v1alpha1"
NAMESPACE = "argocd"
# Namespaces besides NAMESPACE whose Applications the controller manages (a glob, as in
# Argo CD's `application.namespaces`); Applications elsewhere are left alone, so tests that
# write an Application's status by hand can share the cluster.
APPLICATION_NAMESPACES = "gitops-*"
IN_CLUSTER = "https://kubernetes.default.svc"
REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"

# How often the controller re-reads every app's repo without a nudge, and how long the repo
# server trusts a branch -> commit resolution (both Argo CD's `timeout.reconciliation`, 180s by
# default). Commits are announced with REFRESH_ANNOTATION anyway; this bounds what one missed.
RECONCILIATION_TIMEOUT = "20s"


def _install() -> Path:
    """Run the install script (quick when warm); its stdout names the install directory."""
    result = subprocess.run(["bash", str(INSTALL_SCRIPT)], check=True, stdout=subprocess.PIPE, text=True)
    dirs = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return Path(dirs["argocd"])


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")


@dataclass
class ArgoCD:
    """A running Argo CD; Applications are read and written with the cluster's admin client."""

    cluster: KubernetesCluster
    workdir: Path
    redis: str
    repo_server: str
    controller_metrics: str
    processes: ProcessGroup = field(repr=False)
    # How each process was spawned (ManagedProcess.spawn's arguments), for the fault hooks.
    launches: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    def stop(self) -> None:
        self.processes.stop()

    # -- fault hooks: the fault suite kills a component and starts it again, as its pod restarts ---
    def _process(self, name: str) -> ManagedProcess:
        return next(p for p in self.processes.processes if p.name == name)

    def kill(self, name: str) -> None:
        """SIGKILL one component: ``redis``, ``argocd-repo-server`` or ``argocd-application-controller``."""
        process = self._process(name)
        process.popen.kill()
        process.popen.wait(timeout=10)

    def start_again(self, name: str, timeout: float = 90) -> None:
        """Start a killed component with its own flags and environment; return once it answers."""
        import requests

        dead = self._process(name)
        process = ManagedProcess.spawn(name, **self.launches[name])
        self.processes.processes[self.processes.processes.index(dead)] = process
        if name == "redis":
            port = int(self.redis.rsplit(":", 1)[1])
            wait_until(lambda: _redis_ping(port), what="redis again", timeout=timeout, interval=0.1, process=process)
        elif name == "argocd-application-controller":
            wait_until(lambda: requests.get(f"{self.controller_metrics}/healthz", timeout=5).ok,
                       what="argocd-application-controller again", timeout=timeout, process=process)

    # -- Applications --------------------------------------------------------------------------
    def _custom(self, api: Any) -> Any:
        from kubernetes import client

        return client.CustomObjectsApi(api)

    def create_namespace(self, prefix: str = "gitops") -> str:
        """A new namespace ``<prefix>-<random>``; with the default prefix Argo CD manages its apps."""
        from kubernetes import client

        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        with self.cluster.api_client() as api:
            client.CoreV1Api(api).create_namespace({"metadata": {"name": name}})
        return name

    def create_application(self, namespace: str, name: str, *, sources: list[Mapping[str, Any]],
                           dest_namespace: str, dest_server: str = IN_CLUSTER, automated: bool = True,
                           self_heal: bool = False,
                           retry: Mapping[str, Any] | None = None,
                           sync_options: list[str] | None = None) -> dict[str, Any]:
        """Create an Application syncing ``sources`` (one or several) into ``dest_namespace``.

        ``automated``: Argo CD syncs every new commit by itself (with prune), as c2c's demo
        platform does; without it only an ``operation`` written to the app syncs. ``self_heal``
        (off by default, as in Argo CD): the controller also re-applies what drifted from git,
        with selective syncs that write no history entry. ``retry``: the app's ``syncPolicy.retry``
        (without one an automated sync retries a failure 5 times, over about 2.5 minutes).
        """
        spec: dict[str, Any] = {
            "project": "default",
            "destination": {"server": dest_server, "namespace": dest_namespace},
            "syncPolicy": {"syncOptions": list(sync_options or [])},
        }
        if automated:
            spec["syncPolicy"]["automated"] = {"prune": True, "selfHeal": self_heal}
        if retry is not None:
            spec["syncPolicy"]["retry"] = dict(retry)
        if len(sources) == 1:
            spec["source"] = dict(sources[0])
        else:
            spec["sources"] = [dict(source) for source in sources]
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Application",
                "metadata": {"name": name, "namespace": namespace}, "spec": spec}
        with self.cluster.api_client() as api:
            return self._custom(api).create_namespaced_custom_object(GROUP, VERSION, namespace, "applications", body)

    def register_cluster(self, name: str, *, server: str) -> str:
        """Register the test cluster, reached at ``server``, as an Argo CD cluster (the Secret
        ``argocd cluster add`` writes), so Applications may deploy to that address; returns it."""
        import base64

        config = yaml.safe_load(self.cluster.kubeconfig.read_text())
        user = config["users"][0]["user"]

        def data(path: str) -> str:
            return base64.b64encode(Path(path).read_bytes()).decode()

        tls = {"caData": data(str(self.cluster.ca_cert)), "certData": data(user["client-certificate"]),
               "keyData": data(user["client-key"])}
        with self.cluster.api_client() as api:
            _apply(api, {
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": f"cluster-{name}", "namespace": NAMESPACE,
                             "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
                "stringData": {"name": name, "server": server, "config": json.dumps({"tlsClientConfig": tls})},
            })
        return server

    def get_application(self, namespace: str, name: str) -> dict[str, Any]:
        with self.cluster.api_client() as api:
            return self._custom(api).get_namespaced_custom_object(GROUP, VERSION, namespace, "applications", name)

    def patch_application(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """A JSON merge patch of the Application (spec, annotations, operation)."""
        with self.cluster.api_client() as api:
            response = self._custom(api).api_client.call_api(
                f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/applications/{name}", "PATCH",
                header_params={"Content-Type": "application/merge-patch+json", "Accept": "application/json"},
                body=dict(patch), auth_settings=["BearerToken"], _preload_content=False,
                _return_http_data_only=True)
            return json.loads(response.data)

    def refresh(self, namespace: str, name: str, *, hard: bool = False) -> None:
        """Ask the controller to re-read the app's repo now, as Argo CD's git webhook does."""
        self.patch_application(namespace, name, {"metadata": {"annotations": {
            REFRESH_ANNOTATION: "hard" if hard else "normal"}}})

    def delete_application(self, namespace: str, name: str) -> None:
        with self.cluster.api_client() as api:
            self._custom(api).delete_namespaced_custom_object(GROUP, VERSION, namespace, "applications", name)

    def wait_for(self, namespace: str, name: str, condition: Callable[[dict[str, Any]], bool], *,
                 what: str, timeout: float = 60) -> dict[str, Any]:
        """Poll the Application until ``condition(app)``; return that app. Fails naming ``what``
        with the app's last status and the controller's log tail."""
        seen: dict[str, Any] = {}

        def probe() -> bool:
            seen["app"] = self.get_application(namespace, name)
            return bool(condition(seen["app"]))

        try:
            wait_until(probe, what=what, timeout=timeout, interval=0.2)
        except TimeoutError as exc:
            status = json.dumps((seen.get("app") or {}).get("status"), indent=1)[:4000]
            raise TimeoutError(f"{exc}\napplication {namespace}/{name} status: {status}\n"
                               f"{self.processes.processes[-1].log_tail(30)}") from None
        return seen["app"]

    def wait_for_operation(self, namespace: str, name: str, *, revision: str | None = None,
                           timeout: float = 60) -> dict[str, Any]:
        """Wait until the app's latest operation has finished (any phase), for ``revision`` if
        given (the commit, or for a multi-source app one of its commits), and return the app."""

        def finished(app: dict[str, Any]) -> bool:
            state = (app.get("status") or {}).get("operationState") or {}
            if not state.get("finishedAt") or state.get("phase") not in ("Succeeded", "Failed", "Error"):
                return False
            if revision is None:
                return True
            result = state.get("syncResult") or {}
            requested = (state.get("operation") or {}).get("sync") or {}
            revisions = [result.get("revision"), *(result.get("revisions") or []),
                         requested.get("revision"), *(requested.get("revisions") or [])]
            return revision in revisions

        return self.wait_for(namespace, name, finished, what=f"sync of {namespace}/{name}"
                             + (f" at {revision[:12]}" if revision else ""), timeout=timeout)


def _apply(api: Any, body: Mapping[str, Any]) -> None:
    """Server-side apply of one object (create or update), as ``kubectl apply --server-side``."""
    api_version, kind = body["apiVersion"], body["kind"]
    meta = body["metadata"]
    plural = {"ConfigMap": "configmaps", "Secret": "secrets", "Namespace": "namespaces",
              "AppProject": "appprojects", "CustomResourceDefinition": "customresourcedefinitions"}[kind]
    prefix = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    path = prefix + (f"/namespaces/{meta['namespace']}" if meta.get("namespace") else "") + f"/{plural}/{meta['name']}"
    api.call_api(
        path, "PATCH", query_params=[("fieldManager", "c2c-devstack"), ("force", "true")],
        header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
        body=dict(body), auth_settings=["BearerToken"], _preload_content=False)


def _ensure_crds(api: Any, crd_dir: Path) -> list[str]:
    """Install Argo CD's CRDs that the cluster lacks; a CRD already there must be the same.

    The test cluster installs the Application CRD itself (from ``shared/argocd``, the same
    file as this release's ``manifests/crds/application-crd.yaml``), so tests without Argo CD
    validate Applications too; installing it again would be a second copy of one truth.
    """
    from kubernetes import client

    extensions = client.ApiextensionsV1Api(api)
    installed = []
    # The ApplicationSet CRD belongs to the ApplicationSet controller, which is not run.
    for name in ("application-crd.yaml", "appproject-crd.yaml"):
        wanted = yaml.safe_load((crd_dir / name).read_text())
        crd_name = wanted["metadata"]["name"]
        try:
            current = json.loads(extensions.read_custom_resource_definition(crd_name, _preload_content=False).data)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
            extensions.create_custom_resource_definition(wanted, _preload_content=False)
            installed.append(crd_name)
            continue
        if current["spec"]["versions"] != wanted["spec"]["versions"]:
            raise RuntimeError(
                f"CRD {crd_name} on the cluster differs from Argo CD's {crd_dir / name}: the cluster "
                f"was given another Argo CD release's CRD; install the one matching services/argocd/go.mod")

    def established(crd_name: str) -> bool:
        crd = json.loads(extensions.read_custom_resource_definition(crd_name, _preload_content=False).data)
        return any(c["type"] == "Established" and c["status"] == "True"
                   for c in crd.get("status", {}).get("conditions", []))

    for crd_name in installed:
        wait_until(lambda crd_name=crd_name: established(crd_name), what=f"CRD {crd_name} Established",
                   timeout=60, interval=0.2)
    return installed


def _config_objects(config_dir: Path) -> list[dict[str, Any]]:
    """Argo CD's own default config objects, in NAMESPACE, with what the tests tune."""
    objects = []
    for name in ("argocd-cm", "argocd-rbac-cm", "argocd-secret", "argocd-cmd-params-cm"):
        body = yaml.safe_load((config_dir / f"{name}.yaml").read_text())
        body["metadata"]["namespace"] = NAMESPACE
        objects.append(body)
    cm, _, secret, params = objects
    cm.setdefault("data", {})["timeout.reconciliation"] = RECONCILIATION_TIMEOUT
    cm["data"]["timeout.reconciliation.jitter"] = "0s"
    # argocd-server generates the signing key at first start; nothing here verifies tokens.
    secret["stringData"] = {"server.secretkey": secrets.token_urlsafe(32)}
    params["data"] = {"application.namespaces": APPLICATION_NAMESPACES}
    return objects


def _default_project() -> dict[str, Any]:
    """AppProject ``default`` as argocd-server creates it, opened to the app namespaces."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "AppProject",
        "metadata": {"name": "default", "namespace": NAMESPACE},
        "spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}],
                 "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
                 "sourceNamespaces": [APPLICATION_NAMESPACES]},
    }


def start(workdir: Path, cluster: KubernetesCluster, *, status_processors: int = 4,
          operation_processors: int = 4) -> ArgoCD:
    """Install Argo CD's objects on ``cluster`` and start Redis, the repo server and the controller."""
    started = time.monotonic()
    install = _install()
    bin_dir = install / "bin"
    workdir.mkdir(parents=True, exist_ok=True)
    logs = workdir / "logs"
    from kubernetes import client

    with cluster.api_client() as api:
        try:
            client.CoreV1Api(api).create_namespace({"metadata": {"name": NAMESPACE}})
        except client.ApiException as exc:
            if exc.status != 409:
                raise
        _ensure_crds(api, install / "crds")
        for body in [*_config_objects(install / "config"), _default_project()]:
            _apply(api, body)

    group = ProcessGroup()
    launches: dict[str, dict[str, Any]] = {}

    def spawn(name: str, argv: list[str], **options: Any) -> ManagedProcess:
        launches[name] = {"argv": argv, **options}
        return group.add(ManagedProcess.spawn(name, argv, **options))

    try:
        redis_port = free_port()
        (workdir / "redis").mkdir(exist_ok=True)
        redis = spawn("redis", [
            str(bin_dir / "redis-server"), "--bind", "127.0.0.1", "--port", str(redis_port),
            # A cache only: nothing is persisted, and it lives with the session.
            "--save", "", "--appendonly", "no", "--dir", str(workdir / "redis"),
        ], log_path=logs / "redis.log")
        wait_until(lambda: _redis_ping(redis_port), what="redis", timeout=30, interval=0.1, process=redis)
        redis_address = f"127.0.0.1:{redis_port}"

        # What Argo CD's manifests pass to both from argocd-cm (ARGOCD_RECONCILIATION_TIMEOUT).
        common_env = {
            "ARGOCD_RECONCILIATION_TIMEOUT": RECONCILIATION_TIMEOUT,
            "ARGOCD_RECONCILIATION_JITTER": "0s",
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        repo_port, repo_metrics = free_port(), free_port()
        tmp = workdir / "tmp"
        tmp.mkdir(exist_ok=True)
        repo_server = spawn("argocd-repo-server", [
            str(bin_dir / "argocd"), "--address", "127.0.0.1", "--port", str(repo_port),
            "--metrics-address", "127.0.0.1", "--metrics-port", str(repo_metrics),
            # Plain gRPC on loopback; --client-ca-path must then be empty (its default is a file).
            "--disable-tls", "--client-ca-path", "",
            "--redis", redis_address, "--logformat", "text", "--loglevel", "info",
        ], log_path=logs / "argocd-repo-server.log", cwd=workdir, env={
            **common_env,
            "ARGOCD_BINARY_NAME": "argocd-repo-server",
            # Its git checkouts (TMPDIR/_argocd-repo) and its askpass socket (a fixed /tmp path
            # by default) per instance, so parallel sessions do not share them.
            "TMPDIR": str(tmp),
            "ARGOCD_ASK_PASS_SOCK": str(workdir / "askpass.sock"),
            # No signature verification configured; GnuPG would want /app/config/gpg.
            "ARGOCD_GPG_ENABLED": "false",
        })
        import requests

        wait_until(lambda: requests.get(f"http://127.0.0.1:{repo_metrics}/healthz?full=true", timeout=5).ok,
                   what="argocd-repo-server", timeout=60, process=repo_server)

        controller_metrics = free_port()
        controller = spawn("argocd-application-controller", [
            str(bin_dir / "argocd"), f"--kubeconfig={cluster.kubeconfig}", "--namespace", NAMESPACE,
            "--redis", redis_address, "--repo-server", f"127.0.0.1:{repo_port}", "--repo-server-plaintext",
            "--metrics-port", str(controller_metrics),
            "--application-namespaces", APPLICATION_NAMESPACES,
            # A handful of apps per session: a few workers each are plenty.
            "--status-processors", str(status_processors), "--operation-processors", str(operation_processors),
            "--logformat", "text", "--loglevel", "info",
        ], log_path=logs / "argocd-application-controller.log", cwd=workdir, env={
            **common_env,
            "ARGOCD_BINARY_NAME": "argocd-application-controller",
            "ARGOCD_FAKE_IN_CLUSTER": "true",
            "KUBECONFIG": str(cluster.kubeconfig),
        })
        wait_until(lambda: requests.get(f"http://127.0.0.1:{controller_metrics}/healthz", timeout=5).ok,
                   what="argocd-application-controller", timeout=90, process=controller)
    except BaseException:
        group.stop()
        raise
    argocd = ArgoCD(cluster=cluster, workdir=workdir, redis=redis_address, repo_server=f"127.0.0.1:{repo_port}",
                    controller_metrics=f"http://127.0.0.1:{controller_metrics}", processes=group,
                    launches=launches)
    log.info("Argo CD (controller, repo server, redis) ready in %.1fs", time.monotonic() - started)
    return argocd


# -- git config repositories ------------------------------------------------------------------------
@dataclass(frozen=True)
class Author:
    name: str
    email: str


CONFIG_AUTHOR = Author("Platform Bot", "platform-bot@example.com")


@dataclass
class ConfigRepo:
    """A local git repository holding an app's manifests, served to Argo CD as ``file://``."""

    path: Path
    branch: str = "main"

    @classmethod
    def create(cls, path: Path, *, branch: str = "main") -> ConfigRepo:
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path, branch)
        repo._git("init", "-q", "-b", branch)
        return repo

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    def _git(self, *args: str, author: Author = CONFIG_AUTHOR) -> str:
        env = {**os.environ, "GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email,
               "GIT_COMMITTER_NAME": author.name, "GIT_COMMITTER_EMAIL": author.email,
               # A developer's own git config (signing, hooks) stays out of the test's commits.
               "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
        return subprocess.run(["git", "-C", str(self.path), *args], check=True, capture_output=True,
                              text=True, env=env).stdout.strip()

    def commit(self, files: Mapping[str, str | None], message: str, *, author: Author = CONFIG_AUTHOR) -> str:
        """Write (or, with None, delete) ``files`` (paths relative to the repo), commit, return the sha."""
        for relative, text in files.items():
            target = self.path / relative
            if text is None:
                self._git("rm", "-q", "--", relative)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            self._git("add", "--", relative)
        self._git("commit", "-q", "--allow-empty", "-m", message, author=author)
        return self.head()

    def head(self) -> str:
        return self._git("rev-parse", "HEAD")


def deployment_manifest(name: str, image: str, *, replicas: int = 1, labels: Mapping[str, str] | None = None,
                        pod_annotations: Mapping[str, str] | None = None,
                        progress_deadline_seconds: int | None = None) -> dict[str, Any]:
    """A Deployment as a config repo holds it (no namespace: the Application's destination gives it)."""
    labels = {"app": name, **(labels or {})}
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": labels, "annotations": dict(pod_annotations or {})},
                     "spec": {"containers": [{"name": name, "image": image}]}},
    }
    if progress_deadline_seconds is not None:
        spec["progressDeadlineSeconds"] = progress_deadline_seconds
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels}, "spec": spec}


def manifests_yaml(*objects: Mapping[str, Any]) -> str:
    """Several objects as one multi-document YAML file."""
    return yaml.safe_dump_all([dict(o) for o in objects], sort_keys=False)
