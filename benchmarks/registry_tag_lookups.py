"""Benchmark: what asking the registry about every running tag costs a traceability_records run.

Against the real OCI registry (Debian's docker-registry on loopback, started here): one image per
tag pushed through the OCI distribution API (a config blob and a manifest each, so every tag is
its own digest), then N workloads sharing T tags as ``RunningContainer``s, each pod running its
tag's digest. Measured: what ``read_cluster`` does for tags (``tags.tags_to_ask`` then
``RegistryResource.resolve_tags``), the requests counted twice, by the client and by the
registry's own access log (the registry's count is the one printed), and the wall time. Beside
it, asking once per container instead (no sharing): the same lookups one workload at a time.

Expected: one HEAD per distinct tag, whatever N (single-platform images; an index whose platform
manifests no build recorded costs one GET more). Usage: ``.venv/bin/python benchmarks/registry_tag_lookups.py``
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import requests

from c2c_dagster.registry.resources import RegistryResource
from c2c_dagster.traceability.correlate import RunningContainer, RunningPod
from c2c_dagster.traceability.tags import tags_to_ask
from c2c_devstack.services import registry as registry_service

AGENT = "c2c-registry-client"
CASES = [(200, 50), (200, 200), (1000, 50), (1000, 1000)]  # (workloads, distinct tags)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def push_image(service: registry_service.RegistryService, repo: str, tag: str) -> str:
    """A config-only image (no layer, as ``FROM scratch`` with nothing copied) under ``repo:tag``."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"tag": tag}},
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    config_digest = service.push_blob(repo, config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [],
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": config_digest, "size": len(config)}}).encode()
    put = requests.put(f"{service.url}/v2/{repo}/manifests/{tag}", data=manifest,
                       headers={"Content-Type": OCI_MANIFEST}, timeout=10)
    put.raise_for_status()
    return put.headers["Docker-Content-Digest"]


def workloads(host: str, n: int, digests: dict[str, str]) -> list[RunningContainer]:
    tags = sorted(digests)
    out = []
    for i in range(n):
        tag = tags[i % len(tags)]
        out.append(RunningContainer(
            cluster="prod", namespace=f"team{i % 20}", workload_kind="Deployment", workload_name=f"svc{i}",
            container="app", image=f"{host}/bench/app:{tag}",
            pods=[RunningPod(f"svc{i}-{p}", "node-1", digests[tag], "2026-03-01T00:00:00Z") for p in range(2)]))
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        service = registry_service.start(Path(tmp))
        try:
            resource = RegistryResource(insecure_registries=[service.host])
            most = max(t for _, t in CASES)
            digests = {f"t{i:04d}": push_image(service, "bench/app", f"t{i:04d}") for i in range(most)}
            print(f"registry {service.host}: {most} tags pushed; requests counted in the registry's access log")
            print(f"{'workloads':>9} {'tags':>5} | {'c2c: requests':>13} {'HEAD':>5} {'GET':>4} {'client says':>11} {'wall s':>7} "
                  f"| {'per container: requests':>23} {'wall s':>7}")
            for n, t in CASES:
                shared = {tag: digests[tag] for tag in sorted(digests)[:t]}
                containers = workloads(service.host, n, shared)
                before = len(service.access_log(AGENT))
                started = time.perf_counter()
                lookups = resource.resolve_tags(tags_to_ask(containers).values())
                wall = time.perf_counter() - started
                logged = service.access_log(AGENT)[before:]
                assert not lookups.errors and len(lookups.answers) == t
                assert {a.digest for a in lookups.answers.values()} == set(shared.values())
                before = len(service.access_log(AGENT))
                started = time.perf_counter()
                for container in containers:  # no sharing: one question per workload
                    resource.resolve_tags(tags_to_ask([container]).values())
                naive_wall = time.perf_counter() - started
                naive = len(service.access_log(AGENT)) - before
                print(f"{n:>9} {t:>5} | {len(logged):>13} {sum(x.startswith('HEAD') for x in logged):>5} "
                      f"{sum(x.startswith('GET') for x in logged):>4} {lookups.requests:>11} {wall:>7.2f} "
                      f"| {naive:>23} {naive_wall:>7.2f}")
        finally:
            service.stop()


if __name__ == "__main__":
    main()
