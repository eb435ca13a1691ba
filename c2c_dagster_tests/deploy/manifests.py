"""Helpers shared by the deploy tests: server-side apply of rendered objects to a real API server."""

from __future__ import annotations

from typing import Any

FIELD_MANAGER = "c2c-deploy-tests"


def server_side_apply(api: Any, objects: list[dict], *, dry_run: bool = False) -> list[dict]:
    """``kubectl apply --server-side --force-conflicts [--dry-run=server]`` of every object, in
    order, strict field validation (an unknown field is an error); the API server's answers."""
    from kubernetes.dynamic import DynamicClient

    dynamic = DynamicClient(api)
    answers = []
    for obj in objects:
        resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        answer = resource.server_side_apply(
            body=obj, name=obj["metadata"]["name"], namespace=obj["metadata"].get("namespace"),
            field_manager=FIELD_MANAGER, force_conflicts=True, field_validation="Strict",
            **({"dry_run": "All"} if dry_run else {}),
        )
        answers.append(answer.to_dict())
    return answers


def allowed(api: Any, user: str, verb: str, resource: str, *, group: str = "", namespace: str | None = None,
            subresource: str | None = None) -> bool:
    """A SubjectAccessReview: may ``user`` do this, as the API server's authorizer decides."""
    from kubernetes import client

    attributes: dict[str, Any] = {"verb": verb, "resource": resource, "group": group}
    if namespace:
        attributes["namespace"] = namespace
    if subresource:
        attributes["subresource"] = subresource
    review = client.AuthorizationV1Api(api).create_subject_access_review({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": user, "resourceAttributes": attributes}})
    return bool(review.status.allowed)
