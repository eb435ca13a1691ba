"""A whole c2c pipeline on the real services, for scenarios with known truth.

Images are built and pushed with Buildah to the real registry (real digests); builds reach
``ci_builds`` through the Jenkins *emulator* (build-metadata.json as the pipeline archives it);
workloads run on the real control plane, kwok playing the container runtime: it reports as
``imageID`` the digest pinned in the spec, or the one the test puts in the pod annotation
``c2c.test/image-digest`` (the digest the registry serves for the tag, which containerd would
have pulled). Then the real assets run: ci_builds, deployment_snapshots, traceability_records.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from c2c_dagster.cluster.resources import KubeClusterConfig, KubernetesResource
from c2c_dagster.jenkins.assets import ci_builds
from c2c_dagster.jenkins.resources import JenkinsResource
from c2c_dagster.kubernetes.assets import deployment_snapshots
from c2c_dagster.kubernetes.partitions import cluster_partitions
from c2c_dagster.registry.resources import RegistryResource
from c2c_dagster.store import MetadataStoreResource
from c2c_dagster.traceability.assets import traceability_records
from c2c_dagster.traceability.resources import ImagePolicyResource
from c2c_devstack.emulators.jenkins import EmulatedBuild
from c2c_devstack.services import wait_until

CLUSTER = cluster_partitions.get_partition_keys()[0]
DIGEST_ANNOTATION = "c2c.test/image-digest"
# kwok holds a pod carrying this annotation in Pending: a rollout that stays in progress.
HOLD_PENDING = {"pod-ready.stage.kwok.x-k8s.io/delay": "1h"}


def sha(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()


@dataclass
class Pipeline:
    k8s: Any  # the k8s_cluster fixture
    registry: Any  # the oci_registry fixture
    jenkins: Any  # the jenkins_emulator fixture
    workdir: Path
    instance: dg.DagsterInstance
    namespace: str = field(default_factory=lambda: f"trace-{uuid.uuid4().hex[:8]}")
    job: str = "shop/web/main"
    # The embedded store in the work dir unless given (e.g. OpenSearch with an index prefix).
    store_resource: MetadataStoreResource | None = None
    # Nothing configured by default: the registries ci_builds pushed to are internal.
    image_policy: ImagePolicyResource = field(default_factory=ImagePolicyResource)
    _pending_builds: list[str] = field(default_factory=list)
    last_run: Any = None

    def __post_init__(self) -> None:
        from kubernetes import client

        self.api = self.k8s.api_client()
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.core.create_namespace({"metadata": {"name": self.namespace}})
        if self.store_resource is None:
            self.store_resource = MetadataStoreResource(embedded_path=str(self.workdir / "store.sqlite"))
        self.store = self.store_resource.get_store()
        self.repo_prefix = self.namespace

    def close(self) -> None:
        self.core.delete_namespace(self.namespace)
        self.api.close()

    # -- images and builds ---------------------------------------------------------------------
    def repo(self, name: str) -> str:
        return f"{self.repo_prefix}/{name}"

    def ref(self, name: str, tag_or_digest: str) -> str:
        sep = "@" if tag_or_digest.startswith("sha256:") else ":"
        return f"{self.registry.host}/{self.repo(name)}{sep}{tag_or_digest}"

    def push(self, name: str, tag: str, content: str, *, revision: str) -> str:
        """Build and push a real image; the registry's digest."""
        return self.registry.build_and_push(
            self.repo(name), tag, files={"app.txt": content + "\n"},
            labels={"org.opencontainers.image.revision": revision},
        )

    def retag(self, name: str, tag: str, new_tag: str) -> str:
        """Push the same manifest under another tag (a promotion): same digest."""
        self.registry.buildah("push", "--tls-verify=false", self.ref(name, tag), f"docker://{self.ref(name, new_tag)}")
        return self.registry.manifest_digest(self.repo(name), new_tag)

    def ci_build(self, number: int, name: str, tag: str, digest: str | None, *, commit: str,
                 status: str = "SUCCESS", platforms: list[dict] | None = None, at: str | None = None,
                 job: str | None = None, author: tuple[str, str] = ("Ada Lovelace", "ada@example.com"),
                 duration_ms: int = 60_000, previous_commit: str | None = None,
                 committed_at: str | None = None) -> str:
        """A finished Jenkins build (in the emulator) whose archived metadata names this image
        (no metadata archived when ``digest`` is None); ``committed_at``: the commit's time."""
        at = at or f"2026-01-{number:02d}T10:00:00Z"
        job = job or self.job
        build_id = f"{job}-{number}"
        metadata = {
            "build_id": build_id, "job_name": job, "build_number": number, "branch": "main",
            "image_name": f"{self.registry.host}/{self.repo(name)}", "image_tag": tag, "image_digest": digest,
            "commits": [{"commit_id": commit, "author": author[0], "email": author[1], "message": f"change {number}",
                         **({"timestamp": committed_at} if committed_at else {})}],
            "authors": [f"{author[0]} <{author[1]}>"], "build_status": status, "timestamp": at,
            "source_commit": commit,
        }
        if previous_commit:
            metadata["commit_range"] = {"from": previous_commit, "to": commit}
        if platforms:
            metadata["platform_digests"] = platforms
        artifacts = {"build-metadata.json": json.dumps(metadata).encode()} if digest else {}
        from datetime import datetime

        millis = int(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() * 1000)
        self.jenkins.add_build(job, EmulatedBuild(number, status, millis, duration_ms, artifacts=artifacts))
        self._pending_builds.append(f"{job}#{number}")
        return build_id

    # -- the cluster ------------------------------------------------------------------------------
    def deploy(self, name: str, image: str | None, *, digest: str | None = None, replicas: int = 2,
               labels: dict | None = None, hold_new_pods: bool = False,
               containers: list[tuple[str, str, str | None]] | None = None,
               init_containers: list[tuple[str, str, str | None]] | None = None,
               annotations: dict | None = None) -> None:
        """Create or update a Deployment; ``digest`` is what the runtime reports for a tag.

        ``containers``/``init_containers`` (name, image, reported digest) replace the one ``app``
        container; ``annotations`` go on the pod template (e.g. ``c2c.test/image-pull``).
        """
        annotations = dict(annotations or {})
        if digest:
            annotations[DIGEST_ANNOTATION] = digest
        if hold_new_pods:
            annotations.update(HOLD_PENDING)
        regular = containers or [("app", image, None)]
        for container, _, reported in [*regular, *(init_containers or [])]:
            if reported:
                annotations[f"{DIGEST_ANNOTATION}-{container}"] = reported
        pod_spec: dict[str, Any] = {"containers": [{"name": n, "image": i} for n, i, _ in regular]}
        if init_containers:
            pod_spec["initContainers"] = [{"name": n, "image": i} for n, i, _ in init_containers]
        body = {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name, **(labels or {})}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {
                    "metadata": {"labels": {"app": name, **(labels or {})}, "annotations": annotations},
                    "spec": pod_spec,
                },
            },
        }
        existing = [d.metadata.name for d in self.apps.list_namespaced_deployment(self.namespace).items]
        if name in existing:
            self.apps.replace_namespaced_deployment(name, self.namespace, body)
        else:
            self.apps.create_namespaced_deployment(self.namespace, body)

    def wait_running(self, name: str, count: int, *, pending: int = 0) -> None:
        def settled() -> bool:
            pods = [p for p in self.core.list_namespaced_pod(self.namespace, label_selector=f"app={name}").items
                    if p.metadata.deletion_timestamp is None]
            phases = sorted(p.status.phase for p in pods)
            return phases == sorted(["Running"] * count + ["Pending"] * pending)

        wait_until(settled, what=f"{count} running pod(s) of {self.namespace}/{name}", timeout=90)

    # -- the assets ---------------------------------------------------------------------------------
    def resources(self) -> dict[str, Any]:
        return {
            "jenkins": JenkinsResource(url=self.jenkins.url),
            "kubernetes": KubernetesResource(clusters=[KubeClusterConfig(name=CLUSTER, kubeconfig=str(self.k8s.kubeconfig))]),
            "registry": RegistryResource(insecure_registries=[self.registry.host]),
            "store": self.store_resource,
            "image_policy": self.image_policy,
        }

    def run(self, *, only_this_namespace: bool = False, checks_may_block: bool = False) -> list[dict[str, Any]]:
        """Ingest new builds, snapshot the cluster (or only this namespace), join; this
        namespace's running records. ``checks_may_block``: a failed blocking check of the join
        (its records are written, its step fails) is what the test expects, not an error."""
        if self._pending_builds:
            result = dg.materialize([ci_builds], instance=self.instance, partition_key="2026-01-01",
                                    resources=self.resources(),
                                    run_config={"ops": {"ci_builds": {"config": {"builds": self._pending_builds}}}})
            assert result.success
            self._pending_builds = []
        scope = {"ops": {"deployment_snapshots": {"config": {"namespaces": [self.namespace]}}}}
        for asset in (deployment_snapshots, traceability_records):
            config = scope if asset is deployment_snapshots and only_this_namespace else None
            blocking = checks_may_block and asset is traceability_records
            result = dg.materialize([asset], instance=self.instance, partition_key=CLUSTER, resources=self.resources(),
                                    selection=[asset.key], run_config=config, raise_on_error=not blocking)
            assert result.success or blocking
        self.last_run = result
        return self.records()

    def flagged(self) -> dict[str, list[str]]:
        """The last traceability_records run's asset checks: name -> the records of this namespace
        it failed on (the checks judge the whole cluster, which other tests share)."""
        mine = f"{CLUSTER}/{self.namespace}/"
        return {e.check_name: [r for r in e.metadata["records"].value if r.startswith(mine)]
                for e in self.last_run.get_asset_check_evaluations()}

    def records(self, *, running: bool = True) -> list[dict[str, Any]]:
        return sorted(
            (r for r in self.store.find("traceability-metadata", "namespace", self.namespace, limit=10_000)
             if r.get("running", True) == running),
            key=lambda r: (r["workload_name"], r["image_digest"] or ""),
        )

    def release_events(self) -> list[dict[str, Any]]:
        events = [e for e in self.store.find("release-events", "cluster", CLUSTER, limit=10_000)
                  if e["namespace"] == self.namespace]
        return sorted(events, key=lambda e: e["at"])
