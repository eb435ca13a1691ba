"""The build-metadata document (seed section 3.6): field names, and the check every copy passes.

The pipeline's ``c2c-build-metadata`` writes it as ``build-metadata.json``; ``ci_builds``
reads the archived copy back from Jenkins and refuses one that fails this check, naming why:
this module is the contract between the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from c2c_core.builds import Commit, is_commit_id
from c2c_core.images import is_digest
from c2c_core.timeutil import parse_time

#: Jenkins' ``Result`` values, plus what a pipeline writes while the build is still running.
BUILD_STATUSES = ("SUCCESS", "UNSTABLE", "FAILURE", "NOT_BUILT", "ABORTED")

REQUIRED_FIELDS: dict[str, type | tuple[type, ...]] = {
    "build_id": str,
    "job_name": str,
    "build_number": int,
    "image_name": str,
    "image_tag": str,
    "image_digest": str,
    "commits": list,
    "authors": list,
    "build_status": str,
    "timestamp": str,
}

OPTIONAL_FIELDS: dict[str, type | tuple[type, ...]] = {
    "branch": (str, type(None)),
    "repo_url": (str, type(None)),
    "build_url": (str, type(None)),
    "commit_range": (dict, type(None)),
    "platform_digests": list,
    "source_commit": (str, type(None)),
}


# (name, the exact types a conforming value has, the types it may have, required), in the order
# errors are reported: the exact types decide the common case with one set look-up per field.
_FIELD_TYPES: tuple[tuple[str, frozenset[type], type | tuple[type, ...], bool], ...] = tuple(
    (name, frozenset(kind if isinstance(kind, tuple) else (kind,)), kind, name in REQUIRED_FIELDS)
    for name, kind in {**REQUIRED_FIELDS, **OPTIONAL_FIELDS}.items()
)
_MISSING = object()


def schema_errors(doc: Any) -> list[str]:
    """Every way ``doc`` departs from the build-metadata schema; empty when it conforms."""
    if not isinstance(doc, Mapping):
        return [f"expected a JSON object, got {type(doc).__name__}"]
    errors: list[str] = []
    for name, exact, kind, required in _FIELD_TYPES:
        value = doc.get(name, _MISSING)
        if type(value) in exact:
            continue
        if value is _MISSING:
            if required:
                errors.append(f"missing field {name!r}")
            continue
        # bool is an int in Python; a build number of `true` is still wrong.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            errors.append(f"field {name!r} has type {type(value).__name__}")
    if errors:
        return errors
    if not is_digest(doc["image_digest"]):
        errors.append(f"image_digest {doc['image_digest']!r} is not sha256:<64 hex>")
    if doc["build_status"] not in BUILD_STATUSES:
        errors.append(f"build_status {doc['build_status']!r} is not one of {', '.join(BUILD_STATUSES)}")
    try:
        if parse_time(doc["timestamp"]) is None:
            errors.append("timestamp is empty")
    except ValueError:
        errors.append(f"timestamp {doc['timestamp']!r} is not ISO 8601")
    if doc["build_number"] < 0:
        errors.append("build_number is negative")
    for i, commit in enumerate(doc["commits"]):
        errors.extend(_commit_errors(i, commit))
    if not all(isinstance(a, str) for a in doc["authors"]):
        errors.append("authors must be strings 'Name <email>'")
    for i, item in enumerate(doc.get("platform_digests") or []):
        if not isinstance(item, Mapping) or not is_digest(item.get("digest")):
            errors.append(f"platform_digests[{i}] needs a sha256 digest")
    return errors


def _commit_errors(i: int, commit: Any) -> list[str]:
    if type(commit) is dict:
        # The common case, decided at once: every seed field a string, a full id, a time if any.
        commit_id, stamp = commit.get("commit_id"), commit.get("timestamp")
        if (type(commit_id) is str and type(commit.get("author")) is str and type(commit.get("email")) is str
                and type(commit.get("message")) is str and is_commit_id(commit_id)
                and (stamp is None or _is_time(stamp))):
            return []
    elif not isinstance(commit, Mapping):
        return [f"commits[{i}] is not an object"]
    errors = [f"commits[{i}].{key} missing or not a string" for key in Commit.seed_fields
              if not isinstance(commit.get(key), str)]
    if isinstance(commit.get("commit_id"), str) and not is_commit_id(commit["commit_id"]):
        errors.append(f"commits[{i}].commit_id {commit['commit_id']!r} is not a full git object id")
    # Optional (documents written before it was recorded have none): the committer date.
    if commit.get("timestamp") is not None and not _is_time(commit["timestamp"]):
        errors.append(f"commits[{i}].timestamp {commit['timestamp']!r} is not an ISO 8601 time")
    return errors


def _is_time(value: Any) -> bool:
    try:
        return isinstance(value, str) and parse_time(value) is not None
    except ValueError:
        return False
