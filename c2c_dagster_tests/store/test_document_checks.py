"""The per-index type check and value getters the embedded store runs for every document decide
exactly as the general rule does: plain values pass at once, odd ones get the general answer."""

from __future__ import annotations

import pytest

from c2c_dagster.store.base import field_type_error, values_at, values_getter
from c2c_dagster.store.indices import CI_BUILD_METADATA, DEPLOYMENT_METADATA

SHAPES = [
    {},
    {"commits": None},
    {"commits": []},
    {"commits": [{"commit_id": "a"}, {"commit_id": "b"}, {}]},
    {"commits": [{"commit_id": None}, {"commit_id": ["c", None, "d"]}]},
    {"commits": {"commit_id": "e"}},  # one object, not a list
    {"commits": ["f", {"commit_id": "g"}]},  # a non-object in the list
    {"commits": [[{"commit_id": "h"}]]},  # a list in the list
    {"commits": [{"commit_id": 7}, {"commit_id": {"x": 1}}]},
    {"build_id": "x"},
    {"build_id": ["y", None, "z"]},
    {"build_id": 5},
    {"build_id": {"nested": True}},
    {"replicas": {"ready": 3}},
]


@pytest.mark.parametrize("path", ["commits.commit_id", "build_id", "replicas.ready", "a.b.c", "commits"])
@pytest.mark.parametrize("doc", SHAPES)
def test_values_getter_equals_values_at(path: str, doc: dict) -> None:
    assert values_getter(path)(doc) == values_at(doc, path)


@pytest.mark.parametrize(("doc", "refused"), [
    ({"build_number": 67, "timestamp": "2026-01-31T05:45:18Z", "digest_missing": False}, None),
    ({"build_number": "67", "duration_ms": "-5"}, None),  # numeric strings are coerced, as OpenSearch does
    ({"build_number": [1, "2"]}, None),
    ({"timestamp": 1_769_000_000_000, "ingested_at": "2026-01-31T05:45:18.123+01:00"}, None),
    ({"timestamp": ""}, None),
    ({"digest_missing": "true"}, None),
    ({"commits": [{"timestamp": "2026-01-31T05:45:18Z"}, {"timestamp": None}, {}]}, None),
    ({"build_number": "sixty-seven"}, "[build_number] of type [long]: 'sixty-seven'"),
    ({"build_number": True}, "[build_number] of type [long]: True"),
    ({"build_number": 1.5}, "[build_number] of type [long]: 1.5"),
    ({"build_number": [1, "x"]}, "[build_number] of type [long]: 'x'"),
    ({"timestamp": "yesterday"}, "[timestamp] of type [date]: 'yesterday'"),
    ({"timestamp": {"at": 1}}, "[timestamp] of type [date]"),
    ({"digest_missing": "yes"}, "[digest_missing] of type [boolean]: 'yes'"),
    ({"commits": [{"timestamp": "2026-01-31T05:45:18Z"}, {"timestamp": "soon"}]}, "[commits.timestamp] of type [date]: 'soon'"),
    ({"commits": [[{"timestamp": "later"}]]}, None),  # values_at walks no list in a list: nothing to check
    # The first problem in the mapping's field order is the one reported.
    ({"build_number": "x", "timestamp": "y"}, "[build_number]"),
])
def test_type_check_refuses_what_opensearch_refuses(doc: dict, refused: str | None) -> None:
    problem = field_type_error(CI_BUILD_METADATA, doc)
    if refused is None:
        assert problem is None
    else:
        assert problem is not None and refused in problem and problem.startswith("mapper_parsing_exception")


def test_type_check_of_paths_into_objects() -> None:
    assert field_type_error(DEPLOYMENT_METADATA, {"replicas": {"ready": 3}, "containers": [{"restartCount": 0}]}) is None
    problem = field_type_error(DEPLOYMENT_METADATA, {"containers": [{"restartCount": 0}, {"restartCount": "many"}]})
    assert problem is not None and "[containers.restartCount] of type [integer]: 'many'" in problem
    problem = field_type_error(DEPLOYMENT_METADATA, {"replicas": {"ready": "some"}})
    assert problem is not None and "[replicas.ready]" in problem
