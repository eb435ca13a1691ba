"""The c2c demo (``scripts/demo``): a small platform, built for real, traced by c2c in ``dagster dev``.

What is real: git commits by two authors; images built with Buildah and pushed to a local OCI
registry (the digests are the registry's); a Kubernetes control plane (etcd, kube-apiserver,
controller manager, scheduler) with kwok nodes running the workloads; Argo CD 3.6 (application
controller and repo server) syncing ``shop/web`` from a local GitOps repository, each release a
commit to it; Dagster with its daemon running the sensors, the schedule and the automation.
What is emulated, and says so: Jenkins (an HTTP emulator of its JSON API, serving the builds
and their archived build-metadata.json). kwok plays the container runtime: it reports as imageID
the digest the registry serves (named in the pod template's ``c2c.test/image-digest``).
Each CI build's image carries SLSA provenance written by ``c2c-build-metadata`` and signed by the
real cosign (keyed, no transparency log); the image policy file trusts that key and the emulated
Jenkins job as builder, so ``c2c trace`` shows ``provenance verified`` for them and ``unsigned`` for
the hand-pushed image.

It ends by printing ``c2c trace`` answers and the UI address, then keeps everything running
until Ctrl-C. Everything lives under ``$C2C_DEMO_HOME`` (default ``.demo/`` in the checkout).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from c2c_dagster.store import EmbeddedStore  # noqa: E402
from c2c_devstack.emulators.jenkins import EmulatedBuild, JenkinsEmulator, git_changes  # noqa: E402
from c2c_devstack.services import ManagedProcess, free_port, wait_until  # noqa: E402
from c2c_devstack.services import argocd as argocd_service  # noqa: E402
from c2c_devstack.services.cosign import Cosign  # noqa: E402
from c2c_devstack.services import kubernetes as k8s_service  # noqa: E402
from c2c_devstack.services.dagster import make_dagster_home  # noqa: E402
from c2c_devstack.services import registry as registry_service  # noqa: E402

CLUSTER = "demo"
JOB = "shop/web/main"
NAMESPACE = "shop"
AUTHORS = {"ada": ("Ada Lovelace", "ada@example.com"), "grace": ("Grace Hopper", "grace@example.com")}
GITOPS_APP = ("argocd", "shop-web")  # the Argo CD Application (namespace, name) that deploys shop/web
BIN = Path(sys.executable).parent


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def git(repo: Path, *args: str, author: str = "ada") -> str:
    name, email = AUTHORS[author]
    env = {**os.environ, "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
           "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env).stdout.strip()


def commit(repo: Path, content: str, message: str, author: str) -> str:
    (repo / "server.js").write_text(content)
    git(repo, "add", "server.js", author=author)
    git(repo, "commit", "-q", "-m", message, author=author)
    return git(repo, "rev-parse", "HEAD")


class Demo:
    def __init__(self, home: Path):
        self.home = home
        self.image = ""
        self.cleanup: list = []

    # -- services -------------------------------------------------------------------------------
    def start_services(self) -> None:
        say("starting the OCI registry, the Kubernetes control plane (3 kwok nodes), Argo CD and the Jenkins emulator")
        for name in ("registry", "k8s"):
            (self.home / name).mkdir()
        self.registry = registry_service.start(self.home / "registry")
        self.cleanup.append(self.registry.stop)
        self.cluster = k8s_service.start(self.home / "k8s", nodes=3)
        self.cleanup.append(self.cluster.stop)
        self.argocd = argocd_service.start(self.home / "argocd", self.cluster)
        self.cleanup.append(self.argocd.stop)
        self.jenkins = JenkinsEmulator().start()
        self.cleanup.append(self.jenkins.stop)
        self.image = f"{self.registry.host}/shop/web"
        self.gitops = argocd_service.ConfigRepo.create(self.home / "shop-gitops")
        # The pipeline's signing key, and the image policy that trusts it and the Jenkins job.
        self.cosign = Cosign.install(self.home / "cosign")
        self.keys = self.cosign.generate_key_pair(self.home / "keys")
        self.policy_file = self.home / "image-policy.yaml"
        self.policy_file.write_text(f"trusted_keys: [{self.keys.public}]\n"
                                    f"trusted_builders: ['{self.jenkins.job_url(JOB)}']\n")
        say(f"registry {self.registry.url}, API server {self.cluster.server}, Argo CD (repo server "
            f"{self.argocd.repo_server}), Jenkins emulator {self.jenkins.url}")

    # -- CI: real commits, real images, the pipeline's metadata step ----------------------------
    def pipeline(self, repo: Path, number: int, previous: str | None, *, result: str = "SUCCESS") -> dict:
        head = git(repo, "rev-parse", "HEAD")
        env = {**os.environ, "JOB_NAME": JOB, "BUILD_NUMBER": str(number), "GIT_COMMIT": head,
               "GIT_BRANCH": "origin/main", "GIT_URL": "https://git.example/shop/web.git",
               "BUILD_URL": f"{self.jenkins.job_url(JOB)}{number}/", "JOB_URL": self.jenkins.job_url(JOB)}
        if previous:
            env["GIT_PREVIOUS_SUCCESSFUL_COMMIT"] = previous
        tag = subprocess.run([str(BIN / "c2c-build-metadata"), "--repo", str(repo), "--image", self.image, "--print-tag"],
                             capture_output=True, text=True, check=True, env=env).stdout.strip()
        digest_file = self.home / f"digest-{number}"
        self.registry.build_and_push("shop/web", tag, files={"server.js": (repo / "server.js").read_text()},
                                     labels={"org.opencontainers.image.revision": head}, digest_file=digest_file)
        output = self.home / f"build-metadata-{number}.json"
        predicate = self.home / f"provenance-{number}.predicate.json"
        subprocess.run([str(BIN / "c2c-build-metadata"), "--repo", str(repo), "--image", self.image,
                        "--digest-file", str(digest_file), "--status", result, "--output", str(output),
                        "--provenance", str(self.home / f"provenance-{number}.intoto.json"),
                        "--provenance-predicate", str(predicate)],
                       capture_output=True, text=True, check=True, env=env)
        metadata = json.loads(output.read_text())
        # The Jenkinsfile's Provenance stage: cosign signs the predicate and attaches it to the digest.
        self.cosign.attest(self.keys, f"{self.image}@{metadata['image_digest']}", predicate)
        started = int(datetime.now(UTC).timestamp() * 1000) - (10 - number) * 60_000
        self.jenkins.add_build(JOB, EmulatedBuild(
            number, result, started, changes=git_changes(repo, previous, head),
            git=[{"_class": "hudson.plugins.git.util.BuildData", "remoteUrls": ["https://git.example/shop/web.git"],
                  "lastBuiltRevision": {"SHA1": head, "branch": [{"SHA1": head, "name": "refs/remotes/origin/main"}]}}],
            artifacts={"build-metadata.json": output.read_bytes()}))
        say(f"build {JOB}-{number}: {len(metadata['commits'])} commit(s), pushed {tag} = {metadata['image_digest'][:19]}…")
        return metadata

    def build_history(self) -> list[dict]:
        repo = self.home / "shop-web"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        first = commit(repo, "console.log('v1')\n", "Serve the catalogue", "ada")
        builds = [self.pipeline(repo, 1, None)]
        commit(repo, "console.log('v2')\n", "Add a cart endpoint", "grace")
        second = commit(repo, "console.log('v2.1')\n", "Fix cart totals", "ada")
        builds.append(self.pipeline(repo, 2, first))
        commit(repo, "console.log('v3')\n", "Checkout flow\n\nBehind a feature flag.", "grace")
        builds.append(self.pipeline(repo, 3, second))
        return builds

    # -- CD: a GitOps release through Argo CD, two workloads deployed by hand ------------------
    def deploy(self, builds: list[dict]) -> None:
        from kubernetes import client

        with self.cluster.api_client() as api:
            client.CoreV1Api(api).create_namespace({"metadata": {"name": NAMESPACE}})
            apps = client.AppsV1Api(api)
            older = builds[1]
            hand_pushed = self.registry.build_and_push("shop/legacy-cron", "latest", files={"run.sh": "echo hi\n"})
            workloads = [
                # Pinned by digest, one build behind.
                ("worker", f"{self.image}@{older['image_digest']}", None, 2),
                # Pushed by hand, tagged latest: no build made it.
                ("legacy", f"{self.registry.host}/shop/legacy-cron:latest", hand_pushed, 1),
            ]
            for name, image, digest, replicas in workloads:
                apps.create_namespaced_deployment(NAMESPACE, self._deployment(name, image, digest, replicas))
        self.release(builds[1], author="grace")
        self.argocd.create_application(
            *GITOPS_APP, dest_namespace=NAMESPACE,
            sources=[{"repoURL": self.gitops.url, "path": "shop/web", "targetRevision": "main"}])
        app = self.argocd.wait_for_operation(*GITOPS_APP, revision=self.gitops.head(), timeout=120)
        say(f"Argo CD synced {GITOPS_APP[0]}/{GITOPS_APP[1]} at config commit {self.gitops.head()[:12]}: "
            f"{app['status']['operationState']['message']}")
        say(f"deployed {NAMESPACE}/web (3 pods, build 2, by Argo CD), {NAMESPACE}/worker (2 pods, build 2, by hand), "
            f"{NAMESPACE}/legacy (hand-pushed)")

    def _deployment(self, name: str, image: str, digest: str | None, replicas: int) -> dict:
        # kwok plays the container runtime: the pod annotation names the digest a kubelet's
        # containerd would have pulled for the tag.
        annotations = {"c2c.test/image-digest": digest} if digest else {}
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "labels": {"app": name}},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                         "template": {"metadata": {"labels": {"app": name}, "annotations": annotations},
                                      "spec": {"containers": [{"name": name, "image": image}]}}}}

    def release(self, build: dict, *, author: str) -> str:
        """A release is a commit to the GitOps repo naming the build's image tag."""
        manifest = self._deployment("web", f"{self.image}:{build['image_tag']}", build["image_digest"], 3)
        name, email = AUTHORS[author]
        return self.gitops.commit({"shop/web/deployment.yaml": argocd_service.manifests_yaml(manifest)},
                                  f"Release shop/web {build['image_tag']}", author=argocd_service.Author(name, email))

    # -- Dagster ----------------------------------------------------------------------------------
    def dagster_env(self, port: int) -> dict[str, str]:
        # The shipped run queue limits too: the demo's scans and post-sync snapshots queue as in
        # production; the storages created before the webserver and daemon open them at once.
        dagster_home = make_dagster_home(self.home / "dagster_home")
        env = {k: v for k, v in os.environ.items() if not k.startswith("C2C_OPENSEARCH")}
        env.update({
            "DAGSTER_HOME": str(dagster_home),
            "C2C_STORE_PATH": str(self.home / "store.sqlite"),
            "C2C_JENKINS_URL": self.jenkins.url,
            "C2C_KUBECONFIG": str(self.cluster.kubeconfig),
            "C2C_CLUSTER_NAME": CLUSTER,
            "C2C_INSECURE_REGISTRIES": self.registry.host,
            "C2C_IMAGE_POLICY_FILE": str(self.policy_file),
            # A scan every minute, so the demo does not wait ten for its first snapshot.
            "C2C_SCAN_CRON": os.environ.get("C2C_SCAN_CRON", "* * * * *"),
            # Automation every 5 s, not Dagster's 30: with a scan a minute, a 30 s tick can keep
            # falling while a scan runs, and the records wait for a tick that finds none.
            "C2C_AUTOMATION_INTERVAL_SECONDS": os.environ.get("C2C_AUTOMATION_INTERVAL_SECONDS", "5"),
            "C2C_UI_PORT": str(port),
        })
        return env

    def run(self) -> int:
        self.start_services()
        builds = self.build_history()
        self.deploy(builds)
        port = int(os.environ.get("C2C_UI_PORT", "3000"))
        env = self.dagster_env(port)
        say("starting dagster dev: the Jenkins and Argo CD sensors, the scan schedule and the automation run in its daemon")
        dagster = ManagedProcess.spawn("dagster dev", [str(BIN / "dagster"), "dev", "-w", str(REPO_ROOT / "workspace.yaml"),
                                                        "-h", "127.0.0.1", "-p", str(port)],
                                       log_path=self.home / "dagster-dev.log", env=env, cwd=REPO_ROOT)
        self.cleanup.append(dagster.stop)
        store = EmbeddedStore(self.home / "store.sqlite")

        def traced(revision: str) -> bool:
            """All three workloads are joined, and the release is rolled out: every running web
            record is build 3's, at that config revision."""
            running = [r for r in store.find("traceability-metadata", "namespace", NAMESPACE) if r.get("running", True)]
            web = [r for r in running if r["workload_name"] == "web"]
            return {r["workload_name"] for r in running} == {"web", "worker", "legacy"} and all(
                r.get("argocd_revision") == revision and r.get("build_id") == builds[2]["build_id"] for r in web
            ) and all(r.get("provenance") for r in running)

        wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok,
                   what="the Dagster UI", timeout=180, process=dagster)
        say(f"Dagster UI: http://127.0.0.1:{port}")
        # The next release while c2c watches: a commit to the GitOps repo, which Argo CD syncs
        # (the refresh annotation is what its git webhook would set), then the Argo CD sensor
        # records the sync and asks for a post-sync snapshot, and the automation joins it.
        release = self.release(builds[2], author="ada")
        started = time.monotonic()
        self.argocd.refresh(*GITOPS_APP)
        self.argocd.wait_for_operation(*GITOPS_APP, revision=release, timeout=120)
        say(f"released {builds[2]['image_tag']}: config commit {release[:12]}, synced by Argo CD in "
            f"{time.monotonic() - started:.1f}s (waiting for the sensor ticks, the post-sync snapshot and the join…)")
        wait_until(lambda: traced(release), what="traceability records for shop/web", timeout=600, interval=5,
                   process=dagster)

        trace_env = {**env}
        for args in (["--workload", f"{CLUSTER}/{NAMESPACE}/web"], ["--commit", builds[1]["commits"][0]["commit_id"][:10]],
                     ["--workload", f"{NAMESPACE}/legacy"]):
            print(f"\n$ c2c trace {' '.join(args)}", flush=True)
            subprocess.run([str(BIN / "c2c"), "trace", *args], env=trace_env, check=False)
        say(f"ready. Dagster UI: http://127.0.0.1:{port} — asset graph: ci_builds -> traceability_records <- "
            f"deployment_snapshots, with its checks. Ctrl-C stops everything.")
        if os.environ.get("C2C_DEMO_EXIT_WHEN_READY"):
            return 0
        try:
            while dagster.popen.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        return 0

    def stop(self) -> None:
        for stop in reversed(self.cleanup):
            try:
                stop()
            except Exception as exc:  # noqa: BLE001 - keep stopping the rest
                say(f"while stopping: {exc}")


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (a service manager, a test) stops as cleanly as Ctrl-C."""
    raise KeyboardInterrupt


def main() -> int:
    home = Path(os.environ.get("C2C_DEMO_HOME", REPO_ROOT / ".demo"))
    # Each demo starts from a clean slate: a new cluster, registry and store.
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    signal.signal(signal.SIGTERM, _interrupt)
    demo = Demo(home)
    try:
        return demo.run()
    finally:
        demo.stop()


if __name__ == "__main__":
    sys.exit(main())
