"""The whole pipeline on the real services, fresh per test (a namespace and a store of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from c2c_dagster_tests.traceability.pipeline import Pipeline


@pytest.fixture
def pipeline(k8s_cluster, oci_registry, jenkins_emulator, tmp_path: Path) -> Iterator[Pipeline]:
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        p = Pipeline(k8s_cluster, oci_registry, jenkins_emulator, tmp_path, instance)
        try:
            yield p
        finally:
            p.close()
