"""``RegistryResource.resolve_tags`` against the real OCI registry (Debian's docker-registry, images
pushed with Buildah): one HEAD per distinct tag, counted by the registry's own access log; an
index's platform manifests read (one GET) only when nothing else told them; a missing tag and an
unreachable registry are answers with a reason, not errors, and a registry that is down is not
asked again in the same run. Nothing emulated; the unreachable registry is a closed loopback port."""

from __future__ import annotations

from c2c_dagster.registry.resources import RegistryResource
from c2c_devstack.services import free_port

AGENT = "c2c-registry-client"


def test_one_head_per_tag_and_failures_are_reported_not_raised(oci_registry) -> None:
    host = oci_registry.host
    one = oci_registry.build_and_push("c2c/tags", "one", files={"a.txt": "one\n"})
    two = oci_registry.build_and_push("c2c/tags", "two", files={"a.txt": "two\n"})
    # A multi-arch index under "multi": two platform images and the index Buildah pushes.
    oci_registry.buildah("manifest", "create", "c2c-tags-multi")
    for arch in ("amd64", "arm64"):
        oci_registry.build_and_push("c2c/tags", arch, files={"a.txt": f"{arch}\n"})
        oci_registry.buildah("manifest", "add", "--os", "linux", "--arch", arch, "c2c-tags-multi",
                             f"containers-storage:{host}/c2c/tags:{arch}")
    oci_registry.buildah("manifest", "push", "--all", "--tls-verify=false", "c2c-tags-multi",
                         f"docker://{host}/c2c/tags:multi")
    index = oci_registry.manifest_digest("c2c/tags", "multi")
    arm64 = oci_registry.manifest_digest("c2c/tags", "arm64")
    resource = RegistryResource(insecure_registries=[host])

    before = len(oci_registry.access_log(AGENT))
    lookups = resource.resolve_tags([f"{host}/c2c/tags:one", f"{host}/c2c/tags:two", f"{host}/c2c/tags:one",
                                     f"{host}/c2c/tags:gone", f"{host}/c2c/tags:multi"])
    logged = oci_registry.access_log(AGENT)[before:]
    assert lookups.answers[f"{host}/c2c/tags:one"].digest == one
    assert lookups.answers[f"{host}/c2c/tags:two"].digest == two
    multi = lookups.answers[f"{host}/c2c/tags:multi"]
    assert multi.digest == index and arm64 in multi.platform_digests
    gone = lookups.answers[f"{host}/c2c/tags:gone"]
    assert gone.digest is None and "404 Not Found" in gone.error and list(lookups.errors) == [f"{host}/c2c/tags:gone"]
    # Four distinct tags: four HEADs, plus one GET of the index whose platforms nothing told.
    assert sorted(logged) == sorted([
        "HEAD /v2/c2c/tags/manifests/gone 404", "HEAD /v2/c2c/tags/manifests/multi 200",
        "HEAD /v2/c2c/tags/manifests/one 200", "HEAD /v2/c2c/tags/manifests/two 200",
        f"GET /v2/c2c/tags/manifests/{index} 200"])
    assert lookups.requests == len(logged) == 5

    # An index CI recorded (its platform manifests known): the HEAD alone answers.
    before = len(oci_registry.access_log(AGENT))
    known = resource.resolve_tags([f"{host}/c2c/tags:multi"], known_indexes={index})
    assert known.answers[f"{host}/c2c/tags:multi"].digest == index
    assert oci_registry.access_log(AGENT)[before:] == ["HEAD /v2/c2c/tags/manifests/multi 200"]


def test_an_unreachable_registry_is_asked_once_per_run_and_the_others_still_answer(oci_registry) -> None:
    closed = f"127.0.0.1:{free_port()}"
    resource = RegistryResource(insecure_registries=[closed, oci_registry.host])
    one = oci_registry.build_and_push("c2c/reachable", "v1", files={"a.txt": "reachable\n"})
    lookups = resource.resolve_tags([f"{closed}/shop/a:v1", f"{closed}/shop/b:v1", f"{oci_registry.host}/c2c/reachable:v1"])
    assert lookups.answers[f"{oci_registry.host}/c2c/reachable:v1"].digest == one
    first, second = lookups.answers[f"{closed}/shop/a:v1"], lookups.answers[f"{closed}/shop/b:v1"]
    assert first.digest is None and f"registry {closed} unreachable" in first.error
    assert second.error.startswith("not asked, registry unreachable: ")
    assert sorted(lookups.errors) == [f"{closed}/shop/a:v1", f"{closed}/shop/b:v1"]
