"""The generated document readers and writers follow the rule spelled out by the generic loop:
defaults and factories, renamed keys, nested models, lists copied, None kept or left out."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, fields

import pytest

from c2c_core.builds import Commit
from c2c_dagster.documents import argocd, builds, delivery, deployments, traceability
from c2c_dagster.documents.base import Document, _read_generic, from_document, keyword, to_document
from c2c_dagster.documents.builds import BuildDocument, CommitRange


def _models() -> list[type]:
    found = []
    for module in (argocd, builds, delivery, deployments, traceability):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Document) and value is not Document \
                    and value.__module__ == module.__name__:
                found.append(value)
    return found


BUILD = {
    "build_id": "team/app/main-7",
    "job_name": "team/app/main",
    "build_number": 7,
    "image_name": "registry.example/team/app",
    "image_tag": "main-7",
    "image_digest": "sha256:" + "a" * 64,
    "platform_digests": [{"platform": "linux/arm64", "digest": "sha256:" + "b" * 64}],
    "commits": [{"commit_id": "c" * 40, "author": "Ada", "email": "ada@example.com", "message": "fix",
                 "timestamp": "2026-01-01T00:00:00Z"}],
    "authors": ["Ada <ada@example.com>"],
    "build_status": "SUCCESS",
    "timestamp": "2026-01-01T00:01:00Z",
    "commit_range": {"from": "d" * 40, "to": "c" * 40},
    "not_declared": "left out",
}


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.__name__)
def test_generated_reader_and_writer_match_the_generic_rule_for_every_model(model: type) -> None:
    # An empty document: every field takes its default (None, "" or a fresh empty list/dict).
    empty = from_document(model, {})
    assert empty == _read_generic(model, {}) == model()
    assert to_document(empty) == to_document(_read_generic(model, {}))
    # Each field set to a value of its kind reads back as the generic loop reads it.
    doc = {}
    for f in fields(model):
        key = f.metadata.get("key") or f.name
        doc[key] = [] if f.metadata.get("many") else "x" if f.metadata.get("nested") is None else None
    doc = {k: v for k, v in doc.items() if v is not None}
    assert from_document(model, doc) == _read_generic(model, doc)


def test_a_build_reads_and_writes_as_stored() -> None:
    build = BuildDocument.from_document(BUILD)
    assert build == _read_generic(BuildDocument, BUILD)
    assert build.commit_range == CommitRange(from_="d" * 40, to="c" * 40)  # "from" is not an identifier
    assert build.commits == [Commit("c" * 40, "Ada", "ada@example.com", "fix", "2026-01-01T00:00:00Z")]
    written = build.to_document()
    assert "not_declared" not in written
    assert written == {k: v for k, v in BUILD.items() if k != "not_declared"} | {
        # omit_none leaves None out, but keep_none fields are written as null
        "duration_ms": None, "build_url": None, "digest_missing": None, "metadata_source": None,
        "ingested_at": None, "ingest_problems": [],
    }


def test_lists_are_copied_and_factories_fresh() -> None:
    doc = {"build_id": "b", "authors": ["Ada"]}
    build = BuildDocument.from_document(doc)
    build.authors.append("Bob")
    assert doc["authors"] == ["Ada"]  # the read dict's list is not aliased
    assert BuildDocument.from_document({}).ingest_problems is not BuildDocument.from_document({}).ingest_problems
    assert to_document(build)["authors"] is not build.authors
    assert BuildDocument.from_document({}).build_id == ""  # a plain default, not None


def test_a_missing_required_field_is_named_as_the_dataclass_names_it() -> None:
    with pytest.raises(TypeError, match="commit_id"):
        from_document(Commit, {"author": "Ada"})


def test_a_post_init_model_is_made_through_its_init() -> None:
    seen = []

    @dataclass(slots=True)
    class Counted(Document):
        name: str | None = keyword()

        def __post_init__(self) -> None:
            seen.append(self.name)

    assert Counted.from_document({"name": "a"}).name == "a"
    assert seen == ["a"]  # a model with __post_init__ is not filled slot by slot


def test_a_frozen_model_reads_as_its_init_makes_it_and_stays_frozen() -> None:
    # Commit: frozen with slots, filled through its slots' descriptors.
    commit = from_document(Commit, {"commit_id": "c", "message": None, "timestamp": "2026-01-01T00:00:00Z"})
    made = Commit("c", timestamp="2026-01-01T00:00:00Z")
    assert commit == made and hash(commit) == hash(made) and commit.message == ""
    assert to_document(commit) == to_document(made)
    with pytest.raises(FrozenInstanceError):
        commit.author = "Ada"  # type: ignore[misc]

    @dataclass(frozen=True, slots=True)
    class Base(Document):
        name: str | None = keyword()

    @dataclass(frozen=True, slots=True)
    class Derived(Base):
        kind: str = keyword(default="k")

    # A field its base class declares is set through the base's slot.
    assert from_document(Derived, {"name": "n"}) == Derived(name="n", kind="k")

    @dataclass(frozen=True)
    class Unslotted:  # no slots to fill: made through its __init__
        name: str | None = keyword()

    assert from_document(Unslotted, {"name": "n"}) == Unslotted("n")
