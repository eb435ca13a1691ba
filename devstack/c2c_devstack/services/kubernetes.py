"""A real Kubernetes control plane on loopback, with kwok faking the nodes and what runs on them.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the upstream programs,
built from the Go module proxy by ``scripts/services/kubernetes.sh``; the API server validates,
authorizes (Node,RBAC) and stores exactly as a production one does, the controller manager
turns Deployments into ReplicaSets into Pods, the scheduler binds them. No kubelet runs:
kwok watches the nodes annotated ``kwok.x-k8s.io/node=fake`` and plays the pod lifecycle
described in ``services/k8s/kwok-stages.yaml`` (Running at once, with podIP, hostIP and
per-container imageID/containerID, the way kubelet + containerd report them), and on request
emulates each node's kubelet resource metrics (``services/k8s/kwok-metrics.yaml``) at ``kwok_url``.

PKI is made per cluster with the ``openssl`` CLI (ECDSA P-256, fast to generate):

* one CA, which signs everything and is the API server's ``--client-ca-file``;
* a loopback serving certificate (127.0.0.1/localhost), shared by the API server, the
  controller manager and the scheduler, so every health probe verifies TLS against the CA;
* client certificates: ``kubernetes-admin`` in ``system:masters`` (tests and kwok: kwok
  patches pods and nodes of many "nodes", more than any Node-authorizer identity may), and
  ``system:kube-controller-manager`` / ``system:kube-scheduler``, so those two run under the
  RBAC roles Kubernetes bootstraps for them, as in a kubeadm cluster, and
  ``front-proxy-client`` for the API server's aggregation layer (kubeadm uses a second CA;
  ``--requestheader-allowed-names`` limits who may assert identities, enough for tests);
* the service-account token signing key pair.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import requests
import yaml

from c2c_devstack.services import (
    REPO_ROOT,
    ManagedProcess,
    ProcessGroup,
    free_port,
    wait_until,
)

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

# `kubernetes` is imported inside the functions: importing it takes seconds, and sessions
# that use no cluster should not pay for it.

log = logging.getLogger(__name__)

INSTALL_SCRIPT = REPO_ROOT / "scripts" / "services" / "kubernetes.sh"
KWOK_STAGES = REPO_ROOT / "services" / "k8s" / "kwok-stages.yaml"
# kwok's emulation of the kubelet's /metrics/resource (CPU and memory from pod annotations).
KWOK_METRICS = REPO_ROOT / "services" / "k8s" / "kwok-metrics.yaml"
# Argo CD's real CRD: shared/ sits beside the clone, here and in CI.
ARGOCD_APPLICATION_CRD = REPO_ROOT.parent / "shared" / "argocd" / "application-crd.yaml"

# kwok manages only nodes carrying this annotation; tests can also select them by the label.
KWOK_NODE_KEY = "kwok.x-k8s.io/node"
KWOK_NODE_VALUE = "fake"

SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = ipaddress.ip_network("10.244.0.0/16")  # node i gets 10.244.i.0/24
NODE_IPS = ipaddress.ip_network("172.31.0.0/16")  # node i gets 172.31.0.(i + 10)
ZONES = ("zone-a", "zone-b", "zone-c")
INSTANCE_TYPE = "kwok.fake"


@dataclass
class _Pki:
    """File paths of the cluster's keys and certificates."""

    dir: Path

    def crt(self, name: str) -> Path:
        return self.dir / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.dir / f"{name}.key"

    @property
    def ca(self) -> Path:
        return self.crt("ca")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_pki(directory: Path) -> _Pki:
    """CA, loopback serving cert, client certs and the service-account key pair."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = _Pki(directory)

    def new_key(name: str) -> None:
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-out", str(pki.key(name)), cwd=directory)

    def certificate(name: str, subject: str, extensions: str, *, self_signed: bool = False) -> None:
        # A config of our own (not the system openssl.cnf) so the extensions are exactly
        # these; SKI/AKI included because Python's ssl verifies with X509_STRICT.
        config = directory / f"{name}.cnf"
        config.write_text(
            "[req]\ndistinguished_name = dn\n[dn]\n"
            "[v3]\nsubjectKeyIdentifier = hash\n"
            + ("" if self_signed else "authorityKeyIdentifier = keyid:always\n")
            + extensions
        )
        signer = [] if self_signed else ["-CA", str(pki.ca), "-CAkey", str(pki.key("ca"))]
        _openssl("req", "-x509", "-new", "-key", str(pki.key(name)), "-subj", subject,
                 "-config", str(config), "-extensions", "v3", *signer,
                 "-set_serial", f"0x{secrets.token_hex(16)}", "-days", "365",
                 "-out", str(pki.crt(name)), cwd=directory)

    new_key("ca")
    certificate("ca", "/CN=c2c-test-ca",
                "basicConstraints = critical,CA:TRUE\n"
                "keyUsage = critical,keyCertSign,cRLSign,digitalSignature\n",
                self_signed=True)

    leaf = "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n"
    new_key("serving")
    certificate("serving", "/CN=kube-apiserver",
                leaf + "extendedKeyUsage = serverAuth\n"
                "subjectAltName = IP:127.0.0.1,DNS:localhost,IP:10.96.0.1,DNS:kubernetes,"
                "DNS:kubernetes.default,DNS:kubernetes.default.svc,"
                "DNS:kubernetes.default.svc.cluster.local\n")
    clients = {
        "admin": "/O=system:masters/CN=kubernetes-admin",
        "controller-manager": "/CN=system:kube-controller-manager",
        "scheduler": "/CN=system:kube-scheduler",
        "front-proxy-client": "/CN=front-proxy-client",
    }
    for name, subject in clients.items():
        new_key(name)
        certificate(name, subject, leaf + "extendedKeyUsage = clientAuth\n")

    # Service-account tokens: the API server signs with the private key (and so does the
    # controller manager for legacy token Secrets); both verify with the public one.
    new_key("sa")
    _openssl("pkey", "-in", str(pki.key("sa")), "-pubout", "-out", str(directory / "sa.pub"),
             cwd=directory)
    return pki


def _write_kubeconfig(path: Path, server: str, pki: _Pki, user: str) -> Path:
    """A kubeconfig for ``user``'s client certificate; TLS verified against the cluster CA."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c2c-test", "cluster": {
            "server": server, "certificate-authority": str(pki.ca)}}],
        "users": [{"name": user, "user": {
            "client-certificate": str(pki.crt(user)), "client-key": str(pki.key(user))}}],
        "contexts": [{"name": "c2c-test", "context": {"cluster": "c2c-test", "user": user}}],
        "current-context": "c2c-test",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _install() -> dict[str, Path]:
    """Run the install script (quick when warm); its stdout maps component -> bin dir."""
    result = subprocess.run(
        ["bash", str(INSTALL_SCRIPT)], check=True, stdout=subprocess.PIPE, text=True
    )
    dirs = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return {name: Path(path) for name, path in dirs.items()}


@dataclass
class KubernetesCluster:
    """A running test cluster; ``kubeconfig`` authenticates as a cluster admin."""

    kubeconfig: Path
    server: str
    ca_cert: Path
    workdir: Path
    processes: ProcessGroup = field(repr=False)
    # kwok's server (started with resource_metrics): emulated kubelet resource metrics per node,
    # and /discovery/prometheus.
    kwok_url: str = ""
    _nodes_created: int = field(default=0, repr=False)

    def api_client(self) -> ApiClient:
        """A new API client for the admin kubeconfig; close it (or use ``with``) when done."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def create_nodes(self, n: int = 1, prefix: str = "kwok-node", *,
                     timeout: float = 60) -> list[str]:
        """Create ``n`` kwok nodes and wait until they are Ready and schedulable.

        Each node gets its own InternalIP and pod CIDR (so kwok hands out distinct pod IPs),
        a zone (round-robin over ``ZONES``) and ``INSTANCE_TYPE``; no taints, so pods land
        on them without tolerations.
        """
        from kubernetes import client

        names = []
        with self.api_client() as api:
            core = client.CoreV1Api(api)
            for _ in range(n):
                index = self._nodes_created
                if index >= 256:
                    raise ValueError("pod CIDRs 10.244.0-255.0/24 are all handed out")
                self._nodes_created += 1
                name = f"{prefix}-{index}"
                pod_cidr = f"{POD_CIDR.network_address + index * 256}/24"
                core.create_node({
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {
                        "name": name,
                        "annotations": {KWOK_NODE_KEY: KWOK_NODE_VALUE},
                        "labels": {
                            KWOK_NODE_KEY: KWOK_NODE_VALUE,
                            "type": "kwok",
                            "kubernetes.io/hostname": name,
                            "kubernetes.io/os": "linux",
                            "kubernetes.io/arch": "amd64",
                            "topology.kubernetes.io/zone": ZONES[index % len(ZONES)],
                            "node.kubernetes.io/instance-type": INSTANCE_TYPE,
                        },
                    },
                    "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]},
                    # Nodes may set status on create; kwok's node-initialize stage keeps it.
                    "status": {
                        "addresses": [
                            {"type": "InternalIP",
                             "address": str(NODE_IPS.network_address + 10 + index)},
                            {"type": "Hostname", "address": name},
                        ],
                        "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                        "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                    },
                })
                names.append(name)

            def schedulable(name: str) -> bool:
                node = core.read_node(name)
                ready = any(c.type == "Ready" and c.status == "True"
                            for c in node.status.conditions or [])
                # The API server taints new nodes not-ready:NoSchedule; the node lifecycle
                # controller lifts it once the node is Ready.
                return ready and not node.spec.taints

            for name in names:
                wait_until(lambda name=name: schedulable(name), what=f"kwok node {name}",
                           timeout=timeout)
        return names

    def stop(self) -> None:
        self.processes.stop()

    # Fault hooks: the fault suite kills the API server and starts it again with the same flags
    # (same port, same etcd), as a crashed kube-apiserver is restarted by its kubelet.
    def _apiserver(self) -> ManagedProcess:
        return next(p for p in self.processes.processes if p.name == "kube-apiserver")

    def kill_apiserver(self) -> None:
        """SIGKILL kube-apiserver: open connections are cut, new ones refused."""
        process = self._apiserver()
        process.popen.kill()
        process.popen.wait(timeout=10)

    def start_apiserver(self, timeout: float = 120) -> None:
        """Start kube-apiserver again after ``kill_apiserver``; return once it is ready."""
        dead = self._apiserver()
        process = ManagedProcess.spawn(dead.name, dead.popen.args, log_path=dead.log_path)
        self.processes.processes[self.processes.processes.index(dead)] = process
        pki = _Pki(self.ca_cert.parent)
        wait_until(lambda: requests.get(f"{self.server}/readyz", cert=(str(pki.crt("admin")), str(pki.key("admin"))),
                                        verify=str(self.ca_cert), timeout=5).text == "ok",
                   what="kube-apiserver /readyz after its restart", timeout=timeout, process=process)


def start(workdir: Path, *, nodes: int = 2, resource_metrics: bool = False) -> KubernetesCluster:
    """Start etcd, the control plane and kwok under ``workdir``; return once usable.

    Usable means: API server ready, ``default`` service account present (the controller
    manager works), Argo CD's Application CRD established, ``nodes`` kwok nodes schedulable.
    ``resource_metrics``: kwok also emulates the kubelets' resource metrics at ``kwok_url`` (off by
    default: kwok then keeps a pod cache and its timing changes, which real controllers watching
    the cluster, such as Argo CD's self-heal, notice).
    """
    started = time.monotonic()
    bins = _install()
    pki = _make_pki(workdir / "pki")
    logs = workdir / "logs"
    group = ProcessGroup()
    try:
        cluster = _start(workdir, bins, pki, logs, group, resource_metrics)
        cluster.create_nodes(nodes)
    except BaseException:
        group.stop()
        raise
    log.info("kubernetes test cluster at %s ready in %.1fs", cluster.server,
             time.monotonic() - started)
    return cluster


def _start(workdir: Path, bins: dict[str, Path], pki: _Pki, logs: Path,
           group: ProcessGroup, resource_metrics: bool = False) -> KubernetesCluster:
    k8s, etcd_bin, kwok_bin = bins["kubernetes"], bins["etcd"], bins["kwok"]

    # etcd: single member, loopback only. --unsafe-no-fsync because the data is thrown away
    # with the test session and fsync dominates write latency on CI disks.
    etcd_port, etcd_peer_port = free_port(), free_port()
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    peer_url = f"http://127.0.0.1:{etcd_peer_port}"
    etcd = group.add(ManagedProcess.spawn("etcd", [
        str(etcd_bin / "etcd"),
        "--name=c2c-test",
        f"--data-dir={workdir / 'etcd'}",
        f"--listen-client-urls={etcd_url}",
        f"--advertise-client-urls={etcd_url}",
        f"--listen-peer-urls={peer_url}",
        f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=c2c-test={peer_url}",
        "--unsafe-no-fsync",
        "--log-level=warn",
    ], log_path=logs / "etcd.log"))
    wait_until(lambda: requests.get(f"{etcd_url}/health", timeout=2).json()["health"] == "true",
               what="etcd", timeout=30, interval=0.2, process=etcd)

    api_port = free_port()
    server = f"https://127.0.0.1:{api_port}"
    serving = [f"--tls-cert-file={pki.crt('serving')}",
               f"--tls-private-key-file={pki.key('serving')}"]
    apiserver = group.add(ManagedProcess.spawn("kube-apiserver", [
        str(k8s / "kube-apiserver"),
        f"--etcd-servers={etcd_url}",
        "--bind-address=127.0.0.1",
        f"--secure-port={api_port}",
        # Loopback is what clients reach, but the API server refuses to publish a loopback
        # address as the `kubernetes` Service's endpoint; nothing in-cluster dials it (no
        # pod really runs), so that reconciler is off.
        "--advertise-address=127.0.0.1",
        "--endpoint-reconciler-type=none",
        *serving,
        f"--cert-dir={workdir / 'apiserver'}",
        f"--client-ca-file={pki.ca}",
        "--authorization-mode=Node,RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki.dir / 'sa.pub'}",
        f"--service-account-signing-key-file={pki.key('sa')}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        # Front proxy (kubeadm's settings): lets tests register aggregated APIs, and without
        # it every component logs a missing requestheader CA bundle every few seconds.
        f"--requestheader-client-ca-file={pki.ca}",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={pki.crt('front-proxy-client')}",
        f"--proxy-client-key-file={pki.key('front-proxy-client')}",
        "--allow-privileged=true",  # so tests may submit the privileged pods charts contain
        "--profiling=false",
    ], log_path=logs / "kube-apiserver.log"))
    admin_cert = (str(pki.crt("admin")), str(pki.key("admin")))

    def api_ready() -> bool:
        response = requests.get(f"{server}/readyz", cert=admin_cert, verify=str(pki.ca),
                                timeout=5)
        return response.status_code == 200 and response.text == "ok"

    wait_until(api_ready, what="kube-apiserver /readyz", timeout=120, process=apiserver)

    kubeconfigs = workdir / "kubeconfig"
    kubeconfigs.mkdir(exist_ok=True)
    admin_kubeconfig = _write_kubeconfig(kubeconfigs / "admin.yaml", server, pki, "admin")
    kcm_kubeconfig = _write_kubeconfig(kubeconfigs / "controller-manager.yaml", server, pki,
                                       "controller-manager")
    scheduler_kubeconfig = _write_kubeconfig(kubeconfigs / "scheduler.yaml", server, pki,
                                             "scheduler")

    # Controller manager and scheduler: own loopback ports (their defaults 10257/10259
    # would clash between parallel sessions), our serving cert so probes verify TLS, no
    # leader election (one instance; saves the lease round trips at start).
    kcm_port = free_port()
    kcm = group.add(ManagedProcess.spawn("kube-controller-manager", [
        str(k8s / "kube-controller-manager"),
        f"--kubeconfig={kcm_kubeconfig}",
        f"--authentication-kubeconfig={kcm_kubeconfig}",
        f"--authorization-kubeconfig={kcm_kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={kcm_port}",
        *serving,
        "--leader-elect=false",
        # Each controller acts as its own service account, under the RBAC roles a real
        # cluster gives it, so missing permissions show up here and not in production.
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki.key('sa')}",
        f"--root-ca-file={pki.ca}",
        f"--cluster-signing-cert-file={pki.ca}",
        f"--cluster-signing-key-file={pki.key('ca')}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        # Its default, /usr/libexec/kubernetes/..., would be created on the host.
        f"--flex-volume-plugin-dir={workdir / 'flexvolume'}",
        # All default controllers: without kubelets none misbehaves (node IPAM is off
        # because --allocate-node-cidrs is; the nodes carry their own pod CIDRs).
        "--controllers=*",
        # Tests create objects in bursts; the default 20 QPS makes rollouts crawl.
        "--kube-api-qps=200",
        "--kube-api-burst=400",
    ], log_path=logs / "kube-controller-manager.log"))

    scheduler_port = free_port()
    scheduler = group.add(ManagedProcess.spawn("kube-scheduler", [
        str(k8s / "kube-scheduler"),
        f"--kubeconfig={scheduler_kubeconfig}",
        f"--authentication-kubeconfig={scheduler_kubeconfig}",
        f"--authorization-kubeconfig={scheduler_kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={scheduler_port}",
        *serving,
        "--leader-elect=false",
    ], log_path=logs / "kube-scheduler.log"))

    # kwok: its node leases are the heartbeats the node lifecycle controller watches; with
    # resource_metrics its HTTP server serves the emulated kubelet resource metrics (KWOK_METRICS)
    # on loopback. KWOK_WORKDIR keeps it from reading ~/.kwok/kwok.yaml, which would add a
    # developer's own stages to ours.
    kwok_port = free_port()
    metrics = [f"--config={KWOK_METRICS}", f"--server-address=127.0.0.1:{kwok_port}"] if resource_metrics else []
    kwok = group.add(ManagedProcess.spawn("kwok", [
        str(kwok_bin / "kwok"),
        f"--kubeconfig={admin_kubeconfig}",
        f"--config={KWOK_STAGES}",
        *metrics,
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={KWOK_NODE_KEY}={KWOK_NODE_VALUE}",
        "--node-lease-duration-seconds=40",
        f"--cidr={POD_CIDR}",
    ], log_path=logs / "kwok.log", env={"KWOK_WORKDIR": str(workdir / "kwok")}))

    for process, port in ((kcm, kcm_port), (scheduler, scheduler_port)):
        url = f"https://127.0.0.1:{port}/healthz"
        wait_until(lambda url=url: requests.get(url, verify=str(pki.ca), timeout=2).text == "ok",
                   what=f"{process.name} /healthz", timeout=60, process=process)

    cluster = KubernetesCluster(
        kubeconfig=admin_kubeconfig, server=server, ca_cert=pki.ca, workdir=workdir,
        processes=group, kwok_url=f"http://127.0.0.1:{kwok_port}" if resource_metrics else "",
    )

    from kubernetes import client

    with cluster.api_client() as api:
        # The service account controller creates it: proof the controller manager works,
        # and pods in `default` are admitted only once it exists.
        core = client.CoreV1Api(api)
        wait_until(lambda: core.read_namespaced_service_account("default", "default"),
                   what="default service account", timeout=60, process=kcm)

        _install_crd(api, ARGOCD_APPLICATION_CRD)
        custom = client.CustomObjectsApi(api)
        wait_until(
            lambda: custom.list_cluster_custom_object("argoproj.io", "v1alpha1", "applications"),
            what="applications.argoproj.io served", timeout=60, process=apiserver)

    if kwok.popen.poll() is not None:
        raise RuntimeError(f"kwok exited with {kwok.popen.returncode}\n{kwok.log_tail()}")
    return cluster


def _install_crd(api: ApiClient, path: Path) -> None:
    """Create a CRD from its manifest and wait until the API server reports it Established."""
    from kubernetes import client

    body = yaml.safe_load(path.read_text())
    extensions = client.ApiextensionsV1Api(api)
    # _preload_content=False: the answer is only checked for errors, not deserialized into
    # model objects (large schemas make that slow and have tripped the models before).
    extensions.create_custom_resource_definition(body, _preload_content=False)
    name = body["metadata"]["name"]

    def established() -> bool:
        crd = json.loads(extensions.read_custom_resource_definition(
            name, _preload_content=False).data)
        return any(c["type"] == "Established" and c["status"] == "True"
                   for c in crd.get("status", {}).get("conditions", []))

    wait_until(established, what=f"CRD {name} Established", timeout=60, interval=0.2)


# --- fault hooks ------------------------------------------------------------------------------

@dataclass
class FaultRule:
    """What the fault proxy does to requests whose path and query contain ``match``: answer
    ``status`` (a 500, a 503) without asking the API server, or hold the request until ``release``
    is set (a silent API server; a run kept in flight), at most ``times`` times (None: always)."""

    match: str
    status: int | None = None
    release: threading.Event | None = None
    times: int | None = 1
    hits: int = 0


class FaultProxy:
    """Plain HTTP on loopback in front of a real API server, acting as its admin: tests point a
    kubeconfig at ``url`` and inject faults per request (``rules``); everything else is the real
    API server's answer, byte for byte. Emulated: only the faults themselves."""

    def __init__(self, cluster: KubernetesCluster):
        import http.server

        self.cluster = cluster
        self.rules: list[FaultRule] = []
        self.requests: list[str] = []  # path?query of every request, in order
        self._lock = threading.Lock()
        pki = _Pki(cluster.ca_cert.parent)
        self._session = requests.Session()
        # Per request, not on the session: a REQUESTS_CA_BUNDLE in the environment would win over
        # a session's verify.
        self._tls = {"cert": (str(pki.crt("admin")), str(pki.key("admin"))), "verify": str(cluster.ca_cert)}
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet: tests read ``requests``
                pass

            def _forward(self) -> None:
                rule = proxy._rule_for(self.path)
                if rule is not None and rule.release is not None:
                    rule.release.wait()
                if rule is not None and rule.status is not None:
                    body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                       "message": f"fault proxy: injected {rule.status}", "code": rule.status}).encode()
                    self.send_response(rule.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("accept", "content-type", "impersonate-user")}
                try:
                    answer = proxy._session.request(self.command, proxy.cluster.server + self.path, data=data,
                                                    headers=headers, timeout=60, **proxy._tls)
                except requests.RequestException:
                    # The API server is down: the client sees its connection closed.
                    self.close_connection = True
                    return
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _rule_for(self, path: str) -> FaultRule | None:
        with self._lock:
            self.requests.append(path)
            for rule in self.rules:
                if rule.match in path and (rule.times is None or rule.hits < rule.times):
                    rule.hits += 1
                    return rule
        return None

    def kubeconfig(self, path: Path) -> Path:
        """A kubeconfig for the proxy: no credentials (the proxy holds the admin's)."""
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "proxy", "cluster": {"server": self.url}}],
            "users": [{"name": "proxy", "user": {}}],
            "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "proxy"}}],
            "current-context": "proxy"}))
        return path

    def close(self) -> None:
        for rule in self.rules:
            if rule.release is not None:
                rule.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._session.close()
