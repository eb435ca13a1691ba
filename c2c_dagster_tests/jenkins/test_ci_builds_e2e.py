"""End to end on real services: git commits -> Buildah build and push to the real registry ->
c2c-build-metadata -> Jenkins emulator serves the build and its archived artifact -> sensor tick ->
ci_builds run -> the document in the real OpenSearch carries the commit range, both authors and
exactly the digest the registry serves for the tag.

Jenkins is the only emulated part; the sensor is evaluated and its run request executed in this
process on a real (temporary) Dagster instance.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from c2c_dagster.jenkins.assets import ci_builds
from c2c_dagster.jenkins.resources import JenkinsResource
from c2c_dagster.jenkins.sensors import jenkins_build_sensor
from c2c_dagster.store import MetadataStoreResource, OpenSearchStore
from c2c_devstack.emulators.jenkins import EmulatedBuild, git_changes
from c2c_devstack.services.dagster import venv_bin

JOB = "Node-JS/master"
AUTHORS = {"ada": ("Ada Lovelace", "ada@example.com"), "bob": ("Bob Kahn", "bob@example.com")}


def git(repo: Path, *args: str, author: str = "ada") -> str:
    name, email = AUTHORS[author]
    env = {**os.environ, "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
           "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env).stdout.strip()


def commit(repo: Path, path: str, content: str, message: str, author: str) -> str:
    (repo / path).write_text(content)
    git(repo, "add", path, author=author)
    git(repo, "commit", "-q", "-m", message, author=author)
    return git(repo, "rev-parse", "HEAD")


def pipeline(repo: Path, registry, number: int, previous: str | None, workdir: Path) -> bytes:
    """What the example Jenkinsfile does: tag, build, push with --digestfile, write the metadata."""
    head = git(repo, "rev-parse", "HEAD")
    image = f"{registry.host}/c2c/node-js"
    jenkins_env = {**os.environ, "JOB_NAME": JOB, "BUILD_NUMBER": str(number), "GIT_COMMIT": head,
                   "GIT_BRANCH": "origin/master", "GIT_URL": "https://git.example/acme/node-js.git",
                   "BUILD_URL": f"https://jenkins.example/job/Node-JS/job/master/{number}/"}
    if previous:
        jenkins_env["GIT_PREVIOUS_SUCCESSFUL_COMMIT"] = previous
    tag = subprocess.run([venv_bin("c2c-build-metadata"), "--repo", str(repo), "--image", image, "--print-tag"],
                         capture_output=True, text=True, check=True, env=jenkins_env).stdout.strip()
    assert tag == f"node-js-master-{number}-{head[:7]}"
    digest_file = workdir / f"digest-{number}"
    registry.build_and_push("c2c/node-js", tag, files={"index.js": (repo / "index.js").read_text()},
                            labels={"org.opencontainers.image.revision": head}, digest_file=digest_file)
    output = workdir / f"build-metadata-{number}.json"
    subprocess.run([venv_bin("c2c-build-metadata"), "--repo", str(repo), "--image", image,
                    "--digest-file", str(digest_file), "--status", "SUCCESS", "--output", str(output)],
                   capture_output=True, text=True, check=True, env=jenkins_env)
    return output.read_bytes()


def test_commit_to_digest_through_the_sensor_into_opensearch(
    tmp_path, oci_registry, jenkins_emulator, opensearch_service
) -> None:
    repo = tmp_path / "node-js"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "master")
    first = commit(repo, "index.js", "console.log(1)\n", "Initial app", "ada")

    # Build 1: the first build takes HEAD alone.
    artifact_1 = pipeline(repo, oci_registry, 1, None, tmp_path)
    jenkins_emulator.add_build(JOB, EmulatedBuild(
        1, "SUCCESS", 1_769_838_318_000, changes=git_changes(repo, None, first),
        git=[{"_class": "hudson.plugins.git.util.BuildData", "remoteUrls": ["https://git.example/acme/node-js.git"],
              "lastBuiltRevision": {"SHA1": first, "branch": [{"SHA1": first, "name": "refs/remotes/origin/master"}]}}],
        artifacts={"build-metadata.json": artifact_1}))

    # Build 2: two authors' commits since the last successful build.
    second = commit(repo, "index.js", "console.log(2)\n", "Faster startup\n\nDetails in the body.", "bob")
    third = commit(repo, "README.md", "docs\n", "Document the app", "ada")
    artifact_2 = pipeline(repo, oci_registry, 2, first, tmp_path)
    jenkins_emulator.add_build(JOB, EmulatedBuild(
        2, "SUCCESS", 1_769_841_918_000, changes=git_changes(repo, first, third),
        artifacts={"build-metadata.json": artifact_2}))

    # Sensor tick, then the run it requests.
    prefix = f"e2e{uuid.uuid4().hex[:6]}-"
    store_resource = MetadataStoreResource(opensearch_url=opensearch_service.url, index_prefix=prefix,
                                           opensearch_replicas=0)
    context = dg.build_sensor_context(resources={"jenkins": JenkinsResource(url=jenkins_emulator.url),
                                                 "store": store_resource})
    tick = jenkins_build_sensor(context)
    assert [r.run_config["ops"]["ci_builds"]["config"]["builds"] for r in tick.run_requests] == [
        ["Node-JS/master#1", "Node-JS/master#2"]]
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        for request in tick.run_requests:
            result = dg.materialize(
                [ci_builds], instance=instance, partition_key=request.partition_key, run_config=request.run_config,
                resources={"jenkins": JenkinsResource(url=jenkins_emulator.url), "store": store_resource},
                tags={"dagster/run_key": request.run_key},
            )
            assert result.success

    store = OpenSearchStore(opensearch_service.url, index_prefix=prefix)
    doc = store.get("ci-build-metadata", "Node-JS/master-2")
    assert [c["commit_id"] for c in doc["commits"]] == [third, second]
    assert doc["authors"] == ["Ada Lovelace <ada@example.com>", "Bob Kahn <bob@example.com>"]
    assert doc["commit_range"] == {"from": first, "to": third}
    # Each commit's committer date, from git through the pipeline tool and Jenkins into the store:
    # where delivery_metrics starts its lead time.
    for c in doc["commits"]:
        committed = int(git(repo, "log", "-1", "--format=%ct", c["commit_id"]))
        assert c["timestamp"] == datetime.fromtimestamp(committed, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    tag = f"node-js-master-2-{third[:7]}"
    assert doc["image_tag"] == tag
    assert doc["image_digest"] == oci_registry.manifest_digest("c2c/node-js", tag)
    assert doc["digest_missing"] is False and doc["ingest_problems"] == []
    # The digest ties back to the commit: the image's revision label is the build's HEAD.
    assert oci_registry.image_config("c2c/node-js", doc["image_digest"])["config"]["Labels"][
        "org.opencontainers.image.revision"] == third

    first_doc = store.get("ci-build-metadata", "Node-JS/master-1")
    assert [c["commit_id"] for c in first_doc["commits"]] == [first]
    assert first_doc["image_digest"] == oci_registry.manifest_digest("c2c/node-js", f"node-js-master-1-{first[:7]}")
    # Reverse lookups the trace CLI will use: by commit and by digest.
    assert [d["build_id"] for d in store.find("ci-build-metadata", "commits.commit_id", second[:10], prefix=True)] == [
        "Node-JS/master-2"]
    assert [d["build_id"] for d in store.find("ci-build-metadata", "image_digest", doc["image_digest"])] == [
        "Node-JS/master-2"]
