"""Benchmark: joining 100,000 builds x 20,000 running containers, c2c's indexed join vs a naive
per-container lookup, in the same run.

- c2c: the build documents as the store returns them turned into typed ``BuildDocument``s, a
  ``BuildIndex`` (dicts by digest, platform digest, tag, build id, commit) built once, then
  ``correlate`` over every container (typed records): a few dict lookups per container.
- naive: per container, scan the build list for the digest, then the platform digests, then the
  tag (what a lookup without an index costs, one container at a time). It is timed on a sample
  of containers and scaled to all of them (printed as such): the whole nested loop, 2e9 steps,
  would take far longer than a benchmark should. The sample's results are checked equal to c2c's.
Goal: >= 50x faster and under 5 s. Usage: ``.venv/bin/python benchmarks/traceability_join.py``
"""

from __future__ import annotations

import hashlib
import random
import sys
import time

from c2c_dagster.traceability.correlate import BuildIndex, RunningContainer, RunningPod, correlate

BUILDS = 100_000
CONTAINERS = 20_000
SAMPLE = 100


def digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def make_builds() -> list[dict]:
    builds = []
    for n in range(BUILDS):
        repo = f"registry.example/team{n % 200}/svc{n % 1000}"
        build = {
            "build_id": f"team{n % 200}/svc{n % 1000}/main-{n}",
            "job_name": f"team{n % 200}/svc{n % 1000}/main",
            "build_number": n,
            "build_status": "SUCCESS" if n % 20 else "FAILURE",
            "image_name": repo,
            "image_tag": f"main-{n}",
            "image_digest": digest(f"build-{n}"),
            "commits": [{"commit_id": hashlib.sha1(str(n).encode()).hexdigest()}],
            "authors": ["Ada <ada@example.com>"],
            "timestamp": f"2026-01-01T00:00:{n % 60:02d}Z",
        }
        if n % 5 == 0:  # multi-arch: the index digest plus two platform manifests
            build["platform_digests"] = [{"platform": p, "digest": digest(f"build-{n}-{p}")} for p in ("amd64", "arm64")]
        builds.append(build)
    return builds


def make_containers(rng: random.Random) -> list[RunningContainer]:
    containers = []
    for i in range(CONTAINERS):
        n = rng.randrange(BUILDS)
        repo = f"registry.example/team{n % 200}/svc{n % 1000}"
        kind = i % 20
        if kind == 0:  # an image no CI built
            running, image = digest(f"hand-{i}"), f"{repo}:hotfix"
        elif kind == 1 and n % 5 == 0:  # a node running one platform of a multi-arch build
            running, image = digest(f"build-{n}-arm64"), f"{repo}:main-{n}"
        elif kind == 2:  # a moved tag: matched by tag only
            running, image = digest(f"moved-{i}"), f"{repo}:main-{n}"
        else:
            running, image = digest(f"build-{n}"), f"{repo}@{digest(f'build-{n}')}"
        pods = [RunningPod(f"w{i}-{p}", f"node-{(i + p) % 500}", running, "2026-01-02T00:00:00Z") for p in range(2)]
        containers.append(RunningContainer("prod", f"ns{i % 50}", "Deployment", f"w{i}", "app", image, pods))
    return containers


def naive_match(container: RunningContainer, builds: list[dict]) -> str | None:
    """Per-container lookup without an index: the same key order as c2c's join."""
    running = container.pods[0].digest
    for build in builds:
        if build.get("image_digest") == running:
            return build["build_id"]
    for build in builds:
        if any(p["digest"] == running for p in build.get("platform_digests") or []):
            return build["build_id"]
    repo, _, tag = container.image.rpartition(":")
    for build in builds:
        if build["image_name"] == repo and build["image_tag"] == tag:
            return build["build_id"]
    return None


def main() -> None:
    rng = random.Random(7)
    builds = make_builds()
    containers = make_containers(rng)

    started = time.perf_counter()
    index = BuildIndex.of_documents(builds)
    records = correlate(containers, index, updated_at="2026-02-01T00:00:00Z")
    c2c_seconds = time.perf_counter() - started
    assert len(records) == CONTAINERS

    sample = rng.sample(range(CONTAINERS), SAMPLE)
    started = time.perf_counter()
    naive = {i: naive_match(containers[i], builds) for i in sample}
    sample_seconds = time.perf_counter() - started
    naive_seconds = sample_seconds * CONTAINERS / SAMPLE
    mismatched = [i for i in sample if naive[i] != records[i].build_id]
    assert not mismatched, f"naive and indexed joins disagree on containers {mismatched[:5]}"

    matched = sum(1 for r in records if r.build_id)
    print(f"builds: {BUILDS}, running containers: {CONTAINERS} ({matched} matched to a build)")
    print(f"c2c indexed join (typed documents + index build + correlate): {c2c_seconds:.2f} s")
    print(f"naive per-container lookup: {sample_seconds:.2f} s for {SAMPLE} containers "
          f"-> {naive_seconds:.0f} s scaled to {CONTAINERS}")
    print(f"ratio (naive / c2c): {naive_seconds / c2c_seconds:.0f}x  (goal >= 50x; c2c under 5 s: "
          f"{'yes' if c2c_seconds < 5 else 'NO'})")
    sys.exit(0 if c2c_seconds < 5 and naive_seconds / c2c_seconds >= 50 else 1)


if __name__ == "__main__":
    main()
